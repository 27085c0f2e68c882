/**
 * The custody chain of a case (`forensics.custody/v1`): append-only entries
 * `cases/<caseId>/custody/<seq>.json`, each linking to the previous entry's hash and
 * signed. Appending is a compare-and-swap on the next sequence number (`If-None-Match: *`);
 * a writer that loses re-reads and tries again, so concurrent appends never fork or gap.
 */
import type { KeyObject } from 'node:crypto'
import { canonicalBytes } from './canonical-json.js'
import { StorageError, ValidationError } from './errors.js'
import { EvidenceExistsError, type EvidenceStore } from './evidence-store.js'
import { isSha256Hex, sha256Hex } from './hash.js'
import { custodyKey, custodyPrefix, custodySeqFromKey, validateCaseId } from './keys.js'
import { SIGNATURE_ALGORITHM, verifyDigestSignature, type Signer } from './signer.js'
import { withRetry } from './retry.js'

/** Schema id of a custody entry. */
export const CUSTODY_SCHEMA = 'forensics.custody/v1'

/** What happened to the evidence (`contained` / `released`: a containment action applied / undone, see forensics/containment). */
export type CustodyAction = 'captured' | 'bundled' | 'verified' | 'drill' | 'note' | 'contained' | 'released'

/** What an entry is about. */
export interface CustodySubject {
  key?: string
  versionId?: string
  sha256?: string
  captureId?: string
  note?: string
  [extra: string]: unknown
}

/** One custody entry. */
export interface CustodyEntry {
  schema: typeof CUSTODY_SCHEMA
  caseId: string
  seq: number
  prevHash: string | null
  time: string
  actor: { principalArn?: string; tool?: string; requestId?: string }
  action: CustodyAction
  subject: CustodySubject
  /** SHA-256 of the canonical entry without `hash` and `signature` */
  hash: string
  signature: { keyId: string; algorithm: string; value: string }
}

/** A stored entry: where it is and its exact bytes. */
export interface StoredCustodyEntry {
  key: string
  bytes: Buffer
  entry?: CustodyEntry
}

/** A problem in a chain, naming the entry. */
export interface ChainFinding {
  code: 'unparseable' | 'schema' | 'case-mismatch' | 'seq-mismatch' | 'gap' | 'fork' | 'broken-link' | 'hash-mismatch' | 'signature-invalid'
  subject: string
  message: string
}

const ACTIONS: readonly CustodyAction[] = ['captured', 'bundled', 'verified', 'drill', 'note', 'contained', 'released']

/** The hash of an entry: SHA-256 of its canonical form without `hash` and `signature`. */
export function custodyEntryHash(entry: Omit<CustodyEntry, 'hash' | 'signature'> & Partial<Pick<CustodyEntry, 'hash' | 'signature'>>): string {
  const { hash: _h, signature: _s, ...body } = entry
  return sha256Hex(canonicalBytes(body))
}

/**
 * Verifies a chain from its stored entries (any order): schema, case, sequence numbers
 * 0..n-1 without gaps or forks, hash links, recomputed hashes and signatures. A parsed
 * KeyObject verifies several times faster than PEM text (parsed again per signature).
 */
export function verifyCustodyChain(stored: readonly StoredCustodyEntry[], publicKeyPem: string | KeyObject, caseId?: string): ChainFinding[] {
  const findings: ChainFinding[] = []
  const bySeq = new Map<number, { key: string; entry: CustodyEntry }>()
  for (const s of stored) {
    let entry: CustodyEntry
    try {
      entry = JSON.parse(s.bytes.toString('utf8')) as CustodyEntry
    } catch {
      findings.push({ code: 'unparseable', subject: s.key, message: `${s.key} is not JSON` })
      continue
    }
    if (entry?.schema !== CUSTODY_SCHEMA || typeof entry.seq !== 'number' || !ACTIONS.includes(entry.action) || !isSha256Hex(entry.hash)) {
      findings.push({ code: 'schema', subject: s.key, message: `${s.key} is not a ${CUSTODY_SCHEMA} entry` })
      continue
    }
    if (caseId !== undefined && entry.caseId !== caseId) findings.push({ code: 'case-mismatch', subject: s.key, message: `${s.key} belongs to case ${entry.caseId}, not ${caseId}` })
    const keySeq = custodySeqFromKey(s.key)
    if (keySeq !== undefined && keySeq !== entry.seq) findings.push({ code: 'seq-mismatch', subject: s.key, message: `${s.key} holds seq ${entry.seq}` })
    if (bySeq.has(entry.seq)) {
      findings.push({ code: 'fork', subject: s.key, message: `${s.key} and ${bySeq.get(entry.seq)!.key} both claim seq ${entry.seq}` })
      continue
    }
    bySeq.set(entry.seq, { key: s.key, entry })
    if (custodyEntryHash(entry) !== entry.hash) findings.push({ code: 'hash-mismatch', subject: s.key, message: `${s.key}: content does not match its hash (edited after it was written)` })
    const sig = entry.signature?.value ? Buffer.from(entry.signature.value, 'base64') : Buffer.alloc(0)
    if (!verifyDigestSignature(publicKeyPem, entry.hash, sig)) findings.push({ code: 'signature-invalid', subject: s.key, message: `${s.key}: signature does not verify with the public key` })
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b)
  let prev: { key: string; entry: CustodyEntry } | undefined
  for (let expected = 0, i = 0; i < seqs.length; expected++) {
    const cur = bySeq.get(expected)
    if (!cur) {
      findings.push({ code: 'gap', subject: custodyKey(caseId ?? prev?.entry.caseId ?? 'unknown', expected), message: `custody entry ${expected} is missing` })
      prev = undefined
      continue
    }
    i++
    const want = prev ? prev.entry.hash : expected === 0 ? null : undefined
    if (want !== undefined && cur.entry.prevHash !== want) {
      findings.push({ code: 'broken-link', subject: cur.key, message: `${cur.key}: prevHash ${cur.entry.prevHash} does not match the hash of entry ${expected - 1}` })
    }
    prev = cur
  }
  return findings
}

/** Input of an append. */
export interface AppendInput {
  action: CustodyAction
  actor: CustodyEntry['actor']
  subject: CustodySubject
  /**
   * When an existing entry matches, it is returned instead of appending (idempotency): the
   * whole chain is read. Without it only the last entry is read (the caller knows no entry
   * of its own can exist, e.g. for a manifest it has just committed).
   */
  sameAs?: (entry: CustodyEntry) => boolean
}

/** Reads and appends the custody chain of one case. */
export class CustodyChain {
  readonly caseId: string
  readonly #store: EvidenceStore
  readonly #signer: Signer
  readonly #now: () => Date
  readonly #maxAttempts: number
  /** entries are immutable once written: cache them by key */
  readonly #cache = new Map<string, StoredCustodyEntry>()

  constructor(store: EvidenceStore, signer: Signer, caseId: string, opts: { now?: () => Date; maxAttempts?: number } = {}) {
    this.caseId = validateCaseId(caseId)
    this.#store = store
    this.#signer = signer
    this.#now = opts.now ?? (() => new Date())
    this.#maxAttempts = opts.maxAttempts ?? 60
  }

  /** Every stored entry in sequence order (bytes as stored). */
  async readStored(): Promise<StoredCustodyEntry[]> {
    const out: StoredCustodyEntry[] = []
    for await (const o of this.#store.list(custodyPrefix(this.caseId))) {
      if (custodySeqFromKey(o.key) !== undefined) out.push(await this.#load(o.key))
    }
    return out
  }

  /** One stored entry, read once per chain (entries are immutable once written). */
  async #load(key: string): Promise<StoredCustodyEntry> {
    let s = this.#cache.get(key)
    if (!s) {
      const { bytes } = await this.#store.getBytes(key)
      let entry: CustodyEntry | undefined
      try {
        entry = JSON.parse(bytes.toString('utf8')) as CustodyEntry
      } catch {
        entry = undefined
      }
      s = { key, bytes, entry }
      this.#cache.set(key, s)
    }
    return s
  }

  /**
   * The last entry only (none for an empty chain): what an append links to. The listing
   * names every entry, but only the last one is read — an append that need not look for
   * an earlier entry of its own costs one listing and one read however long the chain is.
   */
  async #readTail(): Promise<CustodyEntry[]> {
    let last: { key: string; seq: number } | undefined
    for await (const o of this.#store.list(custodyPrefix(this.caseId))) {
      const seq = custodySeqFromKey(o.key)
      if (seq !== undefined && (!last || seq > last.seq)) last = { key: o.key, seq }
    }
    if (!last) return []
    const s = await this.#load(last.key)
    if (!s.entry) throw new ValidationError(`custody entry s3://${this.#store.bucket}/${s.key} is not JSON: run \`forensics verify\` on a bundle of case ${this.caseId}`)
    return [s.entry]
  }

  /** Entries in sequence order; throws when one cannot be parsed. */
  async read(): Promise<CustodyEntry[]> {
    const stored = await this.readStored()
    return stored.map((s) => {
      if (!s.entry) throw new ValidationError(`custody entry s3://${this.#store.bucket}/${s.key} is not JSON: run \`forensics verify\` on a bundle of case ${this.caseId}`)
      return s.entry
    })
  }

  /**
   * The entry stored under sequence number `seq`, read by its key (no listing); undefined when
   * it cannot be read or parsed (the caller then reads the whole chain, which names the problem).
   */
  async #readEntry(seq: number): Promise<CustodyEntry | undefined> {
    try {
      const s = await this.#load(custodyKey(this.caseId, seq))
      return s.entry?.seq === seq ? s.entry : undefined
    } catch {
      return undefined
    }
  }

  /** Appends an entry (compare-and-swap on the next sequence number). */
  async append(input: AppendInput): Promise<{ entry: CustodyEntry; created: boolean }> {
    if (!ACTIONS.includes(input.action)) throw new ValidationError(`unknown custody action ${JSON.stringify(input.action)}`, { field: 'action' })
    let known: CustodyEntry[] | undefined
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      // the whole chain only when an earlier entry of the caller's own may exist; after a lost
      // race, what was read plus the entry that won
      const entries = known ?? (input.sameAs ? await this.read() : await this.#readTail())
      const same = input.sameAs && entries.find(input.sameAs)
      if (same) return { entry: same, created: false }
      const head = entries.at(-1)
      const body = {
        schema: CUSTODY_SCHEMA,
        caseId: this.caseId,
        seq: head ? head.seq + 1 : 0,
        prevHash: head ? head.hash : null,
        time: this.#now().toISOString(),
        actor: input.actor,
        action: input.action,
        subject: input.subject,
      } as const
      const hash = custodyEntryHash(body)
      const signature = await withRetry(`signing custody entry ${body.seq} of case ${this.caseId}`, () => this.#signer.signDigest(hash))
      const entry: CustodyEntry = { ...body, hash, signature: { keyId: this.#signer.keyId, algorithm: SIGNATURE_ALGORITHM, value: signature.toString('base64') } }
      try {
        await this.#store.put({ key: custodyKey(this.caseId, entry.seq), body: canonicalBytes(entry), contentType: 'application/json' })
        return { entry, created: true }
      } catch (e) {
        if (!(e instanceof EvidenceExistsError)) throw e
        // another writer took this sequence number: back off (full jitter, growing with
        // each lost race, so fifty writers do not all retry at once), then read the entry that
        // won by its key and try the next number on top of it. Not a new listing per lost race
        // (a LIST costs more than a GET, and under contention every writer loses many races):
        // an entry written after that one makes the next write lose too and is read the same way.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(1000, 10 * 2 ** Math.min(attempt, 10))))
        const won = await this.#readEntry(body.seq)
        known = won ? [...entries, won] : undefined
      }
    }
    throw new StorageError(`custody chain of case ${this.caseId}: could not append after ${this.#maxAttempts} attempts (heavy contention); try again`)
  }

  /** Verifies the stored chain with the signer's public key. */
  async verify(publicKeyPem?: string): Promise<ChainFinding[]> {
    return verifyCustodyChain(await this.readStored(), publicKeyPem ?? (await this.#signer.publicKeyPem()), this.caseId)
  }
}

/**
 * Appends the `captured` entry for a committed manifest, once (redeliveries find it).
 * `justCommitted`: the caller committed this manifest itself, just now, and nothing else
 * seals it, so no entry for it can exist yet and the chain is not searched for one.
 */
export async function recordCaptured(
  chain: CustodyChain,
  capture: { manifestKey: string; manifestVersionId: string; manifestSha256: string; captureId: string },
  actor: CustodyEntry['actor'],
  opts: { justCommitted?: boolean } = {},
): Promise<{ entry: CustodyEntry; created: boolean }> {
  return chain.append({
    action: 'captured',
    actor,
    subject: { key: capture.manifestKey, versionId: capture.manifestVersionId, sha256: capture.manifestSha256, captureId: capture.captureId },
    ...(opts.justCommitted ? {} : { sameAs: (e: CustodyEntry) => e.action === 'captured' && e.subject.key === capture.manifestKey }),
  })
}
