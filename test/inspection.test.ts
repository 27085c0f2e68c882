import t from 'tap'
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DeleteObjectCommand, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3'
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { inspectionUploadPattern } from '../stacks/inspection.js'
import { useEmulator } from './fixtures/emulator.js'
import { runCli } from './fixtures/cli.js'
import { EICAR, KNOWN_BAD, KNOWN_BAD_SHA256, TEST_RULES, UPLOADS, inspectionTestConfig, inspectionWorld, objectCreatedEvent, type InspectionWorld } from './fixtures/inspection/inspection.js'
import { spawnSync } from 'node:child_process'
import { sha256Hex } from '../forensics/hash.js'
import { bundleHandlers } from '../stacks/bundle.js'
import { inspectionEnvironment } from '../forensics/inspection/inspection-env.js'
import { parseConfig } from '../forensics/config.js'
import { readCommittedCapture } from '../forensics/capture.js'
import { Inspector } from '../forensics/inspection/inspector.js'
import type { InspectionResult, InspectionFinding } from '../forensics/inspection/inspection-result.js'
import type { RoutedInspection } from '../forensics/inspection/route-inspection.js'
import type { InvocationOutcome } from '../forensics/runtime/local-runtime.js'

const emulator = await useEmulator(t)
// the SDK's credential chain reads process.env (as in Lambda): point it at the emulator
const savedEnv = { ...process.env }
Object.assign(process.env, emulator.env())
t.teardown(() => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k]
  Object.assign(process.env, savedEnv)
})

/** Runs one upload event through the runtime; returns every outcome, by function. */
async function inspectUpload(w: InspectionWorld, key: string, opts: { size?: number; versionId?: string } = {}): Promise<Record<string, InvocationOutcome[]>> {
  const before = w.runtime.outcomes.length
  w.runtime.invokeAsync('inspector', objectCreatedEvent(UPLOADS, key, opts))
  await w.runtime.idle()
  const by: Record<string, InvocationOutcome[]> = {}
  for (const o of w.runtime.outcomes.slice(before)) (by[o.key] ??= []).push(o)
  return by
}

const resultOf = (o: InvocationOutcome): InspectionResult => o.record.responsePayload as InspectionResult
const routedOf = (o: InvocationOutcome): RoutedInspection => o.record.responsePayload as RoutedInspection

async function dlqBodies(w: InspectionWorld): Promise<Record<string, unknown>[]> {
  const out = await w.sqs.send(new ReceiveMessageCommand({ QueueUrl: w.side.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body as string) as Record<string, unknown>)
}

t.test('a YARA hit goes to the SIEM as an OCSF Detection Finding and its object becomes locked evidence', async (t) => {
  const w = await inspectionWorld(emulator)
  const versionId = await w.upload('in/invoice.pdf.exe', EICAR)
  const by = await inspectUpload(w, 'in/invoice.pdf.exe', { size: EICAR.length, versionId })

  const r = resultOf(by.inspector[0])
  t.equal(by.inspector[0].condition, 'Success')
  t.match(r.verdict, { verdict: 'hit', severity: 'high', sha256: sha256Hex(EICAR), size: EICAR.length, object: { bucket: UPLOADS, key: 'in/invoice.pdf.exe', versionId } })
  t.same(r.verdict.rules.map((m) => m.rule), ['eicar_test_file'])
  t.equal(r.capture?.caseId, 'inspection-inspected-uploads-2026-12-02')
  t.equal(by.inspector[0].destination.type, 'lambda', 'OnSuccess is the custody recorder')

  // the recorder routed it: one finding published, one capture chained
  const routed = by['custody-recorder'].map(routedOf).find((x) => x.kind === 'inspection') as RoutedInspection
  t.match(routed, { verdict: 'hit', published: 1, counted: false, capture: { caseId: r.capture?.caseId } })
  const finding = w.siem.messages.find((m) => (m.document as InspectionFinding).schema === 'forensics.inspection-finding/v1')?.document as InspectionFinding
  t.match(finding, {
    class_uid: 2004, class_name: 'Detection Finding', severity: 'High', severity_id: 4,
    finding_info: { types: ['yara:eicar_test_file'] },
    resources: [{ uid: `arn:aws:s3:::${UPLOADS}/in/invoice.pdf.exe`, type: 'AWS::S3::Object', data: { versionId } }],
    evidences: [{ file: { hashes: [{ algorithm: 'SHA-256', value: sha256Hex(EICAR) }] } }],
  })

  // the chained object-versions capture committed the bytes, sealed by the recorder
  t.equal(by['object-versions']?.[0]?.condition, 'Success', 'the capture ran')
  const captured = by['object-versions'][0].record.responsePayload as { caseId: string; captureId: string }
  const committed = await readCommittedCapture(w.store, captured.caseId, captured.captureId)
  t.ok(committed, 'manifest committed')
  t.ok(committed?.manifest.artifacts.some((a) => a.sha256 === sha256Hex(EICAR)), 'the uploaded bytes are an artifact with the same SHA-256')
  t.ok(w.siem.messages.some((m) => m.kind === 'capture-summary'), 'the capture was sealed and summarized')
})

t.test('an IOC hit: a file listed by SHA-256 only', async (t) => {
  const w = await inspectionWorld(emulator)
  await w.upload('in/tool.bin', KNOWN_BAD)
  const by = await inspectUpload(w, 'in/tool.bin')
  const r = resultOf(by.inspector[0])
  t.match(r.verdict, { verdict: 'hit', severity: 'high', sha256: KNOWN_BAD_SHA256, rules: [], iocs: [{ sha256: KNOWN_BAD_SHA256, list: 's3://inspection-rules/iocs/sha256.txt' }] })
  const finding = w.siem.messages[0]?.document as InspectionFinding
  t.same(finding.finding_info.types, ['ioc:s3://inspection-rules/iocs/sha256.txt'])
  t.equal(by['object-versions']?.[0]?.condition, 'Success', 'an IOC hit chains into a capture too')
})

t.test('a hit below minSeverity is reported but starts no capture', async (t) => {
  const w = await inspectionWorld(emulator, { config: inspectionTestConfig({ minSeverity: 'critical' }) })
  await w.upload('in/a.txt', EICAR)
  const by = await inspectUpload(w, 'in/a.txt')
  t.equal(resultOf(by.inspector[0]).verdict.verdict, 'hit')
  t.equal(resultOf(by.inspector[0]).capture, undefined)
  t.equal(by['object-versions'], undefined, 'no capture')
  t.equal(w.siem.messages.length, 1, 'the finding is still sent')
})

t.test('a clean file is counted, not sent (unless reportClean)', async (t) => {
  const w = await inspectionWorld(emulator)
  await w.upload('in/report.csv', 'date,amount\n2026-12-01,10\n')
  const by = await inspectUpload(w, 'in/report.csv')
  t.equal(resultOf(by.inspector[0]).verdict.verdict, 'clean')
  t.match(routedOf(by['custody-recorder'][0]), { kind: 'inspection', verdict: 'clean', published: 0, counted: true })
  t.equal(w.siem.messages.length, 0, 'nothing on the SIEM')
  t.equal(by['object-versions'], undefined)

  const loud = await inspectionWorld(emulator, { config: inspectionTestConfig({ reportClean: true }) })
  const by2 = await inspectUpload(loud, 'in/report.csv')
  t.match(routedOf(by2['custody-recorder'][0]), { verdict: 'clean', published: 1, counted: false })
  t.match(loud.siem.messages[0].document, { severity: 'Informational', finding_info: { types: ['inspection-clean'] } })
})

t.test('an oversized file is skipped without being read and reported as such', async (t) => {
  const w = await inspectionWorld(emulator)
  const big = Buffer.alloc(5000, 'A')
  await w.upload('in/big.iso', big)
  // the size in the event decides before any read; without it, the GetObject length does
  for (const size of [5000, undefined]) {
    w.siem.messages.length = 0
    const by = await inspectUpload(w, 'in/big.iso', size === undefined ? {} : { size })
    const v = resultOf(by.inspector[0]).verdict
    t.match(v, { verdict: 'skipped-too-large', size: 5000 })
    t.equal(v.sha256, undefined, 'not hashed: not read')
    t.match(v.reason, /over the inspection size cap of 4096 bytes/)
    t.equal(w.siem.messages.length, 1, 'an uninspected upload is news for the SIEM')
    t.equal(by['object-versions'], undefined)
  }
})

t.test('a corrupt rule file: clear error at load, nothing inspected, the event ends on the dead-letter queue', async (t) => {
  const w = await inspectionWorld(emulator, { rules: `${TEST_RULES}\nrule broken { strings: $a = "x" condition: $b }\n` })
  await w.upload('in/invoice.pdf.exe', EICAR)
  const by = await inspectUpload(w, 'in/invoice.pdf.exe')
  const o = by.inspector[0]
  t.equal(o.condition, 'RetriesExhausted')
  t.equal(o.attempts, 2, 'retried as configured, then given up')
  t.match(o.record.responsePayload, { errorType: 'RuleLoadError', errorMessage: /YARA rule file s3:\/\/inspection-rules\/rules\/test-rules\.yar does not compile: .*unknown pattern `\$b`/s })
  t.equal(by['custody-recorder'], undefined, 'no verdict routed: the EICAR rule in the same file was not used alone')
  t.equal(w.siem.messages.length, 0)
  const dlq = await dlqBodies(w)
  t.equal(dlq.length, 1)
  t.match(dlq[0], { requestContext: { condition: 'RetriesExhausted' }, requestPayload: { detail: { object: { key: 'in/invoice.pdf.exe' } } } })

  // two files, one bad: the good one is not used on its own either
  await t.rejects(Inspector.open({ rules: [{ name: 'good.yar', text: TEST_RULES }, { name: 'bad.yar', text: 'rule { }' }], iocs: [], maxObjectBytes: 10, timeBudgetMs: 1000 }), { name: 'RuleLoadError', message: /bad\.yar does not compile/ })
})

t.test('an object deleted before inspection gets its own verdict', async (t) => {
  const w = await inspectionWorld(emulator, { versioned: false })
  await w.upload('in/gone.txt', EICAR)
  await w.s3.send(new DeleteObjectCommand({ Bucket: UPLOADS, Key: 'in/gone.txt' }))
  const by = await inspectUpload(w, 'in/gone.txt')
  const r = resultOf(by.inspector[0])
  t.equal(by.inspector[0].condition, 'Success', 'not a failure: there is nothing left to inspect')
  t.match(r.verdict, { verdict: 'deleted', reason: /no longer exists/ })
  t.match(routedOf(by['custody-recorder'][0]), { verdict: 'deleted', published: 1 })
  t.match(w.siem.messages[0].document, { finding_info: { types: ['inspection-deleted'] } })
})

t.test('a scan past its time budget is an error: retried, then on the dead-letter queue', async (t) => {
  const slow = 'rule slow { condition: for all i in (0..filesize) : ( for all j in (0..filesize) : (uint8(i) != 0xff or uint8(j) != 0xfe) ) }'
  const w = await inspectionWorld(emulator, { rules: slow, config: inspectionTestConfig({ timeBudgetMs: 300 }) })
  await w.upload('in/zeros.bin', Buffer.alloc(4000))
  const by = await inspectUpload(w, 'in/zeros.bin')
  t.equal(by.inspector[0].condition, 'RetriesExhausted')
  t.match(by.inspector[0].record.responsePayload, { errorType: 'InspectionFailed', errorMessage: /exceeded its time budget of 300 ms/ })
  t.equal((await dlqBodies(w)).length, 1)
})

t.test('events outside the inspected prefixes and foreign events are refused', async (t) => {
  const w = await inspectionWorld(emulator)
  await w.upload('out/x.txt', 'x')
  const by = await inspectUpload(w, 'out/x.txt')
  t.match(by.inspector[0].record.responsePayload, { errorType: 'ValidationError', errorMessage: /not in inspection\.buckets/ })
  w.runtime.invokeAsync('inspector', { ...objectCreatedEvent(UPLOADS, 'in/x'), 'detail-type': 'Object Deleted' })
  await w.runtime.idle()
  t.match(w.runtime.outcomes.at(-1)?.record.responsePayload, { errorMessage: /only S3 "Object Created" events/ })
})

t.test('forensics inspect: folders, S3 objects, JSON, exit codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'inspect-'))
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'eicar.com'), EICAR)
  writeFileSync(join(dir, 'sub', 'clean.txt'), 'hello\n')
  writeFileSync(join(dir, 'known-bad.bin'), KNOWN_BAD)
  const rules = join(dir, '..', `rules-${process.pid}.yar`)
  writeFileSync(rules, TEST_RULES)
  const iocs = join(dir, '..', `iocs-${process.pid}.txt`)
  writeFileSync(iocs, `${KNOWN_BAD_SHA256}\n`)

  const hits = await runCli(['inspect', '--from-dir', dir, '--rules', rules, '--iocs', iocs, '--json'])
  t.equal(hits.code, 1, 'exit 1: hits found')
  const doc = JSON.parse(hits.stdout) as { counts: Record<string, number>; verdicts: { verdict: string; object: { name: string }; sha256: string }[] }
  t.same(doc.counts, { hit: 2, clean: 1, 'skipped-too-large': 0, deleted: 0, error: 0 })
  t.same(doc.verdicts.map((v) => [v.object.name.slice(dir.length + 1), v.verdict]), [['eicar.com', 'hit'], ['known-bad.bin', 'hit'], ['sub/clean.txt', 'clean']])

  const clean = await runCli(['inspect', '--from-dir', join(dir, 'sub'), '--rules', rules])
  t.equal(clean.code, 0, 'exit 0: all clean')
  t.match(clean.stdout, /^clean .*clean\.txt sha256=[0-9a-f]{64}$/m)

  const capped = await runCli(['inspect', '--from-dir', dir, '--rules', rules, '--max-bytes', '10'])
  t.equal(capped.code, 3, 'exit 3: nothing hit, but not everything was inspected')
  t.match(capped.stdout, /skipped-too-large .*eicar\.com/)

  const bad = join(dir, '..', `bad-${process.pid}.yar`)
  writeFileSync(bad, 'rule broken { condition: $nope }')
  const corrupt = await runCli(['inspect', '--from-dir', dir, '--rules', rules, '--rules', bad])
  t.equal(corrupt.code, 2, 'exit 2: the rules do not load')
  t.match(corrupt.stderr, /bad-\d+\.yar does not compile/)
  t.equal(corrupt.stdout, '', 'nothing inspected')
  t.equal((await runCli(['inspect', '--rules', rules])).code, 2, 'nothing to inspect')
  t.equal((await runCli(['inspect', '--from-dir', dir])).code, 2, 'no rules')
  const empty = await runCli(['inspect', '--from-dir', mkdtempSync(join(tmpdir(), 'inspect-empty-')), '--rules', rules])
  t.equal(empty.code, 2, 'an empty folder is not a clean one')
  t.match(empty.stderr, /holds no files/)
  t.equal((await runCli(['inspect', 'file.txt', '--rules', rules])).code, 2, 'local files need --from-dir')

  // S3 objects and an S3 rule location, through the standard endpoint environment
  const w = await inspectionWorld(emulator)
  await w.upload('in/eicar', EICAR)
  const s3run = await runCli(['inspect', `s3://${UPLOADS}/in/eicar`, `s3://${UPLOADS}/in/missing`, '--rules', 's3://inspection-rules/rules/test-rules.yar'], emulator.env())
  t.equal(s3run.code, 1)
  t.match(s3run.stdout, /HIT \(high\) s3:\/\/inspected-uploads\/in\/eicar sha256=275a021b/)
  t.match(s3run.stdout, /deleted s3:\/\/inspected-uploads\/in\/missing/)
})

t.test('the inspection config section is validated field by field', async (t) => {
  const base = { forensicsAccountId: '123456789012', region: 'us-east-1', evidence: { breakGlassRoleArn: 'arn:aws:iam::123456789012:role/b' }, cloudTrailArchive: { bucket: 'trail-bucket' }, drill: { enabled: false }, memberRole: { externalId: 'xx' } }
  t.equal(parseConfig(base).inspection.enabled, false, 'off by default')
  t.throws(() => parseConfig({ ...base, inspection: { enabled: true } }), /inspection\.buckets: is required when inspection\.enabled[\s\S]*inspection\.rules: inspection is enabled with neither rules nor iocs/)
  t.throws(() => parseConfig({ ...base, inspection: { enabled: true, buckets: [{ bucket: 'b-1', account: '999999999999' }], rules: ['http://x/y'], minSeverity: 'severe' } }), /inspection\.buckets\[0\]\.account: 999999999999 is neither[\s\S]*inspection\.rules\[0\][\s\S]*inspection\.minSeverity/)
  t.throws(() => parseConfig({ ...base, inspection: { buckets: [{ bucket: 'b-1' }, { bucket: 'b-1' }] } }), /listed twice/)
})

t.test('the Lambda bundle inspects on its own: handler, worker and WebAssembly from the ZIP, no node_modules', async (t) => {
  const w = await inspectionWorld(emulator)
  await w.upload('in/eicar', EICAR)
  const dir = mkdtempSync(join(tmpdir(), 'inspector-lambda-'))
  const unzip = spawnSync('unzip', ['-q', bundleHandlers().inspector.zipPath, '-d', dir])
  t.equal(unzip.status, 0, 'unzipped')
  // what the Lambda runtime does: import index.mjs, call handler (a file: workers inherit execArgv)
  writeFileSync(join(dir, 'invoke.mjs'), "const { handler } = await import('./index.mjs'); process.stdout.write(JSON.stringify(await handler(JSON.parse(process.argv[2])))); process.exit(0)\n")
  const run = spawnSync(process.execPath, ['invoke.mjs', JSON.stringify(objectCreatedEvent(UPLOADS, 'in/eicar'))], {
    cwd: dir,
    // a clean environment, as Lambda gives: only the emulator endpoint, credentials and the function's variables
    env: { PATH: process.env.PATH, ...emulator.env(), ...inspectionEnvironment(w.config.inspection) },
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(run.status, 0, run.stderr)
  const result = JSON.parse(run.stdout) as InspectionResult
  t.match(result.verdict, { verdict: 'hit', sha256: sha256Hex(EICAR), rules: [{ rule: 'eicar_test_file' }] })
})

t.test("S3's own Object Created event, matched by the stack's uploads pattern, is what the inspector takes", async (t) => {
  const w = await inspectionWorld(emulator)
  const events = new EventBridgeClient(emulator.clientConfig())
  // notifications on, as the owning account's stack sets them; the rule's pattern is the stack's
  await w.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: UPLOADS, NotificationConfiguration: { EventBridgeConfiguration: {} } }))
  const queueUrl = (await w.sqs.send(new CreateQueueCommand({ QueueName: 'uploads-seen' }))).QueueUrl as string
  const queueArn = (await w.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn
  await events.send(new PutRuleCommand({ Name: 'uploads', EventPattern: JSON.stringify(inspectionUploadPattern(w.config.inspection.buckets)) }))
  // (moto does not run Lambda targets: a queue stands in for the inspector)
  await events.send(new PutTargetsCommand({ Rule: 'uploads', Targets: [{ Id: 'q', Arn: queueArn }] }))
  await w.upload('out/ignored.txt', 'outside the inspected prefix')
  const versionId = await w.upload('in/dropper.js', EICAR)
  const got = await w.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }))
  const delivered = (got.Messages ?? []).map((m) => JSON.parse(m.Body as string) as Record<string, unknown>)
  t.equal(delivered.length, 1, 'only the upload under in/ matched')
  w.runtime.invokeAsync('inspector', delivered[0])
  await w.runtime.idle()
  const r = resultOf(w.runtime.outcomes.find((o) => o.key === 'inspector') as InvocationOutcome)
  t.match(r.verdict, { verdict: 'hit', object: { key: 'in/dropper.js', versionId } })
})
