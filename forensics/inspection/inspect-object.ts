/**
 * Inspecting one object: its bytes are read once, hashed (SHA-256) while they stream,
 * looked up in the hash IOC lists and scanned by the YARA rules within a time budget.
 *
 * Verdicts:
 * - `hit`: a rule or an IOC matched (every match is listed, the severity is the highest);
 * - `clean`: read completely, nothing matched;
 * - `skipped-too-large`: larger than the size cap, not read (the announced size decides
 *   before a byte is read; a body that turns out longer is cut off and skipped too);
 * - `deleted`: the object (version) was gone before it could be read;
 * - `error`: it could not be inspected completely (read failure, scan past its budget);
 *   an IOC match still makes it a `hit` (with the scan failure as `reason`).
 */
import { createHash } from 'node:crypto'
import { severityAtLeast, type Severity } from './inspection-config.js'
import type { IocIndex } from './ioc-list.js'
import type { RuleMatch } from './yara-engine.js'

/** What is inspected: coordinates plus a way to open the bytes once. */
export interface ObjectToInspect {
  /** `s3://bucket/key` or a local path: how reports name it */
  name: string
  bucket?: string
  key?: string
  versionId?: string
  /** size known before opening (a listing, a file's stat), when known */
  size?: number
  /**
   * Opens the bytes once, with the size announced by the source (S3 Content-Length);
   * resolves `undefined` when the object no longer exists.
   */
  open(): Promise<OpenedObject | undefined>
}

/** An opened object: its body, and its size when the source announces it. */
export interface OpenedObject {
  body: AsyncIterable<Uint8Array> & { destroy?: () => void }
  size?: number
}

/** Verdict names. */
export type VerdictKind = 'hit' | 'clean' | 'skipped-too-large' | 'deleted' | 'error'

/** An IOC that matched. */
export interface IocMatch {
  sha256: string
  list: string
}

/** The outcome for one object. */
export interface Verdict {
  verdict: VerdictKind
  object: { name: string; bucket?: string; key?: string; versionId?: string }
  /** bytes read (all of them unless skipped, deleted or failed) */
  size?: number
  sha256?: string
  /** highest severity of the matches (hits only) */
  severity?: Severity
  rules: RuleMatch[]
  iocs: IocMatch[]
  /** why the object was skipped, gone or failed */
  reason?: string
}

/** The YARA side, as {@link inspectObject} needs it (a {@link YaraScanner}, or none without rules). */
export interface RuleScanner {
  scan(data: Uint8Array, budgetMs: number): Promise<RuleMatch[]>
}

/** Options of {@link inspectObject}. */
export interface InspectOptions {
  scanner?: RuleScanner
  iocs: IocIndex
  maxObjectBytes: number
  timeBudgetMs: number
}

/** IOC hits rank `high` (a known-bad file is more than a pattern), rules by their meta. */
export const IOC_SEVERITY: Severity = 'high'

/** The highest of several severities. */
export function highestSeverity(list: readonly Severity[]): Severity | undefined {
  return list.reduce<Severity | undefined>((a, b) => (a === undefined || severityAtLeast(b, a) ? b : a), undefined)
}

const coords = (o: ObjectToInspect): Verdict['object'] => ({
  name: o.name,
  ...(o.bucket !== undefined ? { bucket: o.bucket } : {}),
  ...(o.key !== undefined ? { key: o.key } : {}),
  ...(o.versionId !== undefined ? { versionId: o.versionId } : {}),
})

/** Inspects one object; never throws for the object's own problems (those are verdicts). */
export async function inspectObject(o: ObjectToInspect, opts: InspectOptions): Promise<Verdict> {
  const base = { object: coords(o), rules: [], iocs: [] }
  const tooLarge = (size: number): Verdict => ({ ...base, verdict: 'skipped-too-large', size, reason: `${size} bytes is over the inspection size cap of ${opts.maxObjectBytes} bytes (inspection.maxObjectBytes, or --max-bytes); not read` })
  if (o.size !== undefined && o.size > opts.maxObjectBytes) return tooLarge(o.size)

  const hash = createHash('sha256')
  const chunks: Uint8Array[] = []
  let bytes = 0
  try {
    const opened = await o.open()
    if (opened === undefined) return { ...base, verdict: 'deleted', reason: `${o.name} no longer exists: it was deleted (or overwritten) before it could be inspected` }
    if (opened.size !== undefined && opened.size > opts.maxObjectBytes) {
      opened.body.destroy?.()
      return tooLarge(opened.size)
    }
    for await (const chunk of opened.body) {
      bytes += chunk.length
      // a body longer than announced (or of unknown size) is cut off at the cap
      if (bytes > opts.maxObjectBytes) {
        opened.body.destroy?.()
        return tooLarge(bytes)
      }
      hash.update(chunk)
      if (opts.scanner) chunks.push(chunk)
    }
  } catch (e) {
    return { ...base, verdict: 'error', size: bytes, reason: `reading ${o.name} failed after ${bytes} bytes: ${(e as Error).message}` }
  }
  const sha256 = hash.digest('hex')
  const list = opts.iocs.get(sha256)
  const iocs: IocMatch[] = list ? [{ sha256, list }] : []
  let rules: RuleMatch[] = []
  if (opts.scanner) {
    // one fresh buffer, transferred to the worker (chunks may share a pool)
    const data = new Uint8Array(bytes)
    let at = 0
    for (const c of chunks) {
      data.set(c, at)
      at += c.length
    }
    chunks.length = 0
    try {
      rules = await opts.scanner.scan(data, opts.timeBudgetMs)
    } catch (e) {
      const reason = `${o.name}: ${(e as Error).message}`
      // a known-bad hash is a hit whatever the rules would have said
      if (iocs.length > 0) return { ...base, verdict: 'hit', size: bytes, sha256, severity: IOC_SEVERITY, iocs, reason }
      return { ...base, verdict: 'error', size: bytes, sha256, reason }
    }
  }
  const severity = highestSeverity([...rules.map((r) => r.severity), ...iocs.map(() => IOC_SEVERITY)])
  if (severity === undefined) return { ...base, verdict: 'clean', size: bytes, sha256 }
  return { ...base, verdict: 'hit', size: bytes, sha256, severity, rules, iocs }
}

/** Verdict counts, every kind present (zeros included). */
export function countVerdicts(verdicts: readonly Verdict[]): Record<VerdictKind, number> {
  const counts: Record<VerdictKind, number> = { hit: 0, clean: 0, 'skipped-too-large': 0, deleted: 0, error: 0 }
  for (const v of verdicts) counts[v.verdict]++
  return counts
}
