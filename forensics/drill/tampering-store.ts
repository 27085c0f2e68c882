/**
 * A test hook for drills: an {@link EvidenceStore} wrapper that returns manipulated bytes
 * for chosen evidence objects. Object Lock (and the emulator) cannot change locked bytes,
 * so this is how a drill proves that its hash check catches an artifact that no longer
 * matches its manifest (bit rot, a tampered copy, a broken storage layer).
 */
import { Readable } from 'node:stream'
import type { EvidenceHead, EvidenceStore, ListedEvidence, PutEvidenceInput, RetentionPolicy, StoredEvidence } from '../evidence-store.js'

/** Flips the first byte (or appends one to an empty object). */
function manipulate(bytes: Buffer): Buffer {
  if (bytes.length === 0) return Buffer.from('!')
  const out = Buffer.from(bytes)
  out[0] = out[0] ^ 0xff
  return out
}

/** {@link EvidenceStore} that corrupts reads of the keys passed to {@link corrupt}. */
export class TamperingStore implements EvidenceStore {
  readonly #inner: EvidenceStore
  readonly #corrupted = new Set<string>()

  constructor(inner: EvidenceStore) {
    this.#inner = inner
  }

  get bucket(): string {
    return this.#inner.bucket
  }
  get retention(): RetentionPolicy {
    return this.#inner.retention
  }

  /** From now on, reads of `key` return manipulated bytes. */
  corrupt(key: string): void {
    this.#corrupted.add(key)
  }

  /** Keys corrupted so far. */
  get corruptedKeys(): string[] {
    return [...this.#corrupted]
  }

  assertLocked(): Promise<void> {
    return this.#inner.assertLocked()
  }
  put(input: PutEvidenceInput): Promise<StoredEvidence> {
    return this.#inner.put(input)
  }
  async get(key: string, versionId?: string): Promise<{ body: Readable; versionId: string; size: number }> {
    if (!this.#corrupted.has(key)) return this.#inner.get(key, versionId)
    const { bytes, versionId: v } = await this.getBytes(key, versionId)
    return { body: Readable.from([bytes]), versionId: v, size: bytes.length }
  }
  async getBytes(key: string, versionId?: string): Promise<{ bytes: Buffer; versionId: string }> {
    const got = await this.#inner.getBytes(key, versionId)
    return this.#corrupted.has(key) ? { ...got, bytes: manipulate(got.bytes) } : got
  }
  head(key: string, versionId?: string): Promise<EvidenceHead | undefined> {
    return this.#inner.head(key, versionId)
  }
  list(prefix: string): AsyncIterable<ListedEvidence> {
    return this.#inner.list(prefix)
  }
  tryDelete(key: string, versionId: string): Promise<string | undefined> {
    return this.#inner.tryDelete(key, versionId)
  }
}
