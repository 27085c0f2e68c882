/**
 * Reads a bundle (zip through yauzl, tar.gz through zlib + tar-stream) into a list of
 * members: name, size and SHA-256 of every file, and the bytes of the small documents
 * the verifier parses. Artifacts are hashed while streaming and never held in memory.
 * Nothing is written to disk, so hostile member names are harmless here; they become
 * findings.
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createInflateRaw, inflateRawSync } from 'node:zlib'
import yauzl from 'yauzl'
import tar from 'tar-stream'
import { ValidationError } from '../errors.js'
import { isReportInputMember } from '../report/report-inputs.js'
import type { BundleFormat } from './bundle-layout.js'

/** One member as read from an archive. */
export interface BundleMember {
  name: string
  size: number
  sha256: string
  /** contents, for members outside `artifacts/` and report inputs, up to {@link MAX_DOCUMENT_BYTES} */
  bytes?: Buffer
  /** anything but a regular file (symlink, device, ...) */
  type?: string
  /** why the member's bytes could not be read */
  readError?: string
}

/** Members up to this compressed size are read in one call. */
const SMALL_MEMBER = 1024 * 1024

/** Largest member kept in memory for parsing. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024

/** The file is not a readable zip or tar.gz bundle (exit code 2). */
export class BundleFormatError extends ValidationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, field: 'bundle' })
    this.name = 'BundleFormatError'
  }
}

/** Options of the readers. */
export interface ReadBundleOptions {
  /** keep every member's bytes, artifacts included (small bundles in tests) */
  keepAllBytes?: boolean
}

// documents, plus the artifacts report.html is rendered from (the verifier re-renders it)
const keeper = (opts: ReadBundleOptions) => (name: string, size: number): boolean => size <= MAX_DOCUMENT_BYTES && (Boolean(opts.keepAllBytes) || !name.startsWith('artifacts/') || isReportInputMember(name))

/** Hashes a member's stream, keeping the bytes when `keep`. */
async function consume(stream: Readable, keep: boolean): Promise<{ sha256: string; size: number; bytes?: Buffer }> {
  const hash = createHash('sha256')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const c = chunk as Buffer
    hash.update(c)
    size += c.length
    if (keep && size <= MAX_DOCUMENT_BYTES) chunks.push(c)
  }
  return { sha256: hash.digest('hex'), size, bytes: keep && size <= MAX_DOCUMENT_BYTES ? Buffer.concat(chunks) : undefined }
}

/** Detects the format from the first bytes: `PK\x03\x04` (or an empty zip) or gzip's `\x1f\x8b`. */
export async function detectBundleFormat(file: string): Promise<BundleFormat> {
  let head: Buffer
  try {
    const fh = await open(file, 'r')
    try {
      head = Buffer.alloc(4)
      const { bytesRead } = await fh.read(head, 0, 4, 0)
      head = head.subarray(0, bytesRead)
    } finally {
      await fh.close()
    }
  } catch (e) {
    throw new BundleFormatError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e })
  }
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip'
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz'
  throw new BundleFormatError(`${file} is neither a zip nor a tar.gz bundle (it starts with ${head.toString('hex') || 'nothing'})`)
}

const S_IFMT = 0o170000
const S_IFREG = 0o100000
const S_IFDIR = 0o040000

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // names stay raw bytes: yauzl's own checks would reject a hostile name outright,
    // and the verifier wants to name it in a finding instead
    yauzl.open(file, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true }, (err, zip) => (err ? reject(err) : resolve(zip)))
  })
}

/** What the central directory says about one member. */
interface ZipEntryInfo {
  name: string
  mode: number
  method: number
  encrypted: boolean
  compressedSize: number
  uncompressedSize: number
  localHeaderOffset: number
}

/** Lists a zip's central directory with yauzl (no member data is read). */
async function listZipEntries(file: string): Promise<ZipEntryInfo[]> {
  let zip: yauzl.ZipFile
  try {
    zip = await openZip(file)
  } catch (e) {
    throw new BundleFormatError(`${file} is not a readable zip: ${(e as Error).message}`, { cause: e })
  }
  const entries: ZipEntryInfo[] = []
  await new Promise<void>((resolve, reject) => {
    zip.on('error', (e: Error) => reject(new BundleFormatError(`${file} is not a readable zip: ${e.message}`, { cause: e })))
    zip.on('end', () => resolve())
    zip.on('entry', (entry: yauzl.Entry) => {
      const raw = entry.fileName as unknown as Buffer
      entries.push({
        name: raw.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1'),
        mode: (entry.externalFileAttributes >>> 16) & S_IFMT,
        method: entry.compressionMethod,
        encrypted: (entry.generalPurposeBitFlag & 0x1) !== 0,
        compressedSize: entry.compressedSize,
        uncompressedSize: entry.uncompressedSize,
        localHeaderOffset: entry.relativeOffsetOfLocalHeader,
      })
      zip.readEntry()
    })
    zip.readEntry()
  })
  zip.close()
  return entries
}

/**
 * Reads every member of a zip bundle. yauzl reads the central directory; member data is
 * then read straight from the file in 1 MiB chunks (stored members are only hashed,
 * deflated ones inflated on the way), several times faster than per-entry streams.
 */
export async function readZipMembers(file: string, opts: ReadBundleOptions = {}): Promise<BundleMember[]> {
  const keepsBytes = keeper(opts)
  const entries = await listZipEntries(file)
  const members: BundleMember[] = []
  const fh = await open(file, 'r')
  try {
    for (const e of entries) {
      if (e.name.endsWith('/') || e.mode === S_IFDIR) continue
      const member: BundleMember = { name: e.name, size: e.uncompressedSize, sha256: '' }
      if (e.mode !== 0 && e.mode !== S_IFREG) member.type = e.mode === 0o120000 ? 'symlink' : `mode ${e.mode.toString(8)}`
      members.push(member)
      try {
        if (e.encrypted) throw new Error('encrypted')
        if (e.method !== 0 && e.method !== 8) throw new Error(`compression method ${e.method} is not supported`)
        const header = Buffer.alloc(30)
        const { bytesRead } = await fh.read(header, 0, 30, e.localHeaderOffset)
        if (bytesRead !== 30 || header.readUInt32LE(0) !== 0x04034b50) throw new Error('local file header missing')
        const start = e.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28)
        if (e.compressedSize <= SMALL_MEMBER && e.uncompressedSize <= MAX_DOCUMENT_BYTES) {
          // small members: one read and a synchronous inflate beat setting up two streams
          const packed = Buffer.alloc(e.compressedSize)
          const got = e.compressedSize ? (await fh.read(packed, 0, e.compressedSize, start)).bytesRead : 0
          if (got !== e.compressedSize) throw new Error('member data cut short')
          const bytes = e.method === 8 ? inflateRawSync(packed) : packed
          if (bytes.length !== e.uncompressedSize) throw new Error(`${bytes.length} bytes, the zip directory says ${e.uncompressedSize}`)
          Object.assign(member, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: keepsBytes(e.name, bytes.length) ? bytes : undefined })
          continue
        }
        // no data at all (a hostile directory claiming a huge empty member): no file range to
        // open, since createReadStream rejects end < start
        let data: Readable = Readable.from([])
        if (e.compressedSize > 0) {
          const raw = createReadStream(file, { start, end: start + e.compressedSize - 1, highWaterMark: 1024 * 1024 })
          const stream = e.method === 8 ? raw.pipe(createInflateRaw()) : raw
          raw.once('error', (err) => stream.destroy(err))
          data = stream
        }
        const r = await consume(data, keepsBytes(e.name, e.uncompressedSize))
        if (r.size !== e.uncompressedSize) throw new Error(`${r.size} bytes, the zip directory says ${e.uncompressedSize}`)
        Object.assign(member, r)
      } catch (err) {
        member.readError = (err as Error).message
      }
    }
  } finally {
    await fh.close()
  }
  return members
}

/** Reads every member of a tar.gz bundle. */
export async function readTarGzMembers(file: string, opts: ReadBundleOptions = {}): Promise<BundleMember[]> {
  const keepsBytes = keeper(opts)
  const members: BundleMember[] = []
  const extract = tar.extract()
  let current: BundleMember | undefined
  extract.on('entry', (header, stream, next) => {
    if (header.type === 'directory') {
      stream.resume()
      stream.once('end', next)
      return
    }
    const member: BundleMember = { name: header.name, size: header.size ?? 0, sha256: '' }
    if (header.type !== 'file') member.type = String(header.type)
    members.push(member)
    current = member
    consume(stream as unknown as Readable, keepsBytes(header.name, header.size ?? 0)).then(
      (r) => {
        Object.assign(member, r)
        current = undefined
        next()
      },
      (e: Error) => next(e),
    )
  })
  try {
    await pipeline(createReadStream(file), createGunzip(), extract as unknown as NodeJS.WritableStream)
  } catch (e) {
    // a member cut short or corrupted: name it; anything else makes the file unreadable
    if (current) current.readError = (e as Error).message
    else throw new BundleFormatError(`${file} is not a readable tar.gz: ${(e as Error).message}`, { cause: e })
  }
  return members
}

/** Reads a bundle of either format. */
export async function readBundleMembers(file: string, opts: ReadBundleOptions = {}): Promise<{ format: BundleFormat; members: BundleMember[] }> {
  const format = await detectBundleFormat(file)
  const members = format === 'zip' ? await readZipMembers(file, opts) : await readTarGzMembers(file, opts)
  return { format, members }
}
