/**
 * A deterministic archive on top of `archiver`: zip or tar.gz whose bytes depend only on
 * the members added and their order. Every entry gets the same timestamp
 * ({@link FIXED_MTIME}), permissions 0644, no directory entries, no comments and no extra
 * fields; zip times are written in UTC (archiver's default), gzip carries no name or time.
 * Entries are added one at a time and each `add` resolves once its bytes have been
 * consumed, so a caller can stream sources of any size in constant memory.
 */
import type { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import * as archiverModule from 'archiver'
import type { Archiver, ArchiverOptions, EntryData } from 'archiver'
import type { BundleFormat } from './bundle-layout.js'

// archiver 7 exports a factory function (CommonJS); @types/archiver 8 describes the
// class-based API of archiver 8, so the factory is typed here
const archiver = (archiverModule as unknown as { default: (format: 'zip' | 'tar', options?: ArchiverOptions) => Archiver }).default

/** The timestamp of every member: the earliest a zip can express. */
export const FIXED_MTIME = new Date('1980-01-01T00:00:00Z')
/** Permissions of every member. */
export const FILE_MODE = 0o644

/** Options of {@link DeterministicArchive}. */
export interface ArchiveWriterOptions {
  /** zlib level for compressed zip members and for the gzip stream (default 6). */
  level?: number
}

const TEXTUAL = /\.(json|jsonl|ndjson|md|txt|csv|log|xml|pem|html|ya?ml)$/i

/**
 * Whether a zip member is deflated: text-like content (JSON snapshots, manifests,
 * reports) compresses well; everything else (already compressed CloudTrail `.gz`,
 * arbitrary object versions, signatures) is stored, which is faster both ways. Decided
 * from the name and content type only, so it never varies between builds.
 */
export function shouldDeflate(name: string, contentType?: string): boolean {
  if (name === 'SHA256SUMS') return true
  if (contentType && /json|text|xml|csv|yaml/i.test(contentType)) return true
  return TEXTUAL.test(name)
}

/** Writes one archive to `out`. */
export class DeterministicArchive {
  readonly format: BundleFormat
  readonly #archive: Archiver
  readonly #out: Writable
  #pending?: { resolve: () => void; reject: (e: Error) => void }
  #error?: Error

  constructor(format: BundleFormat, out: Writable, opts: ArchiveWriterOptions = {}) {
    this.format = format
    this.#out = out
    const level = opts.level ?? 6
    this.#archive = format === 'zip' ? archiver('zip', { zlib: { level } }) : archiver('tar', { gzip: true, gzipOptions: { level } })
    const fail = (e: Error): void => this.fail(e)
    this.#archive.on('error', fail)
    // archiver reports missing sources and similar as warnings; for evidence they are errors
    this.#archive.on('warning', fail)
    this.#archive.on('entry', () => {
      this.#pending?.resolve()
      this.#pending = undefined
    })
    this.#archive.pipe(out)
  }

  /** Bytes written so far (before gzip for tar.gz). */
  get pointer(): number {
    return this.#archive.pointer()
  }

  /**
   * Adds one file and resolves once its bytes are in the archive. A stream source must
   * deliver exactly `size` bytes (tar needs the size up front).
   */
  add(name: string, source: Buffer | Readable, opts: { size: number; contentType?: string }): Promise<void> {
    if (this.#error) return Promise.reject(this.#error)
    return new Promise<void>((resolve, reject) => {
      this.#pending = { resolve, reject }
      const data: Omit<EntryData, 'stats'> & { store?: boolean; stats?: { size: number } } = { name, date: FIXED_MTIME, mode: FILE_MODE }
      if (this.format === 'zip') data.store = !shouldDeflate(name, opts.contentType)
      // with a size, archiver's tar streams the entry instead of buffering it whole
      else if (!Buffer.isBuffer(source)) data.stats = { size: opts.size }
      this.#archive.append(source, data as EntryData)
    })
  }

  /** Writes the trailer and waits until `out` has everything. */
  async finish(): Promise<void> {
    if (this.#error) throw this.#error
    const done = finished(this.#out)
    await this.#archive.finalize()
    await done
    if (this.#error) throw this.#error
  }

  /** Fails the archive from outside (e.g. the output could not be written): pending and later calls reject. */
  fail(e: Error): void {
    this.#error ??= e
    this.#pending?.reject(e)
    this.#pending = undefined
  }

  /** Stops writing: the output is left incomplete (the caller discards it). */
  abort(): void {
    this.#archive.abort()
  }
}
