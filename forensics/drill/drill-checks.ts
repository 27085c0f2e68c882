/**
 * The drill's checks, as data (cdk-nag style): each a small named function that looks at
 * what the drill gathered and returns a verdict with the evidence it rests on. A check
 * never throws: an unexpected error is a `fail` whose evidence names it.
 */
import { gunzipSync } from 'node:zlib'
import { casePrefix } from '../keys.js'
import type { CustodyChain, CustodyEntry } from '../custody.js'
import type { EvidenceStore } from '../evidence-store.js'
import type { Manifest } from '../manifest.js'
import { verifyCapture, type VerificationFinding } from '../verify-capture.js'
import type { DestinationRecord } from '../runtime/destination-record.js'
import type { CanaryChanges } from './canary-incident.js'
import type { CheckResult } from './drill-report.js'
import type { DrillInspection } from './inspection-phase.js'

/** A capture the drill saw committed and sealed. */
export interface DrillCapture {
  /** `baseline` or `incident` */
  phase: 'baseline' | 'incident'
  collector: string
  captureId: string
  manifestKey: string
  manifestVersionId: string
  manifestSha256: string
  manifest: Manifest
  custody: CustodyEntry
}

/** A bundle built and verified by the drill. */
export interface DrillBundle {
  path: string
  sha256: string
  files: number
  /** verification findings, one line each naming the file (empty: verified) */
  findings: string[]
}

/** Port: builds a bundle of a case and verifies it offline. */
export interface BundleRunner {
  buildAndVerify(caseId: string): Promise<DrillBundle>
}

/** Everything the checks look at. */
export interface DrillContext {
  caseId: string
  store: EvidenceStore
  publicKeyPem: string
  chain: CustodyChain
  startedAt: Date
  canary: CanaryChanges
  expectedCollectors: readonly string[]
  captures: DrillCapture[]
  /** the SIEM finding message that reported the public grant (undefined: none arrived) */
  siemFinding?: unknown
  /** finding types a public grant may carry, for the evidence line */
  siemFindingWanted: string
  /** the destination record of the deliberately failing capture on the dead-letter queue */
  deadLetter?: DestinationRecord
  badTrigger: { collector: string; bucket: string }
  bundles: BundleRunner
  /** set by the bundle check for the report */
  bundle?: DrillBundle
  /** what the inspection phase saw (absent: the phase did not run) */
  inspection?: DrillInspection
}

/** One named check. */
export interface DrillCheck {
  name: string
  description: string
  run(ctx: DrillContext): Promise<Omit<CheckResult, 'name'>>
}

const pass = (summary: string, evidence: Record<string, unknown>): Omit<CheckResult, 'name'> => ({ verdict: 'pass', summary, evidence })
const fail = (summary: string, evidence: Record<string, unknown>): Omit<CheckResult, 'name'> => ({ verdict: 'fail', summary, evidence })

const INTEGRITY_CODES: readonly VerificationFinding['code'][] = ['manifest-missing', 'manifest-invalid', 'signature-missing', 'signature-invalid', 'artifact-missing', 'size-mismatch', 'hash-mismatch']
const RETENTION_CODES: readonly VerificationFinding['code'][] = ['retention-missing', 'retention-short']

/** verifyCapture results, computed once per drill for two checks. */
const verified = new WeakMap<DrillContext, Promise<{ capture: DrillCapture; findings: VerificationFinding[] }[]>>()
function verifyAll(ctx: DrillContext): Promise<{ capture: DrillCapture; findings: VerificationFinding[] }[]> {
  let p = verified.get(ctx)
  if (!p) {
    p = Promise.all(ctx.captures.map(async (capture) => ({ capture, findings: (await verifyCapture(ctx.store, ctx.caseId, capture.captureId, { publicKeyPem: ctx.publicKeyPem })).findings })))
    verified.set(ctx, p)
  }
  return p
}

/** True when the capture's manifest, or one of its small (≤ 1 MiB) artifacts, mentions `text`. */
async function mentions(store: EvidenceStore, capture: DrillCapture, text: string): Promise<boolean> {
  if (JSON.stringify(capture.manifest).includes(text)) return true
  for (const a of capture.manifest.artifacts) {
    if (a.size > 1024 * 1024) continue
    let bytes = (await store.getBytes(a.key, a.versionId)).bytes
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes)
    if (bytes.includes(text)) return true
  }
  return false
}

/** The checks, in the order they run and are reported. */
export const DRILL_CHECKS: readonly DrillCheck[] = [
  {
    name: 'captures-committed',
    description: 'every collector committed a capture of the incident and the custody recorder sealed it',
    async run(ctx) {
      const incident = ctx.captures.filter((c) => c.phase === 'incident')
      const missing = ctx.expectedCollectors.filter((name) => !incident.some((c) => c.collector === name))
      const evidence = { captures: incident.map((c) => ({ collector: c.collector, manifestKey: c.manifestKey, status: c.manifest.status, custodySeq: c.custody.seq })), missing }
      return missing.length ? fail(`no sealed capture from ${missing.join(', ')}`, evidence) : pass(`${incident.length} captures committed and sealed in custody`, evidence)
    },
  },
  {
    name: 'cloudtrail-slice-provable',
    description: "the incident's CloudTrail slice is provable: it scanned the incident's log file(s) and every one is digest-valid (hash and SHA256withRSA signature), so the capture is complete",
    async run(ctx) {
      const ct = ctx.captures.find((c) => c.phase === 'incident' && c.collector === 'cloudtrail-slice')
      if (!ct) return fail('no CloudTrail slice capture of the incident', { captureId: null })
      const summary = (ct.manifest.summary ?? {}) as { verdicts?: Record<string, unknown>; events?: unknown }
      const verdicts = Object.fromEntries(Object.entries(summary.verdicts ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'))
      const files = Object.values(verdicts).reduce((n, v) => n + v, 0)
      const valid = verdicts.valid ?? 0
      const evidence = { captureId: ct.captureId, status: ct.manifest.status, verdicts, events: summary.events ?? null }
      if (files === 0) return fail('the slice scanned no archive log file: nothing of the incident is provable', evidence)
      if (valid !== files || ct.manifest.status !== 'complete') {
        const other = Object.entries(verdicts).filter(([k]) => k !== 'valid').map(([k, n]) => `${k} ${n}`).join(', ')
        return fail(`${files - valid} of ${files} log file(s) not digest-valid (${other || 'none'}); capture status ${ct.manifest.status}`, evidence)
      }
      return pass(`${valid} log file(s) digest-valid; ${String(summary.events ?? 0)} event(s) provable`, evidence)
    },
  },
  {
    name: 'artifacts-match-sha256',
    description: 'every expected artifact is present at its recorded version with the SHA-256 of its manifest, and every manifest signature verifies',
    async run(ctx) {
      const results = await verifyAll(ctx)
      const problems = results.flatMap((r) => r.findings.filter((f) => INTEGRITY_CODES.includes(f.code)).map((f) => ({ code: f.code, subject: f.subject, message: f.message })))
      const artifacts = results.reduce((n, r) => n + r.capture.manifest.artifacts.length, 0)
      // the object-versions capture must hold the bytes of every version the incident
      // created, and record its delete marker (in the manifest or a listing artifact)
      const ov = ctx.captures.find((c) => c.phase === 'incident' && c.collector === 'object-versions')
      const absent: string[] = []
      if (ov) {
        const copied = new Set(ov.manifest.artifacts.map((a) => String(a.source?.versionId ?? '')))
        absent.push(...[...ctx.canary.objectVersionIds, ctx.canary.deletedVersionId].filter((v) => !copied.has(v)))
        if (!(await mentions(ctx.store, ov, ctx.canary.deleteMarkerVersionId))) absent.push(`${ctx.canary.deleteMarkerVersionId} (delete marker)`)
      }
      const evidence = { artifactsVerified: artifacts, captures: results.length, mismatches: problems, canaryVersionsNotCaptured: absent }
      if (problems.length) return fail(`${problems.length} artifact(s) fail: ${[...new Set(problems.map((p) => `${p.code} ${p.subject}`))].join('; ')}`, evidence)
      if (absent.length) return fail(`the object-versions capture lacks canary version(s) ${absent.join(', ')}`, evidence)
      return pass(`${artifacts} artifacts in ${results.length} captures re-read with matching SHA-256`, evidence)
    },
  },
  {
    name: 'retention-on-evidence',
    description: `every evidence object of the case carries Object Lock retention of the configured mode and length`,
    async run(ctx) {
      const results = await verifyAll(ctx)
      const problems: { key: string; message: string }[] = results.flatMap((r) => r.findings.filter((f) => RETENTION_CODES.includes(f.code)).map((f) => ({ key: f.subject, message: f.message })))
      const { mode, days } = ctx.store.retention
      let objects = 0
      for await (const o of ctx.store.list(casePrefix(ctx.caseId))) {
        objects++
        const head = await ctx.store.head(o.key)
        // judged from the object's own write time (every object was written after the drill started)
        const required = (head?.lastModified ?? ctx.startedAt).getTime() + days * 86_400_000 - 5 * 60_000
        if (!head?.retentionMode || !head.retainUntil) problems.push({ key: o.key, message: `s3://${ctx.store.bucket}/${o.key} has no Object Lock retention` })
        else if (head.retentionMode !== mode || head.retainUntil.getTime() < required) {
          problems.push({ key: o.key, message: `s3://${ctx.store.bucket}/${o.key} is retained ${head.retentionMode} until ${head.retainUntil.toISOString()}, less than ${mode} ${days} days` })
        }
      }
      const evidence = { objects, mode, days, problems }
      return problems.length ? fail(`${problems.length} evidence object(s) lack retention: ${problems.map((p) => p.key).join(', ')}`, evidence) : pass(`${objects} evidence objects retained ${mode} for ${days} day(s)`, evidence)
    },
  },
  {
    name: 'evidence-delete-refused',
    description: 'deleting a version of an evidence object is refused and the version is still there',
    async run(ctx) {
      const capture = ctx.captures.find((c) => c.phase === 'incident' && c.manifest.artifacts.length > 0) ?? ctx.captures[0]
      if (!capture) return fail('no evidence object to try deleting', {})
      const target = capture.manifest.artifacts[0] ?? { key: capture.manifestKey, versionId: capture.manifestVersionId }
      const refusal = await ctx.store.tryDelete(target.key, target.versionId)
      const still = await ctx.store.head(target.key, target.versionId)
      const evidence = { key: target.key, versionId: target.versionId, refusal: refusal ?? null, stillPresent: Boolean(still) }
      if (!refusal || !still) return fail(`DeleteObject of s3://${ctx.store.bucket}/${target.key} version ${target.versionId} was NOT refused: the evidence bucket is not locked`, evidence)
      return pass(`DeleteObject of ${target.key} version ${target.versionId} refused with ${refusal}`, evidence)
    },
  },
  {
    name: 'bundle-builds-and-verifies',
    description: 'a bundle of the drill case builds and verifies offline (hashes, chain, signatures)',
    async run(ctx) {
      const bundle = await ctx.bundles.buildAndVerify(ctx.caseId)
      ctx.bundle = bundle
      const evidence = { path: bundle.path, sha256: bundle.sha256, files: bundle.files, findings: bundle.findings }
      return bundle.findings.length ? fail(`bundle ${bundle.path} does not verify: ${bundle.findings.join('; ')}`, evidence) : pass(`${bundle.path} (${bundle.files} files) verifies`, evidence)
    },
  },
  {
    name: 'custody-chain-valid',
    description: 'the case custody chain has no gap, fork, broken link, bad hash or bad signature',
    async run(ctx) {
      const findings = await ctx.chain.verify(ctx.publicKeyPem)
      const entries = await ctx.chain.read()
      const evidence = { entries: entries.length, head: entries.at(-1)?.hash ?? null, actions: entries.map((e) => e.action), findings }
      return findings.length ? fail(`${findings.length} chain problem(s): ${findings.map((f) => `${f.code} ${f.subject}`).join('; ')}`, evidence) : pass(`${entries.length} entries, head ${String(evidence.head).slice(0, 16)}…`, evidence)
    },
  },
  {
    name: 'siem-public-grant-finding',
    description: 'the finding that the canary bucket policy grants public read reached the SIEM topic',
    async run(ctx) {
      const evidence = { wanted: ctx.siemFindingWanted, bucket: ctx.canary.bucket, message: ctx.siemFinding ?? null }
      return ctx.siemFinding ? pass(`public-grant finding on ${ctx.canary.bucket} received from the SIEM topic`, evidence) : fail(`no ${ctx.siemFindingWanted} finding for ${ctx.canary.bucket} arrived on the SIEM topic`, evidence)
    },
  },
  {
    name: 'failure-reached-dlq',
    description: 'a deliberately failing capture (bad bucket) ended on the OnFailure dead-letter queue with its error',
    async run(ctx) {
      const r = ctx.deadLetter
      const evidence = { collector: ctx.badTrigger.collector, bucket: ctx.badTrigger.bucket, record: r ? { requestContext: r.requestContext, responsePayload: r.responsePayload } : null }
      if (!r) return fail(`no destination record for the failing ${ctx.badTrigger.collector} capture of ${ctx.badTrigger.bucket} on the dead-letter queue`, evidence)
      const err = r.responsePayload as { errorType?: string; errorMessage?: string } | undefined
      return pass(`${r.requestContext.condition} after ${r.requestContext.approximateInvokeCount} attempt(s): ${err?.errorType ?? 'error'}`, evidence)
    },
  },
]

/** The checks of the inspection phase (run when it ran: inspection enabled on the canary bucket). */
export const INSPECTION_CHECKS: readonly DrillCheck[] = [
  {
    name: 'inspection-hit-routed',
    description: "the inspector's hit on the canary's EICAR test upload reached the SIEM topic as an OCSF Detection Finding",
    async run(ctx) {
      const i = ctx.inspection
      if (!i) return fail('the inspection phase did not run', {})
      const object = `s3://${i.bucket}/${i.key}`
      const evidence = { object, versionId: i.versionId, message: i.finding ?? null, ...(i.error ? { error: i.error } : {}) }
      return i.finding !== undefined ? pass(`Detection Finding on ${object} received from the SIEM topic`, evidence) : fail(`no inspection finding for ${object} arrived on the SIEM topic${i.error ? ` (${i.error})` : ''}`, evidence)
    },
  },
  {
    name: 'inspection-hit-captured',
    description: 'the hit chained into a committed object-versions capture of the uploaded key whose artifact has the SHA-256 of the uploaded file',
    async run(ctx) {
      const i = ctx.inspection
      if (!i) return fail('the inspection phase did not run', {})
      const object = `s3://${i.bucket}/${i.key}`
      const c = i.capture
      const evidence = { object, versionId: i.versionId, caseId: i.caseId, uploadedSha256: i.sha256, capture: c ?? null, ...(i.error ? { error: i.error } : {}) }
      if (!c?.artifact) return fail(`no committed capture of ${object} in case ${i.caseId || '(none)'}${i.error ? ` (${i.error})` : ''}`, evidence)
      if (c.collector !== 'object-versions') return fail(`the capture of ${object} is from ${c.collector}, not object-versions`, evidence)
      if (c.artifact.sha256 !== i.sha256) return fail(`the captured artifact ${c.artifact.key} has SHA-256 ${c.artifact.sha256}, the uploaded file ${i.sha256}`, evidence)
      return pass(`${c.manifestKey} holds ${object} with the uploaded SHA-256`, evidence)
    },
  },
]

/** Runs every check; a check that throws fails with the error as evidence. */
export async function runDrillChecks(ctx: DrillContext, checks: readonly DrillCheck[] = DRILL_CHECKS): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  for (const check of checks) {
    try {
      out.push({ name: check.name, ...(await check.run(ctx)) })
    } catch (e) {
      out.push({ name: check.name, verdict: 'fail', summary: `check could not run: ${(e as Error).message}`, evidence: { error: (e as Error).name, message: (e as Error).message } })
    }
  }
  return out
}
