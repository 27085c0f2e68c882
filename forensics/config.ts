/**
 * The toolkit's one configuration object: what `cdktf synth` deploys and what the local
 * runtime emulates. Read from `forensics.config.json` (or cdktf context) and validated here,
 * in plain TypeScript, so the stacks, the CLI and the local runtime agree on one schema and
 * every mistake is reported with the field that is wrong.
 */
import { readFileSync } from 'node:fs'
import { ValidationError } from './errors.js'

/** Object Lock retention mode of the evidence bucket. */
export type RetentionMode = 'COMPLIANCE' | 'GOVERNANCE'

/** Evidence bucket settings. */
export interface EvidenceConfig {
  /** Default Object Lock retention applied to every evidence object, in days (1–36500). */
  retentionDays: number
  /** `COMPLIANCE` (default): nobody, root included, can shorten or delete. */
  mode: RetentionMode
  /** Must be `true` to accept `GOVERNANCE` mode, which lets privileged principals bypass retention. */
  allowGovernanceMode: boolean
  /** The only principal allowed to change the bucket policy or lock configuration (full role ARN). */
  breakGlassRoleArn: string
  /** Investigator roles allowed to read evidence and decrypt it (for `forensics bundle`). */
  investigatorRoleArns: string[]
  /** Days the server access logs are kept (1–36500). */
  accessLogRetentionDays: number
}

/** Where the organisation or account trail delivers CloudTrail log files. */
export interface CloudTrailArchiveConfig {
  bucket: string
  /** Key prefix before `AWSLogs/`; empty when the trail writes at the bucket root. */
  prefix: string
  /** AWS Organizations id (`o-…`) when the trail is an organisation trail. */
  organizationId?: string
  /** KMS key the trail encrypts its log files with, when it does (the slice role may decrypt with it). */
  kmsKeyArn?: string
}

/** Scheduled drill settings. */
export interface DrillConfig {
  enabled: boolean
  /** EventBridge Scheduler expression: `cron(…)`, `rate(…)` or `at(…)`. */
  schedule: string
  /** IANA time zone the schedule is evaluated in. */
  timezone: string
  /** Bucket the drill creates its canary incident in; required when `enabled`. */
  canaryBucket?: string
  /** The drill's containment phase on the canary: `dry-run` (default) records a plan, `apply` quarantines then releases, `off` skips it. */
  containment: 'off' | 'dry-run' | 'apply'
}

/** Where findings and summaries go. */
export interface SiemConfig {
  eventBusName: string
  topicName: string
  /** Optional e-mail subscribed to the failure alert topic (confirmation required by AWS). */
  alertEmail?: string
}

/** Async-invoke and runtime settings shared by the capture functions. */
export interface CaptureConfig {
  /** Lambda async retries for capture functions and the custody recorder (0–2). */
  maximumRetryAttempts: number
  /** Maximum age of an async event before it goes to the failure destination (60–21600 s). */
  maximumEventAgeInSeconds: number
  /** CloudWatch Logs retention in days (must be a value CloudWatch accepts). */
  logRetentionDays: number
  /** Reserved concurrency per capture function (1–1000). */
  reservedConcurrency: number
  /** Function timeout in seconds (1–900). */
  timeoutSeconds: number
  /** Function memory in MB (128–10240). */
  memoryMb: number
}

/** The role deployed into every member account. */
export interface MemberRoleConfig {
  roleName: string
  /** Shared secret-ish value that capture roles must present (sts:ExternalId). */
  externalId: string
}

/** Optional Lambda code signing. */
export interface CodeSigningConfig {
  signingProfileVersionArns: string[]
  untrustedArtifactOnDeployment: 'Warn' | 'Enforce'
}

/** The validated configuration. Every field is filled (defaults applied). */
export interface ForensicsConfig {
  /** Name prefix for every resource (lowercase, 2–24 chars). */
  name: string
  forensicsAccountId: string
  /** Home region of the forensics stack. */
  region: string
  /** Regions whose events and trails are in scope (home region included). */
  regions: string[]
  memberAccounts: string[]
  evidence: EvidenceConfig
  watchedBuckets: string[]
  cloudTrailArchive: CloudTrailArchiveConfig
  drill: DrillConfig
  siem: SiemConfig
  capture: CaptureConfig
  memberRole: MemberRoleConfig
  codeSigning?: CodeSigningConfig
  containment: ContainmentConfig
}

/** A containment action (forensics/containment). */
export type ContainmentAction = 'quarantine-bucket' | 'revoke-principal' | 'alert'
/** Every containment action, in the order they run. */
export const CONTAINMENT_ACTIONS: readonly ContainmentAction[] = ['quarantine-bucket', 'revoke-principal', 'alert']
/** Finding severities in rising order. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const

/** A bucket whose data events are watched: access by anyone outside `allowedPrincipals` starts containment. */
export interface SensitiveBucketConfig {
  bucket: string
  /** principal ARNs (`*` and `?` wildcards) allowed to read and write it */
  allowedPrincipals: string[]
}

/** Containment: what may be done to a bucket and a principal once evidence is captured. */
export interface ContainmentConfig {
  /** off by default: nothing is deployed and the member role gains no containment actions */
  enabled: boolean
  /** bucket-config findings at or above this severity start containment (default `high`) */
  minSeverity: (typeof SEVERITIES)[number]
  /** true (default): plans are recorded as evidence, nothing is changed */
  dryRun: boolean
  /** actions taken (default all) */
  actions: ContainmentAction[]
  sensitiveBuckets: SensitiveBucketConfig[]
  /** principals never revoked (ARN patterns); break-glass, the forensics roles and the member role are always added */
  neverContain: string[]
  /** the security team's topic; default: a new topic `<name>-containment-alerts` */
  alertTopicArn?: string
  /** e-mail subscribed to the new topic (only without alertTopicArn) */
  alertEmail?: string
}

/** One problem found by {@link parseConfig}. */
export interface ConfigIssue {
  field: string
  message: string
}

const ACCOUNT_ID = /^\d{12}$/
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/
const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const NAME = /^[a-z][a-z0-9-]{1,23}$/
const ORG_ID = /^o-[a-z0-9]{10,32}$/
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/
const SCHEDULE = /^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\))$/
const SIGNING_PROFILE_ARN = /^arn:aws[a-z-]*:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/\w+\/\w+$/
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[a-zA-Z0-9-]+$/
const EVENT_NAME = /^[\w.-]{1,256}$/
const TOPIC_NAME = /^[\w-]{1,256}$/
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/
const PRINCIPAL_PATTERN = /^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):[\w+=,.@/*?:-]+$/
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/
/** Retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const

/** Collects issues while walking the raw input. */
class Checker {
  readonly issues: ConfigIssue[] = []
  constructor(private readonly root: Record<string, unknown>) {}

  fail(field: string, message: string): void {
    this.issues.push({ field, message })
  }

  /** Value at a dotted path, or undefined. */
  get(field: string): unknown {
    let v: unknown = this.root
    for (const part of field.split('.')) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
      v = (v as Record<string, unknown>)[part]
    }
    return v
  }

  string(field: string, pattern: RegExp, hint: string, fallback?: string): string {
    const v = this.get(field)
    if (v === undefined && fallback !== undefined) return fallback
    if (typeof v !== 'string') {
      this.fail(field, v === undefined ? `is required (${hint})` : `must be a string (${hint})`)
      return fallback ?? ''
    }
    if (!pattern.test(v)) this.fail(field, `${JSON.stringify(v)} is not valid: ${hint}`)
    return v
  }

  optionalString(field: string, pattern: RegExp, hint: string): string | undefined {
    return this.get(field) === undefined ? undefined : this.string(field, pattern, hint)
  }

  integer(field: string, min: number, max: number, fallback: number): number {
    const v = this.get(field)
    if (v === undefined) return fallback
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(field, `must be a whole number between ${min} and ${max}, got ${JSON.stringify(v)}`)
      return fallback
    }
    if (v < min || v > max) this.fail(field, `must be between ${min} and ${max}, got ${v}`)
    return v
  }

  boolean(field: string, fallback: boolean): boolean {
    const v = this.get(field)
    if (v === undefined) return fallback
    if (typeof v !== 'boolean') {
      this.fail(field, `must be true or false, got ${JSON.stringify(v)}`)
      return fallback
    }
    return v
  }

  stringList(field: string, pattern: RegExp, hint: string, fallback: string[] = []): string[] {
    const v = this.get(field)
    if (v === undefined) return fallback
    if (!Array.isArray(v)) {
      this.fail(field, `must be a list (${hint})`)
      return fallback
    }
    const out: string[] = []
    v.forEach((item, i) => {
      if (typeof item !== 'string' || !pattern.test(item)) this.fail(`${field}[${i}]`, `${JSON.stringify(item)} is not valid: ${hint}`)
      else if (out.includes(item)) this.fail(`${field}[${i}]`, `${JSON.stringify(item)} is listed twice`)
      else out.push(item)
    })
    return out
  }

  object(field: string): void {
    const v = this.get(field)
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) this.fail(field, 'must be an object')
  }
}

/**
 * Validates raw configuration (parsed JSON or cdktf context) and fills defaults. Throws a
 * {@link ValidationError} whose `field` names the first wrong field and whose message lists
 * every problem, one per line, each as `field: what is wrong`.
 */
export function parseConfig(input: unknown): ForensicsConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('forensics config must be a JSON object (see forensics.config.json)', { field: '(root)' })
  }
  const c = new Checker(input as Record<string, unknown>)
  for (const section of ['evidence', 'cloudTrailArchive', 'drill', 'siem', 'capture', 'memberRole', 'codeSigning', 'containment']) c.object(section)

  const name = c.string('name', NAME, 'lowercase letters, digits and hyphens, 2–24 characters, starting with a letter', 'forensics')
  const forensicsAccountId = c.string('forensicsAccountId', ACCOUNT_ID, 'a 12-digit AWS account id')
  const region = c.string('region', REGION, 'an AWS region such as eu-west-1')
  const regions = c.stringList('regions', REGION, 'AWS regions such as eu-west-1', [region])
  if (!regions.includes(region)) regions.unshift(region)
  const memberAccounts = c.stringList('memberAccounts', ACCOUNT_ID, '12-digit AWS account ids')
  if (memberAccounts.includes(forensicsAccountId)) {
    c.fail(`memberAccounts[${memberAccounts.indexOf(forensicsAccountId)}]`, 'must not be the forensics account itself (its buckets are read with the capture roles directly)')
  }

  const mode = c.string('evidence.mode', /^(COMPLIANCE|GOVERNANCE)$/, 'COMPLIANCE or GOVERNANCE', 'COMPLIANCE') as RetentionMode
  const allowGovernanceMode = c.boolean('evidence.allowGovernanceMode', false)
  if (mode === 'GOVERNANCE' && !allowGovernanceMode) {
    c.fail('evidence.mode', 'GOVERNANCE lets principals with s3:BypassGovernanceRetention delete evidence; set evidence.allowGovernanceMode to true to accept that, or use COMPLIANCE')
  }
  const breakGlassRoleArn = c.string('evidence.breakGlassRoleArn', ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::111111111111:role/forensics-break-glass')
  const breakGlassAccount = ROLE_ARN.exec(breakGlassRoleArn)?.[1]
  if (breakGlassAccount && ACCOUNT_ID.test(forensicsAccountId) && breakGlassAccount !== forensicsAccountId) {
    c.fail('evidence.breakGlassRoleArn', `must be a role in the forensics account ${forensicsAccountId}, not ${breakGlassAccount}`)
  }
  const evidence: EvidenceConfig = {
    retentionDays: c.integer('evidence.retentionDays', 1, 36500, 365),
    mode,
    allowGovernanceMode,
    breakGlassRoleArn,
    investigatorRoleArns: c.stringList('evidence.investigatorRoleArns', ROLE_ARN, 'IAM role ARNs'),
    accessLogRetentionDays: c.integer('evidence.accessLogRetentionDays', 1, 36500, 400),
  }

  const watchedBuckets = c.stringList('watchedBuckets', BUCKET, 'S3 bucket names (3–63 lowercase letters, digits, dots, hyphens)')
  const organizationId = c.optionalString('cloudTrailArchive.organizationId', ORG_ID, 'an AWS Organizations id such as o-a1b2c3d4e5')
  const prefix = c.string('cloudTrailArchive.prefix', /^([\w!.*'()-]+(\/[\w!.*'()-]+)*)?$/, 'a key prefix without leading or trailing slash', '')
  const trailKey = c.optionalString('cloudTrailArchive.kmsKeyArn', KMS_KEY_ARN, 'a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/…')
  const cloudTrailArchive: CloudTrailArchiveConfig = {
    bucket: c.string('cloudTrailArchive.bucket', BUCKET, 'the S3 bucket your CloudTrail trail delivers to'),
    prefix,
    ...(organizationId ? { organizationId } : {}),
    ...(trailKey ? { kmsKeyArn: trailKey } : {}),
  }

  const drillEnabled = c.boolean('drill.enabled', true)
  const canaryBucket = c.optionalString('drill.canaryBucket', BUCKET, 'an S3 bucket name')
  if (drillEnabled && canaryBucket === undefined) {
    c.fail('drill.canaryBucket', 'is required when drill.enabled is true: name a dedicated bucket the drill may change (or set drill.enabled to false)')
  }
  if (canaryBucket !== undefined && watchedBuckets.includes(canaryBucket)) {
    c.fail('drill.canaryBucket', `${canaryBucket} is also a watched bucket; the drill changes its canary bucket, so use a dedicated one`)
  }
  const drill: DrillConfig = {
    enabled: drillEnabled,
    schedule: c.string('drill.schedule', SCHEDULE, 'an EventBridge Scheduler expression such as cron(0 6 ? * MON *) or rate(7 days)', 'cron(0 6 ? * MON *)'),
    timezone: c.string('drill.timezone', /^[A-Za-z_]+(\/[A-Za-z_+-]+)*$/, 'an IANA time zone such as UTC or Europe/Berlin', 'UTC'),
    ...(canaryBucket !== undefined ? { canaryBucket } : {}),
    containment: c.string('drill.containment', /^(off|dry-run|apply)$/, 'off, dry-run or apply', 'dry-run') as DrillConfig['containment'],
  }

  const alertEmail = c.optionalString('siem.alertEmail', EMAIL, 'an e-mail address')
  const siem: SiemConfig = {
    eventBusName: c.string('siem.eventBusName', EVENT_NAME, 'letters, digits, dots, hyphens, underscores', `${name}-siem`),
    topicName: c.string('siem.topicName', TOPIC_NAME, 'letters, digits, hyphens, underscores', `${name}-siem`),
    ...(alertEmail ? { alertEmail } : {}),
  }

  const logRetentionDays = c.integer('capture.logRetentionDays', 1, 3653, 365)
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    c.fail('capture.logRetentionDays', `${logRetentionDays} is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(', ')}`)
  }
  const capture: CaptureConfig = {
    maximumRetryAttempts: c.integer('capture.maximumRetryAttempts', 0, 2, 2),
    maximumEventAgeInSeconds: c.integer('capture.maximumEventAgeInSeconds', 60, 21600, 3600),
    logRetentionDays,
    reservedConcurrency: c.integer('capture.reservedConcurrency', 1, 1000, 10),
    timeoutSeconds: c.integer('capture.timeoutSeconds', 1, 900, 300),
    memoryMb: c.integer('capture.memoryMb', 128, 10240, 1024),
  }

  const memberRole: MemberRoleConfig = {
    roleName: c.string('memberRole.roleName', ROLE_NAME, 'an IAM role name', `${name}-capture-readonly`),
    externalId: c.string('memberRole.externalId', EXTERNAL_ID, '2–1224 characters from letters, digits and +=,.@:/-'),
  }

  let codeSigning: CodeSigningConfig | undefined
  if (c.get('codeSigning') !== undefined) {
    const arns = c.stringList('codeSigning.signingProfileVersionArns', SIGNING_PROFILE_ARN, 'AWS Signer signing profile version ARNs')
    if (arns.length === 0) c.fail('codeSigning.signingProfileVersionArns', 'must list at least one signing profile version ARN (or remove codeSigning)')
    codeSigning = {
      signingProfileVersionArns: arns,
      untrustedArtifactOnDeployment: c.string('codeSigning.untrustedArtifactOnDeployment', /^(Warn|Enforce)$/, 'Warn or Enforce', 'Enforce') as 'Warn' | 'Enforce',
    }
  }

  const containment = parseContainment(c, name, watchedBuckets, canaryBucket)

  if (c.issues.length > 0) {
    const lines = c.issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')
    throw new ValidationError(`invalid forensics config (${c.issues.length} problem${c.issues.length > 1 ? 's' : ''}):\n${lines}`, {
      field: c.issues[0].field,
    })
  }
  return {
    name, forensicsAccountId, region, regions, memberAccounts, evidence, watchedBuckets,
    cloudTrailArchive, drill, siem, capture, memberRole, ...(codeSigning ? { codeSigning } : {}), containment,
  }
}

/** The `containment` section (see {@link ContainmentConfig}). */
function parseContainment(c: Checker, name: string, watchedBuckets: string[], canaryBucket: string | undefined): ContainmentConfig {
  const actions = c.stringList('containment.actions', /^(quarantine-bucket|revoke-principal|alert)$/, 'quarantine-bucket, revoke-principal or alert', [...CONTAINMENT_ACTIONS]) as ContainmentAction[]
  const raw = c.get('containment.sensitiveBuckets')
  const sensitiveBuckets: SensitiveBucketConfig[] = []
  if (raw !== undefined && !Array.isArray(raw)) c.fail('containment.sensitiveBuckets', 'must be a list of {bucket, allowedPrincipals}')
  for (const [i, item] of (Array.isArray(raw) ? raw : []).entries()) {
    const field = `containment.sensitiveBuckets.${i}`
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      c.fail(`containment.sensitiveBuckets[${i}]`, 'must be an object {bucket, allowedPrincipals}')
      continue
    }
    const entry = item as Record<string, unknown>
    const bucket = typeof entry.bucket === 'string' && BUCKET.test(entry.bucket) ? entry.bucket : ''
    if (!bucket) c.fail(`${field}.bucket`, `${JSON.stringify(entry.bucket ?? null)} is not valid: an S3 bucket name`)
    // the evidence and log buckets are the toolkit's own: containment must never touch them
    else if (bucket.startsWith(`${name}-evidence-`) || bucket.startsWith(`${name}-access-logs-`)) c.fail(`${field}.bucket`, `${bucket} is the toolkit's own bucket; containment never changes the evidence or access-log bucket`)
    else if (bucket === canaryBucket) c.fail(`${field}.bucket`, `${bucket} is the drill's canary bucket; the drill contains it by itself (drill.containment)`)
    else if (sensitiveBuckets.some((s) => s.bucket === bucket)) c.fail(`${field}.bucket`, `${bucket} is listed twice`)
    const allowed = entry.allowedPrincipals ?? []
    const allowedPrincipals: string[] = []
    if (!Array.isArray(allowed)) c.fail(`${field}.allowedPrincipals`, 'must be a list of principal ARN patterns')
    else {
      allowed.forEach((p, j) => {
        if (typeof p === 'string' && PRINCIPAL_PATTERN.test(p)) allowedPrincipals.push(p)
        else c.fail(`${field}.allowedPrincipals[${j}]`, `${JSON.stringify(p)} is not valid: a principal ARN pattern such as arn:aws:iam::111111111111:role/app-*`)
      })
    }
    sensitiveBuckets.push({ bucket, allowedPrincipals })
  }
  for (const s of sensitiveBuckets) {
    if (!watchedBuckets.includes(s.bucket)) c.fail('containment.sensitiveBuckets', `${s.bucket} is not in watchedBuckets: a sensitive bucket must be watched (its configuration is captured before any containment)`)
  }
  const alertTopicArn = c.optionalString('containment.alertTopicArn', TOPIC_ARN, 'an SNS topic ARN such as arn:aws:sns:eu-west-1:111111111111:security-team')
  const alertEmail = c.optionalString('containment.alertEmail', EMAIL, 'an e-mail address')
  if (alertTopicArn && alertEmail) c.fail('containment.alertEmail', 'subscribe the e-mail to your own alertTopicArn; alertEmail is only used for the topic the stack creates')
  return {
    enabled: c.boolean('containment.enabled', false),
    minSeverity: c.string('containment.minSeverity', /^(info|low|medium|high|critical)$/, 'info, low, medium, high or critical', 'high') as ContainmentConfig['minSeverity'],
    dryRun: c.boolean('containment.dryRun', true),
    actions: CONTAINMENT_ACTIONS.filter((a) => actions.includes(a)),
    sensitiveBuckets,
    neverContain: c.stringList('containment.neverContain', PRINCIPAL_PATTERN, 'principal ARN patterns such as arn:aws:iam::*:role/OrganizationAccountAccessRole'),
    ...(alertTopicArn ? { alertTopicArn } : {}),
    ...(alertEmail ? { alertEmail } : {}),
  }
}

/**
 * Reads and validates a JSON config file. A missing or malformed file is a
 * {@link ValidationError} naming the path.
 */
export function loadConfigFile(path: string): ForensicsConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new ValidationError(`cannot read forensics config ${path}: create it (see forensics.config.json in the repository) or point FORENSICS_CONFIG at it`, { cause, field: '(file)' })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new ValidationError(`forensics config ${path} is not valid JSON: ${(cause as Error).message}`, { cause, field: '(file)' })
  }
  return parseConfig(raw)
}
