/**
 * The object-versions capture: every version and delete marker of some keys or a prefix,
 * with the bytes of each version streamed into the evidence store. Small sets are captured
 * in one run; above a threshold the listing is split into pages for SQS workers
 * ({@link processPage}) and the capture commits when the last page is done.
 */
import { randomUUID } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'
import { classifyFailure } from '../bucket-config/snapshot.js'
import { readCommittedCapture, runCapture, type CaptureDeps, type CaptureResult, type CaptureSpec } from '../capture.js'
import { ForensicsError, ValidationError } from '../errors.js'
import { deriveCaptureId, validateCaseId } from '../keys.js'
import { validateBucketName } from '../bucket-config/capture-bucket-config.js'
import { forEachBounded } from './bounded.js'
import { copyVersion } from './copy-version.js'
import { enqueueMissingPages, FANOUT_SCHEMAS, readPlan, writePage, writePlan, type FanOutPlan, type PageQueue } from './fan-out.js'
import { recordInventory, type InventoryEntry, type SelectionRecord } from './inventory.js'
import { listVersionEntries, type VersionEntry } from './list-versions.js'
import { RetriesExhaustedError } from '../retry.js'

/** Collector name (also the capture id prefix). */
export const OBJECT_VERSIONS_COLLECTOR = { name: 'object-versions', version: '1.0.0' } as const

/** One object-versions capture request. */
export interface ObjectVersionsRequest {
  caseId: string
  bucket: string
  keys?: string[]
  prefix?: string
  since?: Date
  until?: Date
  accountId?: string
  region?: string
  trigger: { source: string; id: string }
  actor?: { principalArn?: string; requestId?: string }
  /** the trigger id was minted for this run (e.g. `cli:<random UUID>`): nothing can be committed under it, the redelivery check is skipped */
  freshTrigger?: boolean
}

/** Fan-out settings: above `threshold` entries, pages of `pageSize` go to `queue`. */
export interface FanOutOptions {
  threshold: number
  pageSize: number
  queue: PageQueue
}

/** Tuning of a capture. */
export interface ObjectVersionsOptions {
  /** versions copied at once (default 16) */
  concurrency?: number
  /** bytes buffered by copies in flight (default 96 MiB) */
  byteBudget?: number
  /** without it, everything is captured in this run */
  fanOut?: FanOutOptions
  /** told after each version or delete marker is captured in this run (progress) */
  onCaptured?: (entry: InventoryEntry) => void
}

/** Result: committed now, or handed to the fan-out workers. */
export type ObjectVersionsOutcome =
  | { kind: 'committed'; result: CaptureResult }
  | { kind: 'pending'; caseId: string; captureId: string; pages: number; entries: number; enqueued: number }

/** Checks a request; throws a ValidationError naming the field. */
export function validateObjectVersionsRequest(req: ObjectVersionsRequest): SelectionRecord {
  validateCaseId(req.caseId)
  validateBucketName(req.bucket)
  if ((req.keys?.length ? 1 : 0) + (req.prefix !== undefined ? 1 : 0) !== 1) {
    throw new ValidationError('give either keys (one or more) or a prefix, not both and not neither', { field: 'keys' })
  }
  for (const k of req.keys ?? []) {
    if (typeof k !== 'string' || k.length === 0 || Buffer.byteLength(k) > 1024) throw new ValidationError(`invalid object key ${JSON.stringify(String(k).slice(0, 80))}: 1-1024 bytes`, { field: 'keys' })
  }
  if (req.prefix !== undefined && (typeof req.prefix !== 'string' || Buffer.byteLength(req.prefix) > 1024)) throw new ValidationError('prefix must be a string of at most 1024 bytes', { field: 'prefix' })
  for (const [f, d] of [['since', req.since], ['until', req.until]] as const) {
    if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()))) throw new ValidationError(`${f} is not a valid time: use ISO 8601, e.g. 2026-11-29T10:00:00Z`, { field: f })
  }
  if (req.since && req.until && req.since >= req.until) throw new ValidationError(`since (${req.since.toISOString()}) must be before until (${req.until.toISOString()})`, { field: 'since' })
  return {
    bucket: req.bucket,
    ...(req.keys ? { keys: [...req.keys] } : { prefix: req.prefix }),
    ...(req.since ? { since: req.since.toISOString() } : {}),
    ...(req.until ? { until: req.until.toISOString() } : {}),
    ...(req.accountId ? { accountId: req.accountId } : {}),
    ...(req.region ? { region: req.region } : {}),
  }
}

function captureSpec(req: ObjectVersionsRequest, selection: SelectionRecord): CaptureSpec {
  return { caseId: req.caseId, collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: req.trigger, actor: req.actor, target: { ...selection } }
}

function listingError(bucket: string, e: unknown): { what: string; code: string; message: string } {
  const f = classifyFailure(e)
  const hint = f.code === 'NoSuchBucket' ? ': the bucket does not exist (check the name, --account and --region)' : f.outcome === 'denied' ? ': the capture role may not list versions (s3:ListBucketVersions)' : ''
  return { what: `ListObjectVersions s3://${bucket}`, code: f.code, message: `${f.message}${hint}` }
}

/**
 * Captures the selected versions. Idempotent by trigger id: a committed capture is
 * returned as it is, a fan-out in progress has its missing pages enqueued again.
 */
export async function captureObjectVersions(deps: CaptureDeps, s3: S3Client, req: ObjectVersionsRequest, opts: ObjectVersionsOptions = {}): Promise<ObjectVersionsOutcome> {
  const selection = validateObjectVersionsRequest(req)
  const spec = captureSpec(req, selection)
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, req.trigger.id)
  await deps.store.assertLocked()
  const committed = req.freshTrigger ? undefined : await readCommittedCapture(deps.store, req.caseId, captureId)
  if (committed) return { kind: 'committed', result: committed }
  // checked just now (or the trigger is new): runCapture need not read it again
  const source = { s3, bucket: req.bucket }
  const sel = { ...req, keys: req.keys }
  const copyInto = async (entries: InventoryEntry[], ctx: { caseId: string; captureId: string }, e: VersionEntry): Promise<void> => {
    const entry = { ...e, capture: await copyVersion(source, deps.store, ctx.caseId, ctx.captureId, e) }
    entries.push(entry)
    opts.onCaptured?.(entry)
  }
  const copyOpts = { concurrency: opts.concurrency ?? 16, budget: opts.byteBudget ?? 96 * 1024 * 1024, weight: (e: VersionEntry) => Math.min(e.size ?? 0, 40 * 1024 * 1024) }

  if (!opts.fanOut) {
    const result = await runCapture(deps, { ...spec, knownUncommitted: true }, async (ctx) => {
      const entries: InventoryEntry[] = []
      let listingFailure: { error: unknown } | undefined
      // a failing listing ends the listing, not the copies in flight: the versions listed
      // before the failure are captured and inventoried (forEachBounded would rethrow an
      // iterator error at once, before its running copies settle)
      async function* listed(): AsyncGenerator<VersionEntry> {
        try {
          yield* listVersionEntries(s3, sel)
        } catch (error) {
          listingFailure = { error }
        }
      }
      // failures of our own (evidence store, integrity) abort the capture; the source's are recorded
      await forEachBounded(listed(), copyOpts, async (e) => copyInto(entries, ctx, e))
      if (listingFailure) {
        // our own failures abort; the source's (also when its retries ran out) are recorded
        if (listingFailure.error instanceof ForensicsError && !(listingFailure.error instanceof RetriesExhaustedError)) throw listingFailure.error
        ctx.recordError(listingError(req.bucket, listingFailure.error))
      }
      await recordInventory(ctx, selection, entries, { confirmed: true, concurrency: copyOpts.concurrency })
    })
    return { kind: 'committed', result }
  }

  const { fanOut } = opts
  const existing = await readPlan(deps.store, req.caseId, captureId)
  if (existing) {
    const enqueued = await enqueueMissingPages(deps.store, fanOut.queue, req.caseId, captureId, existing)
    return { kind: 'pending', caseId: req.caseId, captureId, pages: existing.pages, entries: existing.entries, enqueued }
  }

  // List until the threshold is passed; a small set is captured right here.
  const listing = listVersionEntries(s3, sel)
  const head: VersionEntry[] = []
  let listingFailure: { what: string; code: string; message: string } | undefined
  let exhausted = false
  try {
    for (;;) {
      const next = await listing.next()
      if (next.done) {
        exhausted = true
        break
      }
      head.push(next.value)
      if (head.length > fanOut.threshold) break
    }
  } catch (e) {
    listingFailure = listingError(req.bucket, e)
    exhausted = true
  }
  if (exhausted) {
    const result = await runCapture(deps, { ...spec, knownUncommitted: true }, async (ctx) => {
      const entries: InventoryEntry[] = []
      await forEachBounded(head, copyOpts, async (e) => copyInto(entries, ctx, e))
      if (listingFailure) ctx.recordError(listingFailure)
      await recordInventory(ctx, selection, entries, { confirmed: true, concurrency: copyOpts.concurrency })
    })
    return { kind: 'committed', result }
  }

  const attempt = randomUUID()
  let pages = 0
  let count = 0
  let buffer: VersionEntry[] = []
  const flush = async (): Promise<void> => {
    await writePage(deps.store, req.caseId, captureId, attempt, pages++, buffer)
    count += buffer.length
    buffer = []
  }
  const listingErrors: FanOutPlan['listingErrors'] = []
  const push = async (e: VersionEntry): Promise<void> => {
    buffer.push(e)
    if (buffer.length >= fanOut.pageSize) await flush()
  }
  for (const e of head) await push(e)
  try {
    for await (const e of { [Symbol.asyncIterator]: () => listing }) await push(e)
  } catch (e) {
    listingErrors.push(listingError(req.bucket, e))
  }
  if (buffer.length) await flush()
  const plan = await writePlan(deps.store, req.caseId, captureId, { schema: FANOUT_SCHEMAS.plan, attempt, pages, entries: count, spec, selection, listingErrors })
  const enqueued = await enqueueMissingPages(deps.store, fanOut.queue, req.caseId, captureId, plan)
  return { kind: 'pending', caseId: req.caseId, captureId, pages: plan.pages, entries: plan.entries, enqueued }
}
