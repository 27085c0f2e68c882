/**
 * Which artifacts the case report reads besides the manifests and the custody chain: the
 * `events.jsonl.gz` and `slice.json` of every CloudTrail slice capture. The report is
 * rendered from exactly these bytes, checked against their signed manifest, both when a
 * bundle is built and when `forensics verify` re-derives it from the bundled copies.
 */
import { IntegrityError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import type { ArtifactRecord, Manifest } from '../manifest.js'

/**
 * Collector name of CloudTrail slice captures (`CLOUDTRAIL_COLLECTOR` in
 * cloudtrail/capture-slice.ts; a test checks they agree). Not imported from there: the
 * verifier would load the whole slice machinery and the S3 client to read one string.
 */
export const SLICE_COLLECTOR = 'cloudtrail-slice'

/** Largest report input read; a larger events file is named in the report, not shown. */
export const REPORT_INPUT_MAX_BYTES = 32 * 1024 * 1024

/** The artifact paths of a slice capture the report reads. */
export const SLICE_INPUT_PATHS = { events: 'events.jsonl.gz', slice: 'slice.json' } as const

/** The bytes of one slice capture's report inputs (absent when not available). */
export interface SliceInputs {
  events?: Buffer
  slice?: Buffer
}

/** Report inputs by capture id. */
export type ReportInputs = ReadonlyMap<string, SliceInputs>

/** The artifacts of a manifest the report reads, by role (only those small enough). */
export function reportInputArtifacts(manifest: Manifest): { events?: ArtifactRecord; slice?: ArtifactRecord } {
  if (manifest.collector?.name !== SLICE_COLLECTOR) return {}
  const find = (path: string): ArtifactRecord | undefined => manifest.artifacts.find((a) => a.path === path && a.size <= REPORT_INPUT_MAX_BYTES)
  return { events: find(SLICE_INPUT_PATHS.events), slice: find(SLICE_INPUT_PATHS.slice) }
}

/**
 * True for bundle members that may be report inputs, judged by name alone (the reader
 * decides whether to keep an artifact's bytes before it has seen any manifest): the two
 * file names at the top of a capture's artifacts, with the `~<hash>` a name clash adds.
 */
export function isReportInputMember(name: string): boolean {
  return /^artifacts\/[^/]+\/(events\.jsonl(~[0-9a-f]{12})?\.gz|slice(~[0-9a-f]{12})?\.json)$/.test(name)
}

/**
 * Reads the report inputs of the given captures from the evidence store, at the versions
 * their manifests record, and checks each against its manifest's SHA-256 and size. A
 * mismatch is an IntegrityError naming the object: the report is never rendered from
 * bytes the signed manifest does not vouch for.
 */
export async function loadReportInputs(store: EvidenceStore, captures: readonly { captureId: string; manifest: Manifest }[]): Promise<ReportInputs> {
  const out = new Map<string, SliceInputs>()
  for (const c of captures) {
    const wanted = reportInputArtifacts(c.manifest)
    const inputs: SliceInputs = {}
    for (const role of ['events', 'slice'] as const) {
      const a = wanted[role]
      if (!a) continue
      const { bytes } = await store.getBytes(a.key, a.versionId)
      const got = sha256Hex(bytes)
      if (got !== a.sha256 || bytes.length !== a.size) {
        const where = `s3://${store.bucket}/${a.key} version ${a.versionId}`
        throw new IntegrityError(`artifact ${a.key} does not match its manifest; no report was written`, { findings: [`${where}: SHA-256 ${got} (${bytes.length} bytes) differs from the manifest's ${a.sha256} (${a.size} bytes)`] })
      }
      inputs[role] = bytes
    }
    if (inputs.events || inputs.slice) out.set(c.captureId, inputs)
  }
  return out
}
