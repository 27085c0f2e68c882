import t from 'tap'
import { readFileSync } from 'node:fs'
import { Testing } from '../stacks/cdktf.js'
import { addForensicsStacks } from '../stacks/index.js'
import { inspectionUploadPattern } from '../stacks/inspection.js'
import { parseConfig } from '../forensics/config.js'
import { inspectionFromEnv, INSPECTION_ENV } from '../forensics/inspection/inspection-env.js'
import type { PolicyStatement } from '../stacks/policy.js'

type Resources = Record<string, Record<string, Record<string, unknown>>>
const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
const inspection = {
  enabled: true,
  buckets: [{ bucket: 'uploads-prod', prefixes: ['incoming/', 'partners/'] }, { bucket: 'member-uploads', account: '222222222222' }],
  rules: ['s3://forensics-rules-111111111111/yara/uploads.yar'],
  iocs: ['s3://forensics-rules-111111111111/iocs/sha256.txt'],
  minSeverity: 'medium',
}

function synth(c: Record<string, unknown>): { forensics: Resources; members: Resources[] } {
  const app = Testing.app()
  const stacks = addForensicsStacks(app, parseConfig(c))
  const res = (text: string): Resources => (JSON.parse(text) as { resource: Resources }).resource
  return { forensics: res(Testing.synth(stacks.forensics)), members: stacks.members.map((m) => res(Testing.synth(m))) }
}
const statements = (policy: unknown): PolicyStatement[] => (JSON.parse(policy as string) as { Statement: PolicyStatement[] }).Statement
const policyOf = (R: Resources, role: string): PolicyStatement[] =>
  Object.values(R.aws_iam_role_policy).filter((p) => String(p.role).includes(`aws_iam_role.${role}_role_`)).flatMap((p) => statements(p.policy))

const on = synth({ ...raw, inspection })
const off = synth(raw)

t.test('off unless inspection.enabled: no function, no rule, no notifications', async (t) => {
  t.notOk(Object.values(off.forensics.aws_lambda_function).some((f) => f.function_name === 'forensics-inspector'))
  t.notOk(Object.values(off.forensics.aws_cloudwatch_event_rule).some((r) => String(r.name).includes('inspection')))
  t.notOk(Object.values(off.forensics.aws_s3_bucket_notification ?? {}).some((n) => !String(n.bucket).startsWith('${')), 'no notification on any inspected (named) bucket')
  t.notOk(Object.values(off.forensics.aws_cloudwatch_event_rule).some((r) => String(r.event_pattern).includes('Object Created')), 'nothing forwards uploads')
})

t.test('the inspector function: arm64 Node.js 22, its config in one variable, routed like a capture', async (t) => {
  const [, fn] = Object.entries(on.forensics.aws_lambda_function).find(([, f]) => f.function_name === 'forensics-inspector') ?? []
  t.ok(fn)
  t.match(fn, { architectures: ['arm64'], runtime: 'nodejs22.x' })
  const env = (fn?.environment as { variables: Record<string, string> }).variables
  const parsed = inspectionFromEnv({ [INSPECTION_ENV]: env[INSPECTION_ENV] })
  t.match(parsed, { enabled: true, minSeverity: 'medium', rules: [{ bucket: 'forensics-rules-111111111111', key: 'yara/uploads.yar' }] })
  const recorder = Object.values(on.forensics.aws_lambda_function).find((f) => f.function_name === 'forensics-custody-recorder')
  t.same(JSON.parse((recorder?.environment as { variables: Record<string, string> }).variables.FORENSICS_CAPTURE_FUNCTIONS), { 'object-versions': 'forensics-object-versions' })
})

t.test('the uploads rule matches inspected buckets and prefixes only, on the intake bus', async (t) => {
  const rule = Object.values(on.forensics.aws_cloudwatch_event_rule).find((r) => r.name === 'forensics-inspection-uploads')
  t.ok(rule)
  t.same(JSON.parse(rule?.event_pattern as string), inspectionUploadPattern(parseConfig({ ...raw, inspection }).inspection.buckets))
  t.same(JSON.parse(rule?.event_pattern as string).detail.$or[0], { bucket: { name: ['uploads-prod'] }, object: { key: [{ prefix: 'incoming/' }, { prefix: 'partners/' }] } })
  t.match(String(rule?.event_bus_name), /aws_cloudwatch_event_bus\.intake-bus/)
  const target = Object.values(on.forensics.aws_cloudwatch_event_target).find((x) => x.target_id === 'inspector')
  t.match(target, { dead_letter_config: { arn: /aws_sqs_queue/ } })
  // both the forensics account and the member account forward uploads of their regions
  const forwards = (R: Resources): boolean => Object.values(R.aws_cloudwatch_event_rule ?? {}).some((r) => String(r.event_pattern).includes('"Object Created"') && String(r.name).includes('inspection-uploads'))
  t.ok(forwards(on.forensics) && forwards(on.members[0]))
})

t.test('notifications are enabled by the stack of the account owning each bucket', async (t) => {
  // (the evidence and log buckets' own notifications are referenced by id, not by name)
  t.same(Object.values(on.forensics.aws_s3_bucket_notification ?? {}).filter((n) => !String(n.bucket).startsWith('${')).map((n) => [n.bucket, n.eventbridge]), [['uploads-prod', true]])
  t.same(Object.values(on.members[0].aws_s3_bucket_notification ?? {}).map((n) => [n.bucket, n.eventbridge]), [['member-uploads', true]])
})

t.test('IAM: the inspector reads inspected prefixes and its rule objects, nothing else; the recorder may chain captures', async (t) => {
  const own = policyOf(on.forensics, 'inspector')
  const reads = own.find((s) => s.Sid === 'ReadInspectedUploads')
  t.same(reads?.Resource, ['arn:aws:s3:::uploads-prod/incoming/*', 'arn:aws:s3:::uploads-prod/partners/*', 'arn:aws:s3:::member-uploads/*'])
  t.same(own.find((s) => s.Sid === 'ReadInspectionRules')?.Resource, ['arn:aws:s3:::forensics-rules-111111111111/yara/uploads.yar', 'arn:aws:s3:::forensics-rules-111111111111/iocs/sha256.txt'])
  t.notOk(own.some((s) => JSON.stringify(s.Resource).includes('evidence')), 'no evidence access at all')
  t.notOk(own.some((s) => [s.Action].flat().some((a) => String(a).includes('*') || /^s3:(Put|Delete)/.test(String(a)))), 'no wildcard action, no S3 write')
  const recorder = policyOf(on.forensics, 'custody-recorder')
  t.match(recorder.find((s) => s.Sid === 'ChainInspectionCaptures'), { Action: 'lambda:InvokeFunction', Resource: /aws_lambda_function\.object-versions/ })
  t.notOk(policyOf(off.forensics, 'custody-recorder').some((s) => s.Sid === 'ChainInspectionCaptures'), 'only with inspection enabled')
  const ov = policyOf(on.forensics, 'object-versions').find((s) => s.Sid === 'ReadTargetVersions')
  t.ok([ov?.Resource].flat().includes('arn:aws:s3:::uploads-prod/*'), 'the chained capture may read the inspected bucket')
})
