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
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import yauzl from 'yauzl'
import tar from 'tar-stream'
import { ValidationError } from '../errors.js'
import type { BundleFormat } from './bundle-layout.js'

/** One member as read from an archive. */
export interface BundleMember {
  name: string
  size: number
  sha256: string
  /** contents, for members outside `artifacts/` up to {@link MAX_DOCUMENT_BYTES} */
  bytes?: Buffer
  /** anything but a regular file (symlink, device, ...) */
  type?: string
  /** why the member's bytes could not be read */
  readError?: string
}

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

const keeper = (opts: ReadBundleOptions) => (name: string, size: number): boolean => size <= MAX_DOCUMENT_BYTES && (Boolean(opts.keepAllBytes) || !name.startsWith('artifacts/'))

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

/** Reads every member of a zip bundle. */
export async function readZipMembers(file: string, opts: ReadBundleOptions = {}): Promise<BundleMember[]> {
  const keepsBytes = keeper(opts)
  let zip: yauzl.ZipFile
  try {
    zip = await openZip(file)
  } catch (e) {
    throw new BundleFormatError(`${file} is not a readable zip: ${(e as Error).message}`, { cause: e })
  }
  const members: BundleMember[] = []
  await new Promise<void>((resolve, reject) => {
    zip.on('error', (e: Error) => reject(new BundleFormatError(`${file} is not a readable zip: ${e.message}`, { cause: e })))
    zip.on('end', () => resolve())
    zip.on('entry', (entry: yauzl.Entry) => {
      const raw = entry.fileName as unknown as Buffer
      const name = raw.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1')
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT
      if (name.endsWith('/') || mode === S_IFDIR) {
        zip.readEntry()
        return
      }
      const member: BundleMember = { name, size: entry.uncompressedSize, sha256: '' }
      if (mode !== 0 && mode !== S_IFREG) member.type = mode === 0o120000 ? 'symlink' : `mode ${mode.toString(8)}`
      members.push(member)
      zip.openReadStream(entry, (err, stream) => {
        if (err) {
          member.readError = err.message
          zip.readEntry()
          return
        }
        consume(stream, keepsBytes(name, entry.uncompressedSize)).then(
          (r) => {
            Object.assign(member, r)
            zip.readEntry()
          },
          (e: Error) => {
            member.readError = e.message
            zip.readEntry()
          },
        )
      })
    })
    zip.readEntry()
  })
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
