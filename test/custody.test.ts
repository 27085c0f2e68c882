import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CustodyChain, verifyCustodyChain, custodyEntryHash, type StoredCustodyEntry, type CustodyEntry } from '../forensics/custody.js'
import { LocalSigner } from '../forensics/signer.js'
import { canonicalBytes } from '../forensics/canonical-json.js'
import { custodyKey } from '../forensics/keys.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'

const keyDir = mkdtempSync(join(tmpdir(), 'custody-'))
const { signer } = LocalSigner.fromFile(join(keyDir, 'k.pem'), { create: true })
const other = LocalSigner.fromFile(join(keyDir, 'other.pem'), { create: true }).signer

t.test('custody chain on the emulator', async (t) => {
  const emulator = await useEmulator(t)

  t.test('20 concurrent appends: seq 0..19, valid chain, no fork, no gap', async (t) => {
    const { store } = await lockedStore(emulator)
    // independent chain objects, as 20 Lambda invocations would have
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => new CustodyChain(store, signer, 'case-c').append({ action: 'note', actor: { tool: `writer-${i}` }, subject: { note: `n${i}` } })),
    )
    t.ok(results.every((r) => r.created))
    t.same(results.map((r) => r.entry.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i))
    const chain = new CustodyChain(store, signer, 'case-c')
    const entries = await chain.read()
    t.same(entries.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i))
    t.equal(entries[0].prevHash, null)
    for (let i = 1; i < 20; i++) t.equal(entries[i].prevHash, entries[i - 1].hash)
    t.same(new Set(entries.map((e) => e.subject.note)).size, 20, 'every writer landed exactly once')
    t.same(await chain.verify(), [])
  })

  t.test('idempotent appends and refused actions', async (t) => {
    const { store } = await lockedStore(emulator)
    const chain = new CustodyChain(store, signer, 'case-i')
    const first = await chain.append({ action: 'captured', actor: {}, subject: { key: 'm1' }, sameAs: (e) => e.subject.key === 'm1' })
    const again = await chain.append({ action: 'captured', actor: {}, subject: { key: 'm1' }, sameAs: (e) => e.subject.key === 'm1' })
    t.ok(first.created)
    t.notOk(again.created)
    t.equal(again.entry.hash, first.entry.hash)
    await t.rejects(chain.append({ action: 'destroyed' as never, actor: {}, subject: {} }), { name: 'ValidationError' })
    t.throws(() => new CustodyChain(store, signer, 'bad/case'), { name: 'ValidationError' })
  })

  t.test('an append without sameAs reads only the last entry; with sameAs, every entry', async (t) => {
    const { store } = await lockedStore(emulator)
    for (let i = 0; i < 5; i++) await new CustodyChain(store, signer, 'case-t').append({ action: 'note', actor: {}, subject: { note: `n${i}` } })
    const reads: string[] = []
    const counting = overrideStore(store, { getBytes: (k, v) => (reads.push(k), store.getBytes(k, v)) })
    const tail = await new CustodyChain(counting, signer, 'case-t').append({ action: 'captured', actor: {}, subject: { key: 'm-new' } })
    t.same(reads, [custodyKey('case-t', 4)], 'one read: the entry it links to')
    t.equal(tail.entry.seq, 5)
    reads.length = 0
    const searched = await new CustodyChain(counting, signer, 'case-t').append({ action: 'captured', actor: {}, subject: { key: 'm-new' }, sameAs: (e) => e.subject.key === 'm-new' })
    t.notOk(searched.created, 'the search finds the entry appended before')
    t.equal(searched.entry.hash, tail.entry.hash)
    t.equal(reads.length, 6, 'every entry was read')
    t.same(await new CustodyChain(store, signer, 'case-t').verify(), [], 'the chain is whole')
    // a chain that does not parse at its tail is not appended to
    await store.put({ key: custodyKey('case-u', 0), body: Buffer.from('not json') })
    await t.rejects(new CustodyChain(store, signer, 'case-u').append({ action: 'note', actor: {}, subject: {} }), { name: 'ValidationError', message: /not JSON/ })
  })

  t.test('gives up with a clear error under endless contention', async (t) => {
    const { store } = await lockedStore(emulator)
    await new CustodyChain(store, signer, 'case-x').append({ action: 'note', actor: {}, subject: {} })
    // a reader that never sees the existing entry (neither listed nor read by its key) keeps colliding with it
    const blind = overrideStore(store, { list: async function* () {}, getBytes: async (k) => Promise.reject(new Error(`${k} not visible`)) })
    await t.rejects(new CustodyChain(blind, signer, 'case-x', { maxAttempts: 3 }).append({ action: 'note', actor: {}, subject: {} }), { name: 'StorageError', message: /case-x.*3 attempts/ })
  })

  t.test('a lost race reads the winning entry by its key and builds on it: one listing, not one per lost race', async (t) => {
    const { store } = await lockedStore(emulator)
    const first = await new CustodyChain(store, signer, 'case-r').append({ action: 'note', actor: { tool: 'winner' }, subject: {} })
    // this writer listed before the winner wrote: it takes seq 0 too and loses
    let lists = 0
    const late = overrideStore(store, { list: async function* (p) { if (lists++ > 0) yield* store.list(p) } })
    const second = await new CustodyChain(late, signer, 'case-r').append({ action: 'note', actor: { tool: 'late' }, subject: {} })
    t.match(second, { created: true, entry: { seq: 1, prevHash: first.entry.hash } })
    t.equal(lists, 1, 'no listing after the lost race')
    t.same(await new CustodyChain(store, signer, 'case-r').verify(), [], 'valid chain')
    // a winning entry that does not parse is not built on: the whole chain is read, which names it
    await store.put({ key: custodyKey('case-s', 0), body: Buffer.from('not json') })
    let staleLists = 0
    const stale = overrideStore(store, { list: async function* (p) { if (staleLists++ > 0) yield* store.list(p) } })
    await t.rejects(new CustodyChain(stale, signer, 'case-s').append({ action: 'note', actor: {}, subject: {} }), { name: 'ValidationError', message: /not JSON/ })
    t.equal(staleLists, 2, 'read again in full')
  })

  t.test('unparseable stored entries are reported, not trusted', async (t) => {
    const { store } = await lockedStore(emulator)
    await store.put({ key: custodyKey('case-j', 0), body: Buffer.from('not json') })
    const chain = new CustodyChain(store, signer, 'case-j')
    await t.rejects(chain.read(), { name: 'ValidationError', message: /not JSON/ })
    t.match(await chain.verify(), [{ code: 'unparseable' }])
  })
})

t.test('tamper detection (pure verifier)', async (t) => {
  const pem = await signer.publicKeyPem()
  async function build(n: number): Promise<StoredCustodyEntry[]> {
    const out: StoredCustodyEntry[] = []
    let prev: string | null = null
    for (let seq = 0; seq < n; seq++) {
      const body = { schema: 'forensics.custody/v1' as const, caseId: 'c', seq, prevHash: prev, time: `2026-11-29T10:00:0${seq}Z`, actor: { tool: 't' }, action: 'note' as const, subject: { note: String(seq) } }
      const hash = custodyEntryHash(body)
      const entry: CustodyEntry = { ...body, hash, signature: { keyId: signer.keyId, algorithm: 'ECDSA_SHA_256', value: (await signer.signDigest(hash)).toString('base64') } }
      out.push({ key: custodyKey('c', seq), bytes: canonicalBytes(entry), entry })
      prev = hash
    }
    return out
  }
  const good = await build(4)
  t.same(verifyCustodyChain(good, pem, 'c'), [])

  const edit = (s: StoredCustodyEntry, f: (e: CustodyEntry) => void): StoredCustodyEntry => {
    const e = JSON.parse(s.bytes.toString()) as CustodyEntry
    f(e)
    return { key: s.key, bytes: canonicalBytes(e) }
  }
  t.match(verifyCustodyChain([good[0], edit(good[1], (e) => (e.subject.note = 'changed')), good[2], good[3]], pem), [{ code: 'hash-mismatch', subject: custodyKey('c', 1) }], 'edited entry')
  // an edit that recomputes the hash still fails the signature
  t.match(verifyCustodyChain([good[0], edit(good[1], (e) => {
    e.subject.note = 'changed'
    e.hash = custodyEntryHash(e)
  }), good[2], good[3]], pem), [{ code: 'signature-invalid', subject: custodyKey('c', 1) }, { code: 'broken-link', subject: custodyKey('c', 2) }])
  // reordered: entries 1 and 2 swap places (file names stay)
  const swapped = [good[0], { key: good[1].key, bytes: good[2].bytes }, { key: good[2].key, bytes: good[1].bytes }, good[3]]
  t.match(verifyCustodyChain(swapped, pem), [{ code: 'seq-mismatch', subject: custodyKey('c', 1) }, { code: 'seq-mismatch', subject: custodyKey('c', 2) }])
  t.match(verifyCustodyChain([good[0], good[2], good[3]], pem), [{ code: 'gap', subject: custodyKey('c', 1) }], 'removed entry')
  t.match(verifyCustodyChain([...good, { key: 'cases/c/custody/fork.json', bytes: good[2].bytes }], pem), [{ code: 'fork', subject: 'cases/c/custody/fork.json' }])
  t.match(verifyCustodyChain(good, await other.publicKeyPem()), [{ code: 'signature-invalid' }, { code: 'signature-invalid' }, { code: 'signature-invalid' }, { code: 'signature-invalid' }], 'forged signatures')
  t.match(verifyCustodyChain(good, pem, 'another-case'), [{ code: 'case-mismatch' }])
  t.match(verifyCustodyChain([{ key: 'x', bytes: Buffer.from('{}') }], pem), [{ code: 'schema', subject: 'x' }])
  t.match(verifyCustodyChain([edit(good[0], (e) => (e.prevHash = 'f'.repeat(64)))], pem), [{ code: 'hash-mismatch' }, { code: 'broken-link' }])
})
