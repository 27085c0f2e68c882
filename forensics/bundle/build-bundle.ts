/**
 * Builds a bundle: reads the case state, streams every artifact from the evidence bucket
 * into a deterministic archive while re-hashing it against its manifest, and only then
 * publishes the file (temp file + rename) and appends a `bundled` custody entry.
 *
 * The bundle holds the custody chain up to its head when the build started; the
 * `bundled` entry appended afterwards is therefore in the *next* bundle of the case, not
 * this one. Two builds of the same case state (for example with `recordCustody: false`)
 * give byte-identical archives.
 */
import { createWriteStream } from 'node:fs'
import { access, rename, unlink } from 'node:fs/promises'
import { basename } from 'node:path'
import { Transform, type Readable, type Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { randomBytes } from 'node:crypto'
import { CustodyChain, type CustodyEntry } from '../custody.js'
import { IntegrityError, StorageError, ValidationError } from '../errors.js'
import { withRetry } from '../retry.js'
import type { EvidenceStore } from '../evidence-store.js'
import { HashingStream, sha256Hex } from '../hash.js'
import type { ArtifactRecord, Manifest } from '../manifest.js'
import { reportInputArtifacts, type ReportInputs } from '../report/report-inputs.js'
import type { Signer } from '../signer.js'
import { DeterministicArchive } from './archive-writer.js'
import type { BundleFormat, BundleIndex } from './bundle-layout.js'
import { planBundle, type PlannedMember } from './plan-bundle.js'
import { readSignedCaseState } from './read-case-state.js'

/** Progress of a build, reported after every member. */
export interface BundleProgress {
  files: number
  totalFiles: number
  bytes: number
  totalBytes: number
}

/** Options of {@link buildBundle}. */
export interface BuildBundleOptions {
  store: EvidenceStore
  /** signs the `bundled` custody entry; its public key goes into the bundle */
  signer: Signer
  caseId: string
  format?: BundleFormat
  /** only these captures (default: every committed capture of the case) */
  captureIds?: readonly string[]
  /** a file path (written to a temp file, renamed when complete) or a stream (e.g. stdout) */
  output: { path: string; overwrite?: boolean } | { stream: Writable }
  /** append the `bundled` custody entry (default true) */
  recordCustody?: boolean
  /** who builds the bundle, for the custody entry */
  actor?: CustodyEntry['actor']
  onProgress?: (p: BundleProgress) => void
  /** compression level (default 6) */
  level?: number
  /** artifacts up to this size are fetched ahead, in parallel (default 1 MiB) */
  prefetchBytes?: number
  /** how many small artifacts are fetched ahead (default 8) */
  prefetch?: number
  now?: () => Date
}

/** A built bundle. */
export interface BundleResult {
  caseId: string
  format: BundleFormat
  /** where it was written (undefined for a stream) */
  path?: string
  sha256: string
  size: number
  files: number
  captureIds: string[]
  custodyHead: BundleIndex['custodyHead']
  /** the `bundled` custody entry, when recorded */
  custodyEntry?: { seq: number; hash: string }
}

/** The artifact's stored bytes differ from its manifest. */
function mismatch(bucket: string, a: ArtifactRecord, got: { sha256: string; size: number }): IntegrityError {
  const where = `s3://${bucket}/${a.key} version ${a.versionId}`
  const msg = `${where}: SHA-256 ${got.sha256} (${got.size} bytes) differs from the manifest's ${a.sha256} (${a.size} bytes); no bundle was written`
  return new IntegrityError(`artifact ${a.key} does not match its manifest; the bundle was aborted`, { findings: [msg] })
}

/**
 * Passes exactly `size` bytes: a longer source is cut, a shorter one padded with zeros.
 * The archive entry is then always well-formed (tar insists on its declared size); the
 * hash taken before this stream sees the real bytes, and any difference aborts the
 * bundle right after the entry.
 */
function exactSize(size: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const room = Math.max(0, size - seen)
      seen += chunk.length
      cb(null, chunk.length <= room ? chunk : chunk.subarray(0, room))
    },
    flush(cb) {
      cb(null, seen < size ? Buffer.alloc(size - seen) : undefined)
    },
  })
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/**
 * Builds the bundle of a case. Throws an IntegrityError naming the object when stored
 * bytes do not match their manifest or a manifest's signature does not verify with the
 * signer's public key; in that case no output file exists (a stream output is left
 * truncated, which no unpacker accepts).
 */
export async function buildBundle(opts: BuildBundleOptions): Promise<BundleResult> {
  const { store, signer } = opts
  const format = opts.format ?? 'zip'
  if (format !== 'zip' && format !== 'tar.gz') throw new ValidationError(`unknown bundle format ${JSON.stringify(format)}: use zip or tar.gz`, { field: 'format' })
  const target = 'path' in opts.output ? opts.output : undefined
  if (target && !target.overwrite) {
    const exists = await access(target.path).then(
      () => true,
      () => false,
    )
    if (exists) throw new ValidationError(`${target.path} already exists: choose another -o file or remove it (bundles are never overwritten silently)`, { field: 'output' })
  }

  const { state, publicKeyPem, reportInputs } = await readSignedCaseState(store, signer, opts.caseId, opts.captureIds)
  const plan = planBundle(state, publicKeyPem, signer.keyId, reportInputs)

  const temp = target ? `${target.path}.partial-${process.pid}-${randomBytes(4).toString('hex')}` : undefined
  const dest: Writable = temp ? createWriteStream(temp, { flags: 'wx' }) : (opts.output as { stream: Writable }).stream
  const hashing = new HashingStream()
  hashing.pipe(dest, { end: Boolean(temp) })
  const archive = new DeterministicArchive(format, hashing, { level: opts.level })
  let aborting = false
  dest.on('error', (e: Error) => {
    if (!aborting) archive.fail(new StorageError(`cannot write the bundle to ${temp ?? 'the output stream'}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { cause: e }))
  })
  try {
    await writeMembers(archive, plan.members, store, opts, plan.totalBytes, readAlready(state.captures, reportInputs))
    await archive.finish()
    if (temp) {
      await finished(dest)
      await rename(temp, target!.path)
    }
  } catch (e) {
    // detach the output first, then let whatever archiver still emits drain into nothing
    aborting = true
    hashing.unpipe(dest)
    hashing.resume()
    archive.abort()
    if (temp) {
      dest.destroy()
      await unlink(temp).catch(() => undefined)
    }
    throw e
  }

  const result: BundleResult = {
    caseId: state.caseId,
    format,
    path: target?.path,
    sha256: hashing.digestHex(),
    size: hashing.bytes,
    files: plan.members.length,
    captureIds: state.captures.map((c) => c.captureId),
    custodyHead: plan.index.custodyHead,
  }
  if (opts.recordCustody !== false) {
    const chain = new CustodyChain(store, signer, state.caseId, { now: opts.now })
    const { entry } = await chain.append({
      action: 'bundled',
      actor: opts.actor ?? { tool: `${plan.index.tool.name} ${plan.index.tool.version}` },
      subject: {
        sha256: result.sha256,
        size: result.size,
        format,
        file: target ? basename(target.path) : '-',
        captureIds: result.captureIds,
        custodyHead: result.custodyHead ? { seq: result.custodyHead.seq, hash: result.custodyHead.hash } : null,
      },
    })
    result.custodyEntry = { seq: entry.seq, hash: entry.hash }
  }
  return result
}

const versionRef = (a: Pick<ArtifactRecord, 'key' | 'versionId'>): string => `${a.key}\n${a.versionId}`

/**
 * Artifact bytes read already for the report (checked against their manifests then, and
 * checked again like every member when written): not read from the store a second time.
 */
function readAlready(captures: readonly { captureId: string; manifest: Manifest }[], inputs: ReportInputs): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const c of captures) {
    const have = inputs.get(c.captureId)
    const wanted = reportInputArtifacts(c.manifest)
    for (const role of ['events', 'slice'] as const) {
      const a = wanted[role]
      const bytes = have?.[role]
      if (a && bytes) out.set(versionRef(a), bytes)
    }
  }
  return out
}

/**
 * Writes the members in order. Small artifacts are fetched ahead in parallel (they are
 * checked before they are written); large ones are streamed one at a time through a
 * hash and checked when their last byte has passed. Memory stays below
 * prefetch × prefetchBytes plus stream buffers, whatever the bundle's size.
 */
async function writeMembers(archive: DeterministicArchive, members: PlannedMember[], store: EvidenceStore, opts: BuildBundleOptions, totalBytes: number, known: ReadonlyMap<string, Buffer>): Promise<void> {
  const small = opts.prefetchBytes ?? 1024 * 1024
  const ahead = opts.prefetch ?? 8
  const fetched = new Map<number, Promise<Buffer>>()
  const fetchSmall = (i: number): Promise<Buffer> => {
    let p = fetched.get(i)
    if (!p) {
      const m = members[i] as Extract<PlannedMember, { kind: 'artifact' }>
      const bytes = known.get(versionRef(m.artifact))
      if (bytes) return Promise.resolve(bytes)
      // a small member cut mid-stream is read again from the start (retry.ts); large
      // members stream straight into the archive, once
      p = withRetry(`read of s3://${store.bucket}/${m.artifact.key}`, async () => readAll((await store.get(m.artifact.key, m.artifact.versionId)).body))
      // a failure is reported when its turn comes; never as an unhandled rejection
      p.catch(() => undefined)
      fetched.set(i, p)
    }
    return p
  }
  const isSmall = (m: PlannedMember | undefined): boolean => m?.kind === 'artifact' && m.artifact.size <= small
  const progress: BundleProgress = { files: 0, totalFiles: members.length, bytes: 0, totalBytes }

  for (const [i, m] of members.entries()) {
    for (let j = i + 1, started = 0; j < members.length && started < ahead; j++) {
      if (isSmall(members[j])) {
        fetchSmall(j)
        started++
      }
    }
    if (m.kind === 'document') {
      await archive.add(m.path, m.bytes, { size: m.bytes.length, contentType: m.contentType })
      progress.bytes += m.bytes.length
    } else if (isSmall(m)) {
      const bytes = await fetchSmall(i)
      fetched.delete(i)
      const got = { sha256: sha256Hex(bytes), size: bytes.length }
      if (got.sha256 !== m.artifact.sha256 || got.size !== m.artifact.size) throw mismatch(store.bucket, m.artifact, got)
      await archive.add(m.path, bytes, { size: bytes.length, contentType: m.artifact.contentType })
      progress.bytes += bytes.length
    } else {
      const { body } = await store.get(m.artifact.key, m.artifact.versionId)
      const hash = new HashingStream()
      const exact = exactSize(m.artifact.size)
      body.once('error', (e) => exact.destroy(e))
      // archiver never listens for a stream source's errors (tar pipes it straight into the
      // entry): without this a read failing mid-stream is an uncaught exception and the
      // entry never settles; failing the archive rejects the pending entry instead
      exact.once('error', (e) => archive.fail(new StorageError(`cannot read s3://${store.bucket}/${m.artifact.key} version ${m.artifact.versionId}: ${e.message}`, { cause: e })))
      await archive.add(m.path, body.pipe(hash).pipe(exact), { size: m.artifact.size, contentType: m.artifact.contentType }).catch((e: unknown) => {
        body.destroy()
        throw e
      })
      const got = { sha256: hash.digestHex(), size: hash.bytes }
      if (got.sha256 !== m.artifact.sha256 || got.size !== m.artifact.size) throw mismatch(store.bucket, m.artifact, got)
      progress.bytes += got.size
    }
    progress.files++
    opts.onProgress?.({ ...progress })
  }
}
