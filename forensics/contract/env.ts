/**
 * The environment contract: one typed schema per function, written by the stack and read by
 * the handler through the same table. The stack renders each function's variables with
 * {@link renderFunctionEnv} (synth fails naming the function and variable when a required
 * value is missing or invalid, or when a variable is not in the schema, i.e. nobody reads
 * it); each Lambda entry point checks its environment with {@link checkFunctionEnv} at cold
 * start (a missing or invalid variable fails naming it). The local runtime runs the bundled
 * handlers with the environment the synthesized plan gives them, so both ends meet.
 *
 * Adding a variable: add it to {@link ENV_VARS} with its check, list it under the functions
 * that read it in {@link FUNCTION_ENV}, write it in stacks/forensics-stack.ts.
 */
import { ValidationError } from '../errors.js'
import { FUNCTION_KEYS, type FunctionKey } from '../routing.js'
import { CONTAINMENT_KEY } from '../containment/route.js'

/** What a variable means and how its value is checked (a problem, or undefined when fine). */
export interface EnvVarSpec {
  description: string
  check?: (value: string) => string | undefined
}

const positiveInt = (v: string): string | undefined => (/^[1-9]\d*$/.test(v) ? undefined : 'must be a whole number ≥ 1')
const s3Url = (v: string): string | undefined => (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v) ? undefined : 'must be s3://BUCKET[/PREFIX]')
const nonEmpty = (v: string): string | undefined => (v.trim() ? undefined : 'must not be empty')

/** Every variable a function of the toolkit reads. */
export const ENV_VARS = {
  FORENSICS_EVIDENCE_BUCKET: { description: 'the Object-Locked evidence bucket', check: nonEmpty },
  FORENSICS_SIGNING_KEY: { description: '`kms:<key id/ARN/alias>` or `file:<PEM path>`', check: (v) => (/^(kms|file):.+/.test(v) ? undefined : 'must be kms:<key id> or file:<pem path>') },
  FORENSICS_RETENTION_DAYS: { description: 'retention of evidence objects in days (default: the bucket default)', check: positiveInt },
  FORENSICS_RETENTION_MODE: { description: '`COMPLIANCE` (default) or `GOVERNANCE`', check: (v) => (v === 'COMPLIANCE' || v === 'GOVERNANCE' ? undefined : 'must be COMPLIANCE or GOVERNANCE') },
  FORENSICS_CASE_ID_TEMPLATE: { description: 'case id of a routed event that names none (forensics/contract/triggers.ts)', check: nonEmpty },
  FORENSICS_MEMBER_ROLE_NAME: { description: 'the read-only capture role in member accounts', check: nonEmpty },
  FORENSICS_MEMBER_EXTERNAL_ID: { description: 'the external id that role requires', check: nonEmpty },
  FORENSICS_FANOUT_QUEUE_URL: { description: 'the object-versions fan-out queue', check: nonEmpty },
  FORENSICS_FANOUT_THRESHOLD: { description: 'versions above which a capture fans out (default 1000)', check: positiveInt },
  FORENSICS_FANOUT_PAGE_SIZE: { description: 'versions per fan-out page (default 500)', check: positiveInt },
  FORENSICS_COPY_CONCURRENCY: { description: 'version copies at once (default 16)', check: positiveInt },
  FORENSICS_OBJECT_VERSIONS_PREFIX: { description: 'key prefix a finding-triggered capture copies (default: all keys)' },
  FORENSICS_TRAIL_ARCHIVE: { description: '`s3://BUCKET/PREFIX` of the CloudTrail archive', check: s3Url },
  FORENSICS_SIEM_EVENT_BUS: { description: 'SIEM EventBridge bus name or ARN', check: nonEmpty },
  FORENSICS_SIEM_TOPIC_ARN: { description: 'SIEM SNS topic ARN (or name)', check: nonEmpty },
  FORENSICS_CANARY_BUCKET: { description: 'the drill\'s canary bucket', check: nonEmpty },
  FORENSICS_CAPTURE_FUNCTIONS: { description: 'JSON map of function key → deployed name', check: (v) => capturedFunctionsProblem(v) },
  FORENSICS_DLQ_URL: { description: 'the OnFailure dead-letter queue the drill watches', check: nonEmpty },
  FORENSICS_DRILL_DIR: { description: 'where the drill writes its bundle (default: the temp dir)', check: nonEmpty },
  FORENSICS_CONTAINMENT_SETTINGS: { description: 'JSON of the containment settings (forensics/containment/settings.ts)', check: (v) => jsonObjectProblem(v) },
  FORENSICS_INSPECTION: { description: 'JSON of the validated `inspection` config section (forensics/inspection/inspection-env.ts re-validates it)', check: (v) => jsonObjectProblem(v) },
} as const satisfies Record<string, EnvVarSpec>

/** A variable of {@link ENV_VARS}. */
export type EnvName = keyof typeof ENV_VARS

function capturedFunctionsProblem(v: string): string | undefined {
  try {
    const m = JSON.parse(v) as unknown
    if (typeof m === 'object' && m !== null && !Array.isArray(m) && Object.values(m).every((x) => typeof x === 'string')) return undefined
  } catch {
    // reported below
  }
  return 'must be a JSON object of function names'
}

function jsonObjectProblem(v: string): string | undefined {
  try {
    const m = JSON.parse(v) as unknown
    if (typeof m === 'object' && m !== null && !Array.isArray(m)) return undefined
  } catch {
    // reported below
  }
  return 'must be a JSON object'
}

/** A function with an environment schema: the capture functions and containment (only with `containment.enabled`). */
export type EnvFunctionKey = FunctionKey | typeof CONTAINMENT_KEY

/** Every function with a schema. */
export const ENV_FUNCTION_KEYS: readonly EnvFunctionKey[] = [...FUNCTION_KEYS, CONTAINMENT_KEY]

/** One function's schema. */
export interface FunctionEnvSchema {
  required: readonly EnvName[]
  optional: readonly EnvName[]
}

const EVIDENCE: readonly EnvName[] = ['FORENSICS_EVIDENCE_BUCKET', 'FORENSICS_SIGNING_KEY']
const RETENTION: readonly EnvName[] = ['FORENSICS_RETENTION_DAYS', 'FORENSICS_RETENTION_MODE']

/** Which variables each function reads. */
export const FUNCTION_ENV: Record<EnvFunctionKey, FunctionEnvSchema> = {
  'bucket-config': {
    required: [...EVIDENCE],
    optional: [...RETENTION, 'FORENSICS_CASE_ID_TEMPLATE', 'FORENSICS_MEMBER_ROLE_NAME', 'FORENSICS_MEMBER_EXTERNAL_ID'],
  },
  'object-versions': {
    required: [...EVIDENCE, 'FORENSICS_FANOUT_QUEUE_URL'],
    optional: [...RETENTION, 'FORENSICS_CASE_ID_TEMPLATE', 'FORENSICS_MEMBER_ROLE_NAME', 'FORENSICS_MEMBER_EXTERNAL_ID', 'FORENSICS_FANOUT_THRESHOLD', 'FORENSICS_FANOUT_PAGE_SIZE', 'FORENSICS_COPY_CONCURRENCY', 'FORENSICS_OBJECT_VERSIONS_PREFIX'],
  },
  'cloudtrail-slice': {
    required: [...EVIDENCE, 'FORENSICS_TRAIL_ARCHIVE'],
    optional: [...RETENTION, 'FORENSICS_CASE_ID_TEMPLATE'],
  },
  'custody-recorder': {
    required: [...EVIDENCE, 'FORENSICS_SIEM_EVENT_BUS', 'FORENSICS_SIEM_TOPIC_ARN'],
    // with inspection.enabled: the object-versions function a hit's capture is started on
    optional: [...RETENTION, 'FORENSICS_CAPTURE_FUNCTIONS'],
  },
  drill: {
    required: [...EVIDENCE, 'FORENSICS_SIEM_EVENT_BUS', 'FORENSICS_SIEM_TOPIC_ARN', 'FORENSICS_CAPTURE_FUNCTIONS', 'FORENSICS_DLQ_URL', 'FORENSICS_TRAIL_ARCHIVE'],
    // the canary bucket may come with the event instead (drill.enabled false: no schedule)
    optional: [...RETENTION, 'FORENSICS_CANARY_BUCKET', 'FORENSICS_DRILL_DIR'],
  },
  // the inspector writes no evidence: it reads the object and its rules, and returns a verdict
  inspector: {
    required: ['FORENSICS_INSPECTION'],
    optional: [],
  },
  containment: {
    required: [...EVIDENCE, 'FORENSICS_CONTAINMENT_SETTINGS'],
    optional: [...RETENTION, 'FORENSICS_MEMBER_ROLE_NAME', 'FORENSICS_MEMBER_EXTERNAL_ID'],
  },
}

/** Every variable a function reads, required first. */
export function functionEnvNames(key: EnvFunctionKey): EnvName[] {
  return [...FUNCTION_ENV[key].required, ...FUNCTION_ENV[key].optional]
}

function problem(name: EnvName, value: string): string | undefined {
  const spec: EnvVarSpec = ENV_VARS[name]
  return spec.check?.(value)
}

/**
 * The environment the stack writes on `key`: the schema's variables with a value (optional
 * ones without a value are left out). Throws a ValidationError naming the function and the
 * variable when a required one has no value, a value fails its check, or a variable is not
 * in the schema. `isUnresolved` tells deploy-time references (ARNs, URLs) apart: they are
 * present but cannot be checked at synth.
 */
export function renderFunctionEnv(key: EnvFunctionKey, values: Partial<Record<EnvName, string | undefined>>, opts: { isUnresolved?: (v: string) => boolean } = {}): Record<string, string> {
  const known = new Set<string>(functionEnvNames(key))
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new ValidationError(`${name} is written on the ${key} function but is not in its environment schema (forensics/contract/env.ts): nothing there reads it; add it to the schema or stop writing it`, { field: `${key}.${name}` })
  }
  const out: Record<string, string> = {}
  for (const name of functionEnvNames(key)) {
    const v = values[name]
    if (v === undefined || v === '') {
      if (FUNCTION_ENV[key].required.includes(name)) throw new ValidationError(`the ${key} function needs ${name} (${ENV_VARS[name].description}) and the stack has no value for it`, { field: `${key}.${name}` })
      continue
    }
    const p = opts.isUnresolved?.(v) ? undefined : problem(name, v)
    if (p) throw new ValidationError(`${name} of the ${key} function ${p}, got ${JSON.stringify(v)}`, { field: `${key}.${name}` })
    out[name] = v
  }
  return out
}

/**
 * A handler's cold-start check of its environment against its schema: throws a
 * ValidationError naming the first variable that is required and missing, or set and invalid.
 */
export function checkFunctionEnv(key: EnvFunctionKey, env: NodeJS.ProcessEnv): void {
  for (const name of functionEnvNames(key)) {
    const v = env[name]
    if (v === undefined || v === '') {
      if (FUNCTION_ENV[key].required.includes(name)) throw new ValidationError(`environment variable ${name} is not set on ${key}: the forensics stack writes it (forensics/contract/env.ts); deploy the stack again, or set it where the handler runs`, { field: name })
      continue
    }
    const p = problem(name, v)
    if (p) throw new ValidationError(`environment variable ${name} of ${key} ${p}, got ${JSON.stringify(v)}`, { field: name })
  }
}
