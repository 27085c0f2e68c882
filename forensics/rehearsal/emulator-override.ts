/**
 * The emulator-only Terraform override written next to a synthesized stack for the deploy
 * rehearsal (`emulator_override.tf.json`; Terraform merges `*_override.tf.json` over the
 * plan without touching it):
 *
 * - every provider configuration (default and regional aliases) reaches every service the
 *   plan uses at the emulator, with path-style S3 and no credential or metadata probing. The
 *   endpoints are given to the provider's AWS SDK as environment variables
 *   ({@link EmulatorOverride.environment}: `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`
 *   for each service the plan uses), not as the provider's `endpoints` block: the same routing,
 *   but the block (one object of ~300 attributes) costs every provider instance 4–5 s of CPU
 *   to configure, and a rehearsal starts 16 of them (`terraform plan -refresh=false` of the
 *   member stack: 14.8 s user with the block, 5.5 s without);
 * - the state goes to the rehearsal's work directory, never next to a real deployment's;
 * - bucket-policy Deny statements the emulator cannot evaluate are replaced, each one
 *   named in {@link EMULATOR_POLICY_GAPS} (the one list) and reported; the plan itself keeps
 *   them, and the permission simulation evaluates the plan's policies, not the emulator's.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ValidationError } from '../errors.js'

/**
 * Which service serves each resource type (by type prefix): the provider's `endpoints` key and
 * the AWS SDK's environment variable for that service's endpoint.
 */
export const EMULATOR_ENDPOINTS: readonly (readonly [prefix: string, endpoint: string])[] = [
  ['aws_s3_', 's3'],
  ['aws_kms_', 'kms'],
  ['aws_iam_', 'iam'],
  ['aws_lambda_', 'lambda'],
  ['aws_sqs_', 'sqs'],
  ['aws_sns_', 'sns'],
  ['aws_cloudwatch_event_', 'events'],
  ['aws_cloudwatch_log_', 'logs'],
  ['aws_cloudwatch_metric_alarm', 'cloudwatch'],
  ['aws_scheduler_', 'scheduler'],
]

/** The AWS SDK's endpoint variable of each endpoint key (`AWS_ENDPOINT_URL_` + the SDK's service id). */
export const ENDPOINT_VARIABLES: Readonly<Record<string, string>> = {
  s3: 'AWS_ENDPOINT_URL_S3',
  kms: 'AWS_ENDPOINT_URL_KMS',
  iam: 'AWS_ENDPOINT_URL_IAM',
  lambda: 'AWS_ENDPOINT_URL_LAMBDA',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  sns: 'AWS_ENDPOINT_URL_SNS',
  events: 'AWS_ENDPOINT_URL_EVENTBRIDGE',
  logs: 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS',
  cloudwatch: 'AWS_ENDPOINT_URL_CLOUDWATCH',
  scheduler: 'AWS_ENDPOINT_URL_SCHEDULER',
  sts: 'AWS_ENDPOINT_URL_STS',
}

/** Endpoints every provider configuration uses whatever the plan holds (it asks STS who it is). */
const ALWAYS = ['sts']

/** A bucket-policy statement the emulator gets without its Deny, and why. */
export interface EmulatorPolicyGap {
  sid: string
  why: string
}

/**
 * The one list of bucket-policy statements replaced in the emulator (README "Emulator gaps").
 * moto evaluates a bucket policy only on object requests, and of all condition operators only
 * `StringEquals`, without request values: a Deny with any other condition applies to every
 * object request of every principal.
 */
export const EMULATOR_POLICY_GAPS: readonly EmulatorPolicyGap[] = [
  { sid: 'DenyInsecureTransport', why: 'Bool aws:SecureTransport is not evaluated: every object request would be refused (and the emulator serves plain HTTP on loopback)' },
  { sid: 'DenyPutsNotEncryptedWithEvidenceKey', why: 'StringNotEquals/Null on s3:x-amz-server-side-encryption are not evaluated: every put would be refused, encrypted or not' },
  { sid: 'DenyPutsWithAnotherKmsKey', why: 'StringNotEquals/Null on s3:x-amz-server-side-encryption-aws-kms-key-id are not evaluated: every put would be refused' },
]

/**
 * Condition-bearing Deny statements the emulator keeps, and why that is faithful for every
 * path the rehearsal runs. A statement in neither list stops the rehearsal: someone decides.
 */
export const EMULATOR_POLICY_KEPT: readonly EmulatorPolicyGap[] = [
  {
    sid: 'DenyDeletesAndLockOrPolicyChangesExceptBreakGlass',
    why: 'moto refuses these object deletes to everyone, AWS to everyone but the break-glass role; no rehearsal path acts as break-glass, and moto does not check the bucket-level actions at all',
  },
]

/** One replaced statement, for the report. */
export interface ReplacedStatement {
  resource: string
  sid: string
  why: string
}

/** What the override holds. */
export interface EmulatorOverride {
  document: Record<string, unknown>
  /** the endpoint keys pointed at the emulator */
  endpoints: string[]
  /**
   * the environment every terraform command of the stack runs with: `AWS_ENDPOINT_URL` (every
   * service, so nothing the provider does reaches AWS) and `AWS_ENDPOINT_URL_<SERVICE>` of
   * each service the plan uses
   */
  environment: Record<string, string>
  replaced: ReplacedStatement[]
}

/** The parts of a synthesized stack (`cdk.tf.json`) the rehearsal reads. */
export interface SynthesizedPlan {
  terraform?: { required_providers?: { aws?: { version?: string } } }
  provider?: { aws?: Record<string, unknown>[] }
  resource?: Record<string, Record<string, Record<string, unknown>>>
  data?: Record<string, Record<string, Record<string, unknown>>>
}
type Plan = SynthesizedPlan

interface Statement { Sid?: string; Effect?: string; Condition?: unknown }

/** The endpoint keys a plan needs; an unknown resource type is an error naming it. */
export function emulatorEndpointsFor(plan: Plan): string[] {
  const keys = new Set(ALWAYS)
  for (const type of Object.keys(plan.resource ?? {})) {
    const hit = EMULATOR_ENDPOINTS.find(([prefix]) => type.startsWith(prefix))
    if (!hit) throw new ValidationError(`resource type ${type} has no emulator endpoint: add its service to EMULATOR_ENDPOINTS in forensics/rehearsal/emulator-override.ts`, { field: type })
    keys.add(hit[1])
  }
  return [...keys].sort()
}

function reducedBucketPolicies(plan: Plan): { resources: Record<string, { policy: string }>; replaced: ReplacedStatement[] } {
  const resources: Record<string, { policy: string }> = {}
  const replaced: ReplacedStatement[] = []
  for (const [id, r] of Object.entries(plan.resource?.aws_s3_bucket_policy ?? {})) {
    const doc = JSON.parse(String(r.policy)) as { Statement: Statement[] }
    const keep: Statement[] = []
    for (const s of doc.Statement) {
      if (s.Effect !== 'Deny' || s.Condition === undefined) {
        keep.push(s)
        continue
      }
      const gap = EMULATOR_POLICY_GAPS.find((g) => g.sid === s.Sid)
      if (gap) {
        replaced.push({ resource: `aws_s3_bucket_policy.${id}`, sid: gap.sid, why: gap.why })
        continue
      }
      if (!EMULATOR_POLICY_KEPT.some((k) => k.sid === s.Sid)) {
        throw new ValidationError(
          `aws_s3_bucket_policy.${id} has a conditional Deny ${JSON.stringify(s.Sid ?? '(no Sid)')} the emulator cannot evaluate: list it in EMULATOR_POLICY_GAPS or EMULATOR_POLICY_KEPT (forensics/rehearsal/emulator-override.ts) with the reason`,
          { field: `aws_s3_bucket_policy.${id}` },
        )
      }
      keep.push(s)
    }
    if (keep.length !== doc.Statement.length) {
      // an empty policy is not a policy: a statement that grants nothing keeps the resource valid
      const statements = keep.length ? keep : [{ Sid: 'EmulatorPlaceholder', Effect: 'Deny', Principal: '*', Action: 's3:PutBucketWebsite', Resource: 'arn:aws:s3:::emulator-placeholder' }]
      resources[id] = { policy: JSON.stringify({ ...doc, Statement: statements }) }
    }
  }
  return { resources, replaced }
}

/** Builds the override for a plan: endpoints at `endpoint`, state at `statePath`, policy gaps replaced. */
export function emulatorOverride(plan: Plan, o: { endpoint: string; statePath: string }): EmulatorOverride {
  const endpoints = emulatorEndpointsFor(plan)
  const providers = (plan.provider?.aws ?? [{}]).map((p) => ({
    ...(p.alias ? { alias: p.alias } : {}),
    s3_use_path_style: true,
    skip_credentials_validation: true,
    skip_metadata_api_check: true,
    skip_region_validation: true,
  }))
  const { resources, replaced } = reducedBucketPolicies(plan)
  const document: Record<string, unknown> = {
    '//': 'Written by the deploy rehearsal (forensics/rehearsal): points this stack at the local emulator. Never deploy this directory.',
    terraform: { backend: { local: { path: o.statePath } } },
    provider: { aws: providers },
    ...(Object.keys(resources).length ? { resource: { aws_s3_bucket_policy: resources } } : {}),
  }
  const environment = { AWS_ENDPOINT_URL: o.endpoint, ...Object.fromEntries(endpoints.map((k) => [ENDPOINT_VARIABLES[k], o.endpoint])) }
  return { document, endpoints, environment, replaced }
}

/** The file name Terraform merges over the plan. */
export const OVERRIDE_FILE = 'emulator_override.tf.json'

/** The marker that makes a directory a rehearsal synth output; overrides are written nowhere else. */
export const REHEARSAL_MARKER = '.forensics-rehearsal'

/**
 * Writes the override next to a stack's `cdk.tf.json`. Refuses a stack directory that is not
 * inside a rehearsal output (`<outdir>/stacks/<stack>` with `<outdir>/.forensics-rehearsal`),
 * so a real `cdktf.out` can never be pointed at the emulator.
 */
export function writeEmulatorOverride(stackDir: string, plan: Plan, o: { endpoint: string; statePath: string }): EmulatorOverride {
  const outdir = dirname(dirname(stackDir))
  if (!existsSync(join(outdir, REHEARSAL_MARKER))) {
    throw new ValidationError(`${stackDir} is not in a rehearsal synth output (no ${REHEARSAL_MARKER} in ${outdir}): the emulator override is never written into a deployable cdktf.out`, { field: 'stackDir' })
  }
  const override = emulatorOverride(plan, o)
  writeFileSync(join(stackDir, OVERRIDE_FILE), JSON.stringify(override.document, null, 2) + '\n')
  return override
}
