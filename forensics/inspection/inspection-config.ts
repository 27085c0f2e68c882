/**
 * The `inspection` section of the config: which uploads the inspector looks at, where its
 * YARA rules and hash IOC lists live, and its limits. Parsed by {@link parseInspectionSection}
 * from `parseConfig` (forensics/config.ts), so every mistake names its field.
 */
import type { Checker } from '../config.js'

/** Finding severities, lowest first (the names OCSF uses, lowercased). */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const

/** One of {@link SEVERITIES}. */
export type Severity = (typeof SEVERITIES)[number]

/** `a` is at or above `b`. */
export function severityAtLeast(a: Severity, b: Severity): boolean {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b)
}

/** An S3 object holding a rule file or an IOC list. */
export interface ObjectLocation {
  bucket: string
  key: string
}

/** One inspected bucket and the key prefixes inspected in it (empty: every key). */
export interface InspectedBucket {
  bucket: string
  prefixes: string[]
  /** the account owning the bucket (default: the forensics account); its stack enables EventBridge notifications */
  account: string
}

/** The validated `inspection` section. */
export interface InspectionConfig {
  enabled: boolean
  buckets: InspectedBucket[]
  /** YARA rule files (`s3://bucket/key`), compiled together; one bad file refuses them all. */
  rules: ObjectLocation[]
  /** Hash IOC lists: one lowercase or uppercase SHA-256 per line, `#` comments. */
  iocs: ObjectLocation[]
  /** Objects larger than this are not read (`skipped-too-large`), in bytes. */
  maxObjectBytes: number
  /** Per-object budget for the YARA scan, in milliseconds. */
  timeBudgetMs: number
  /** Hits at or above this severity chain into an object-versions capture of the key. */
  minSeverity: Severity
  /** Also send clean verdicts to the SIEM (default: counted, not sent). */
  reportClean: boolean
  /** Case id of the captures a hit starts (`{bucket}`, `{date}` placeholders). */
  caseIdTemplate: string
}

const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const S3_URL = /^s3:\/\/((?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.{1,1024})$/
const CASE_TEMPLATE = /^([A-Za-z0-9._-]|\{bucket\}|\{date\}){1,64}$/

/** Parses `s3://bucket/key`; undefined when it is not one. */
export function parseS3Url(url: string): ObjectLocation | undefined {
  const m = S3_URL.exec(url)
  return m ? { bucket: m[1], key: m[2] } : undefined
}

/** 1 GiB: the inspector holds an object in memory for the YARA scan. */
export const MAX_OBJECT_BYTES_LIMIT = 1024 * 1024 * 1024

/** Reads and checks `inspection` (defaults: disabled, 50 MiB, 20 s, minSeverity high). */
export function parseInspectionSection(c: Checker, accounts: { forensics: string; members: readonly string[] } = { forensics: '', members: [] }): InspectionConfig {
  c.object('inspection')
  const enabled = c.boolean('inspection.enabled', false)
  const buckets: InspectedBucket[] = []
  const rawBuckets = c.get('inspection.buckets')
  if (rawBuckets !== undefined && !Array.isArray(rawBuckets)) c.fail('inspection.buckets', 'must be a list of {"bucket": NAME, "prefixes": [...]} objects')
  for (const [i, raw] of (Array.isArray(rawBuckets) ? rawBuckets : []).entries()) {
    const field = `inspection.buckets[${i}]`
    const bucket = c.string(`${field}.bucket`, BUCKET, 'an S3 bucket name')
    const prefixes = c.stringList(`${field}.prefixes`, /^.{1,1024}$/, 'key prefixes (1–1024 characters)')
    const account = c.string(`${field}.account`, /^\d{12}$/, 'a 12-digit AWS account id', accounts.forensics)
    if (accounts.forensics !== '' && account !== accounts.forensics && !accounts.members.includes(account)) {
      c.fail(`${field}.account`, `${account} is neither the forensics account nor in memberAccounts: add it to memberAccounts (its stack enables the bucket's EventBridge notifications)`)
    }
    if (raw === null || typeof raw !== 'object') continue
    if (buckets.some((b) => b.bucket === bucket)) c.fail(`${field}.bucket`, `${bucket} is listed twice; put all its prefixes in one entry`)
    else buckets.push({ bucket, prefixes, account })
  }
  const locations = (field: string): ObjectLocation[] =>
    c.stringList(field, S3_URL, 's3://BUCKET/KEY locations').map((u) => parseS3Url(u) as ObjectLocation)
  const rules = locations('inspection.rules')
  const iocs = locations('inspection.iocs')
  if (enabled) {
    if (buckets.length === 0) c.fail('inspection.buckets', 'is required when inspection.enabled is true: list the buckets whose uploads are inspected')
    if (rules.length === 0 && iocs.length === 0) c.fail('inspection.rules', 'inspection is enabled with neither rules nor iocs: name at least one YARA rule file or IOC list (s3://BUCKET/KEY)')
  }
  const minSeverity = c.string('inspection.minSeverity', new RegExp(`^(${SEVERITIES.join('|')})$`), SEVERITIES.join(', '), 'high') as Severity
  return {
    enabled,
    buckets,
    rules,
    iocs,
    maxObjectBytes: c.integer('inspection.maxObjectBytes', 1, MAX_OBJECT_BYTES_LIMIT, 50 * 1024 * 1024),
    timeBudgetMs: c.integer('inspection.timeBudgetMs', 100, 900_000, 20_000),
    minSeverity,
    reportClean: c.boolean('inspection.reportClean', false),
    caseIdTemplate: c.string('inspection.caseIdTemplate', CASE_TEMPLATE, 'letters, digits, . _ - and the placeholders {bucket} and {date}', 'inspection-{bucket}-{date}'),
  }
}
