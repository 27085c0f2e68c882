/**
 * Scale-out of an object-versions capture on SQS, coordinated only through evidence objects
 * (no database): all written with If-None-Match under the capture's `artifacts/fanout/`.
 *
 *   fanout/<attempt>/pages/<n>.json     the listed entries of page n (written while listing)
 *   fanout/plan.json                    attempt id, page count, capture spec (written last;
 *                                       the first listing to write it wins)
 *   fanout/<attempt>/results/<n>.json   what the worker did with each entry of page n
 *
 * A worker copies its page, writes the page result, then lists the results: the worker
 * that sees all of them commits the capture (runCapture is idempotent, so two last workers
 * agree on one manifest). Redelivered messages find their result and only re-check.
 */
import { canonicalBytes } from '../canonical-json.js'
import { readCommittedCapture, runCapture, type CaptureDeps, type CaptureResult, type CaptureSpec } from '../capture.js'
import { ValidationError } from '../errors.js'
import { EvidenceExistsError, type EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import { artifactKey, validateCaptureId, validateCaseId } from '../keys.js'
import { forEachBounded } from './bounded.js'
import { copyVersion, type VersionSource } from './copy-version.js'
import { recordInventory, type InventoryEntry, type SelectionRecord } from './inventory.js'
import type { VersionEntry } from './list-versions.js'

/** Schema ids of the coordination documents and messages. */
export const FANOUT_SCHEMAS = {
  plan: 'forensics.object-versions.plan/v1',
  page: 'forensics.object-versions.page/v1',
  result: 'forensics.object-versions.page-result/v1',
  message: 'forensics.object-versions.page-message/v1',
} as const

/** The plan: the commit point of the listing. */
export interface FanOutPlan {
  schema: typeof FANOUT_SCHEMAS.plan
  attempt: string
  pages: number
  entries: number
  spec: CaptureSpec
  selection: SelectionRecord
  listingErrors: { what: string; code: string; message: string }[]
}

/** One SQS message: "capture page n of this capture". */
export interface PageMessage {
  schema: typeof FANOUT_SCHEMAS.message
  caseId: string
  captureId: string
  attempt: string
  page: number
}

/** Where page messages go (SQS in production and locally). */
export interface PageQueue {
  send(messages: PageMessage[]): Promise<void>
}

const pad = (n: number): string => String(n).padStart(6, '0')
/** Artifact paths of the coordination documents. */
export const fanOutPaths = {
  plan: 'fanout/plan.json',
  page: (attempt: string, n: number): string => `fanout/${attempt}/pages/${pad(n)}.json`,
  result: (attempt: string, n: number): string => `fanout/${attempt}/results/${pad(n)}.json`,
  results: (attempt: string): string => `fanout/${attempt}/results/`,
}

async function readDoc<T>(store: EvidenceStore, caseId: string, captureId: string, path: string): Promise<{ doc: T; versionId: string; sha256: string; size: number } | undefined> {
  const key = artifactKey(caseId, captureId, path)
  const head = await store.head(key)
  if (!head) return undefined
  const { bytes, versionId } = await store.getBytes(key, head.versionId)
  return { doc: JSON.parse(bytes.toString('utf8')) as T, versionId, sha256: sha256Hex(bytes), size: bytes.length }
}

/** Writes a document unless it exists (then the existing one stands). Returns true when written. */
async function putDoc(store: EvidenceStore, caseId: string, captureId: string, path: string, doc: unknown): Promise<boolean> {
  try {
    await store.put({ key: artifactKey(caseId, captureId, path), body: canonicalBytes(doc), contentType: 'application/json' })
    return true
  } catch (e) {
    if (e instanceof EvidenceExistsError) return false
    throw e
  }
}

/** Reads the plan of a capture, if its listing finished. */
export async function readPlan(store: EvidenceStore, caseId: string, captureId: string): Promise<FanOutPlan | undefined> {
  return (await readDoc<FanOutPlan>(store, caseId, captureId, fanOutPaths.plan))?.doc
}

/** Writes one listed page. */
export async function writePage(store: EvidenceStore, caseId: string, captureId: string, attempt: string, page: number, entries: VersionEntry[]): Promise<void> {
  await putDoc(store, caseId, captureId, fanOutPaths.page(attempt, page), { schema: FANOUT_SCHEMAS.page, attempt, page, entries })
}

/** Writes the plan; when another listing won the race, returns the winner's plan. */
export async function writePlan(store: EvidenceStore, caseId: string, captureId: string, plan: FanOutPlan): Promise<FanOutPlan> {
  if (await putDoc(store, caseId, captureId, fanOutPaths.plan, plan)) return plan
  return (await readPlan(store, caseId, captureId))!
}

/** Page numbers of the plan that have no result yet. */
export async function pagesWithoutResult(store: EvidenceStore, caseId: string, captureId: string, plan: FanOutPlan): Promise<number[]> {
  const done = new Set<string>()
  // artifactKey refuses a trailing slash: build the folder's key from a file in it
  const prefix = artifactKey(caseId, captureId, `${fanOutPaths.results(plan.attempt)}_`).slice(0, -1)
  for await (const { key } of store.list(prefix)) done.add(key)
  const missing: number[] = []
  for (let n = 0; n < plan.pages; n++) if (!done.has(artifactKey(caseId, captureId, fanOutPaths.result(plan.attempt, n)))) missing.push(n)
  return missing
}

/** Sends a message for every page that has no result yet. */
export async function enqueueMissingPages(store: EvidenceStore, queue: PageQueue, caseId: string, captureId: string, plan: FanOutPlan): Promise<number> {
  const missing = await pagesWithoutResult(store, caseId, captureId, plan)
  await queue.send(missing.map((page) => ({ schema: FANOUT_SCHEMAS.message, caseId, captureId, attempt: plan.attempt, page })))
  return missing.length
}

/** Parses and checks a page message (a permanent ValidationError when malformed). */
export function parsePageMessage(body: string): PageMessage {
  let m: Partial<PageMessage>
  try {
    m = JSON.parse(body) as Partial<PageMessage>
  } catch (e) {
    throw new ValidationError(`fan-out message is not JSON: ${(e as Error).message}`, { field: 'body' })
  }
  if (m?.schema !== FANOUT_SCHEMAS.message || typeof m.attempt !== 'string' || !/^[0-9a-f-]{8,64}$/.test(m.attempt) || !Number.isInteger(m.page) || (m.page as number) < 0) {
    throw new ValidationError(`fan-out message is not a ${FANOUT_SCHEMAS.message}: ${body.slice(0, 200)}`, { field: 'body' })
  }
  return { schema: m.schema, caseId: validateCaseId(m.caseId), captureId: validateCaptureId(m.captureId), attempt: m.attempt, page: m.page as number }
}

/** What handling one page message did. */
export interface PageOutcome {
  page: number
  /** false when this page's result existed already (a redelivery) or the plan moved on */
  processed: boolean
  /** set when this worker committed the capture (or found it committed) */
  committed?: CaptureResult
}

/** Options of a page worker. */
export interface PageWorkerOptions {
  concurrency?: number
  byteBudget?: number
}

/**
 * Handles one page message: copies the page's versions (bounded, streamed), writes the page
 * result, and commits the capture when every page has a result.
 */
export async function processPage(deps: CaptureDeps, sourceFor: (plan: FanOutPlan) => Promise<VersionSource>, msg: PageMessage, opts: PageWorkerOptions = {}): Promise<PageOutcome> {
  const { store } = deps
  const { caseId, captureId } = msg
  const committed = await readCommittedCapture(store, caseId, captureId)
  if (committed) return { page: msg.page, processed: false, committed }
  const plan = await readPlan(store, caseId, captureId)
  if (!plan) throw new ValidationError(`fan-out page ${msg.page} of capture ${captureId} (case ${caseId}) has no plan at ${fanOutPaths.plan}; the message does not belong to a listed capture`)
  if (plan.attempt !== msg.attempt || msg.page >= plan.pages) return { page: msg.page, processed: false }
  let processed = false
  const resultPath = fanOutPaths.result(plan.attempt, msg.page)
  if (!(await store.head(artifactKey(caseId, captureId, resultPath)))) {
    const page = await readDoc<{ entries: VersionEntry[] }>(store, caseId, captureId, fanOutPaths.page(plan.attempt, msg.page))
    if (!page) throw new ValidationError(`fan-out page ${msg.page} of capture ${captureId} is missing at ${fanOutPaths.page(plan.attempt, msg.page)}`)
    const source = await sourceFor(plan)
    const results: InventoryEntry[] = []
    await forEachBounded(page.doc.entries, { concurrency: opts.concurrency ?? 16, budget: opts.byteBudget ?? 96 * 1024 * 1024, weight: (e) => Math.min(e.size ?? 0, 40 * 1024 * 1024) }, async (e) => {
      results.push({ ...e, capture: await copyVersion(source, store, caseId, captureId, e) })
    })
    processed = await putDoc(store, caseId, captureId, resultPath, { schema: FANOUT_SCHEMAS.result, attempt: plan.attempt, page: msg.page, entries: results.map((r) => ({ key: r.key, versionId: r.versionId, capture: r.capture })) })
  }
  if ((await pagesWithoutResult(store, caseId, captureId, plan)).length > 0) return { page: msg.page, processed }
  return { page: msg.page, processed, committed: await commitFanOut(deps, caseId, captureId, plan, opts) }
}

/** Commits a fan-out capture whose pages all have results: one manifest listing every version. */
export async function commitFanOut(deps: CaptureDeps, caseId: string, captureId: string, plan: FanOutPlan, opts: PageWorkerOptions = {}): Promise<CaptureResult> {
  return runCapture(deps, plan.spec, async (ctx) => {
    if (ctx.captureId !== captureId) throw new ValidationError(`plan of capture ${captureId} describes capture ${ctx.captureId}`)
    const entries: InventoryEntry[] = []
    const docs: { path: string; versionId: string; sha256: string; size: number }[] = []
    const planDoc = await readDoc<FanOutPlan>(deps.store, caseId, captureId, fanOutPaths.plan)
    docs.push({ path: fanOutPaths.plan, ...planDoc! })
    for (let n = 0; n < plan.pages; n++) {
      const page = await readDoc<{ entries: VersionEntry[] }>(deps.store, caseId, captureId, fanOutPaths.page(plan.attempt, n))
      const result = await readDoc<{ entries: { key: string; versionId: string; capture: InventoryEntry['capture'] }[] }>(deps.store, caseId, captureId, fanOutPaths.result(plan.attempt, n))
      if (!page || !result) throw new ValidationError(`fan-out page ${n} of capture ${captureId} is incomplete; cannot commit`)
      docs.push({ path: fanOutPaths.page(plan.attempt, n), ...page }, { path: fanOutPaths.result(plan.attempt, n), ...result })
      const byId = new Map(result.doc.entries.map((r) => [`${r.key}\u0000${r.versionId}`, r.capture]))
      for (const e of page.doc.entries) {
        const capture = byId.get(`${e.key}\u0000${e.versionId}`)
        entries.push({ ...e, capture: capture ?? { status: 'failed', code: 'MissingResult', message: `page ${n} result has no entry for this version` } })
      }
    }
    for (const d of docs) await ctx.adoptArtifact(d.path, d, { contentType: 'application/json' })
    for (const e of plan.listingErrors) ctx.recordError(e)
    await recordInventory(ctx, plan.selection, entries, { confirmed: false, concurrency: opts.concurrency, fanOut: { attempt: plan.attempt, pages: plan.pages } })
  })
}
