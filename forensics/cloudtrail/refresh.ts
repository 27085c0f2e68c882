/**
 * `--refresh`: a new capture of a slice request already captured, for log files delivered
 * late. Each refresh is its own capture (trigger id `<request>#refresh-<n>`, so a
 * redelivered refresh stays idempotent) recording `supersedes: <captureId>` of the latest
 * capture of the request, and what changed: files added, removed or changed, and events.
 */
import { gunzipSync } from 'node:zlib'
import { readCommittedCapture, type CaptureResult } from '../capture.js'
import type { EvidenceStore } from '../evidence-store.js'
import { deriveCaptureId, validateCaseId } from '../keys.js'

/** The trigger to use and the capture it supersedes (undefined when the request was never captured). */
export async function refreshTarget(store: EvidenceStore, caseId: string, collector: string, base: { source: string; id: string }): Promise<{ trigger: { source: string; id: string }; previous?: CaptureResult }> {
  validateCaseId(caseId)
  let previous = await readCommittedCapture(store, caseId, deriveCaptureId(collector, base.id))
  if (!previous) return { trigger: base }
  for (let n = 1; ; n++) {
    const id = `${base.id}#refresh-${n}`
    const next = await readCommittedCapture(store, caseId, deriveCaptureId(collector, id))
    if (!next) return { trigger: { source: base.source, id }, previous }
    previous = next
  }
}

/** What a refresh changed compared with the capture it supersedes. */
export interface SliceChanges {
  supersedes: string
  files: { added: string[]; removed: string[]; changed: string[] }
  events: { before: number; after: number; added: number; removed: number }
}

interface FileRef {
  bucket?: string
  key?: string
  sha256: string
}

async function artifactBytes(store: EvidenceStore, capture: CaptureResult, path: string): Promise<Buffer | undefined> {
  const a = capture.manifest.artifacts.find((x) => x.path === path)
  return a ? (await store.getBytes(a.key, a.versionId)).bytes : undefined
}

function eventIds(jsonLines: string): Set<string> {
  const ids = new Set<string>()
  for (const line of jsonLines.split('\n')) {
    if (!line) continue
    const id = (JSON.parse(line) as { eventID?: unknown }).eventID
    ids.add(typeof id === 'string' ? id : line)
  }
  return ids
}

/** Compares the refreshed slice (its files and event lines) with the previous capture's. */
export async function sliceChanges(store: EvidenceStore, previous: CaptureResult, now: { files: readonly FileRef[]; eventLines: readonly string[] }): Promise<SliceChanges> {
  const slice = await artifactBytes(store, previous, 'slice.json')
  const before = new Map<string, string>()
  for (const f of slice ? ((JSON.parse(slice.toString('utf8')) as { files?: FileRef[] }).files ?? []) : []) if (f.bucket && f.key) before.set(`s3://${f.bucket}/${f.key}`, f.sha256)
  const after = new Map<string, string>()
  for (const f of now.files) if (f.bucket && f.key) after.set(`s3://${f.bucket}/${f.key}`, f.sha256)
  const gz = await artifactBytes(store, previous, 'events.jsonl.gz')
  const oldIds = gz ? eventIds(gunzipSync(gz).toString('utf8')) : new Set<string>()
  const newIds = eventIds(now.eventLines.join('\n'))
  return {
    supersedes: previous.manifest.captureId,
    files: {
      added: [...after.keys()].filter((k) => !before.has(k)).sort(),
      removed: [...before.keys()].filter((k) => !after.has(k)).sort(),
      changed: [...after].filter(([k, h]) => before.has(k) && before.get(k) !== h).map(([k]) => k).sort(),
    },
    events: { before: oldIds.size, after: newIds.size, added: [...newIds].filter((i) => !oldIds.has(i)).length, removed: [...oldIds].filter((i) => !newIds.has(i)).length },
  }
}
