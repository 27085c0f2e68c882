/**
 * Branch coverage of the bundle code without the emulator: an in-memory evidence store,
 * hand-made case states and archives, and the verifier's less common paths.
 */
import t from 'tap'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip, deflateRawSync } from 'node:zlib'
import tar from 'tar-stream'
import { seedCapture, testSignerWithPem } from './fixtures/bundle-case.js'
import { runCli, tempDir } from './fixtures/bundle-cli.js'
import { DeterministicArchive } from '../forensics/bundle/archive-writer.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { MEMBER, parseBundleIndex, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { isSafeMemberName, mapArchivePaths } from '../forensics/bundle/archive-paths.js'
import { readBundleMembers, readTarGzMembers, readZipMembers, type BundleMember } from '../forensics/bundle/bundle-reader.js'
import { renderBundleReport } from '../forensics/bundle/bundle-report.js'
import { planBundle } from '../forensics/bundle/plan-bundle.js'
import { readCaseState, type CaseState } from '../forensics/bundle/read-case-state.js'
import { verifyBundleFile, verifyBundleMembers } from '../forensics/bundle/verify-bundle.js'
import type { CustodyEntry } from '../forensics/custody.js'
import { EvidenceExistsError, type EvidenceHead, type EvidenceStore, type ListedEvidence } from '../forensics/evidence-store.js'
import { manifestKey, manifestSignatureKey } from '../forensics/keys.js'
import type { Manifest } from '../forensics/manifest.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

async function readAll(body: Readable | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** A write-once, versioned evidence store in memory. */
class MemoryStore implements EvidenceStore {
  readonly bucket = 'mem-evidence'
  readonly retention = { mode: 'COMPLIANCE' as const, days: 1 }
  readonly objects = new Map<string, { bytes: Buffer; versionId: string }>()
  #n = 0
  async assertLocked(): Promise<void> {}
  async put(input: { key: string; body: Buffer | Readable }) {
    if (this.objects.has(input.key)) throw new EvidenceExistsError(this.bucket, input.key)
    const bytes = await readAll(input.body)
    const versionId = `v${++this.#n}`
    this.objects.set(input.key, { bytes, versionId })
    return { key: input.key, versionId, sha256: sha(bytes), size: bytes.length }
  }
  /** Replaces an object's bytes (tampering at rest, for tests). */
  overwrite(key: string, bytes: Buffer): void {
    this.objects.set(key, { bytes, versionId: `v${++this.#n}` })
  }
  #obj(key: string) {
    const o = this.objects.get(key)
    if (!o) throw new Error(`NoSuchKey ${key}`)
    return o
  }
  async get(key: string, _versionId?: string) {
    const o = this.#obj(key)
    return { body: Readable.from([o.bytes]), versionId: o.versionId, size: o.bytes.length }
  }
  async getBytes(key: string, _versionId?: string) {
    const o = this.#obj(key)
    return { bytes: o.bytes, versionId: o.versionId }
  }
  async head(key: string): Promise<EvidenceHead | undefined> {
    const o = this.objects.get(key)
    return o ? { key, versionId: o.versionId, size: o.bytes.length, metadata: {} } : undefined
  }
  async *list(prefix: string): AsyncIterable<ListedEvidence> {
    for (const key of [...this.objects.keys()].sort()) if (key.startsWith(prefix)) yield { key, size: this.objects.get(key)!.bytes.length }
  }
  async tryDelete(): Promise<string | undefined> {
    return 'AccessDenied'
  }
}

/** A store that hides keys from listings (e.g. the custody chain). */
function hiding(store: EvidenceStore, hide: (key: string) => boolean): EvidenceStore {
  return {
    bucket: store.bucket,
    retention: store.retention,
    assertLocked: () => store.assertLocked(),
    put: (i) => store.put(i),
    get: (k, v) => store.get(k, v),
    getBytes: (k, v) => store.getBytes(k, v),
    head: (k, v) => store.head(k, v),
    tryDelete: (k, v) => store.tryDelete(k, v),
    async *list(prefix: string) {
      for await (const o of store.list(prefix)) if (!hide(o.key)) yield o
    },
  }
}

async function seeded(caseId = 'case-b'): Promise<{ store: MemoryStore; signer: ReturnType<typeof testSignerWithPem>['signer']; captureId: string }> {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  const r = await seedCapture(store, signer, caseId, 'evt-1', [
    { path: 'bucket/policy.json', body: '{"Statement":[]}', contentType: 'application/json' },
    { path: 'objects/blob.bin', body: randomBytes(300) },
  ])
  return { store, signer, captureId: r.manifest.captureId }
}

/** Writes `members` as an archive with DeterministicArchive. */
async function writeArchive(file: string, format: 'zip' | 'tar.gz', members: readonly { name: string; bytes: Buffer }[]): Promise<void> {
  const out = createWriteStream(file)
  const a = new DeterministicArchive(format, out)
  for (const m of members) await a.add(m.name, m.bytes, { size: m.bytes.length })
  await a.finish()
}

t.test('readCaseState: errors, chosen captures and odd custody bytes', async (t) => {
  const { store, signer, captureId } = await seeded()
  await t.rejects(readCaseState(store, 'nothing-here'), { name: 'ValidationError', message: /has no committed captures in s3:\/\/mem-evidence/ })
  await t.rejects(readCaseState(store, 'case-b', ['cap-missing-0123456789abcdef0123']), { name: 'ValidationError', message: /has no committed capture cap-missing-0123456789abcdef0123/ })
  const chosen = await readCaseState(store, 'case-b', [captureId])
  t.same(chosen.captures.map((c) => c.captureId), [captureId])
  t.equal(chosen.custody.length, 1, 'the captured entry is read')
  t.equal(chosen.custody[0].entry?.action, 'captured')

  // a nested manifest-like key is not a capture; a custody key that is not a seq is ignored
  await store.put({ key: `cases/case-b/captures/${captureId}/nested/manifest.json`, body: Buffer.from('{}') })
  await store.put({ key: 'cases/case-b/custody/not-a-seq.json', body: Buffer.from('{}') })
  // a custody entry whose bytes are not JSON is bundled as stored, without an entry
  await store.put({ key: 'cases/case-b/custody/00000001.json', body: Buffer.from('not json') })
  const all = await readCaseState(store, 'case-b')
  t.equal(all.captures.length, 1)
  t.same(all.custody.map((c) => c.seq), [0, 1])
  t.equal(all.custody[1].entry, undefined)

  // the plan of that state: its head has no entry, so its hash is the bytes' and time empty
  const pem = await signer.publicKeyPem()
  const plan = planBundle(all, pem.trimEnd(), signer.keyId)
  t.same(plan.index.custodyHead, { seq: 1, hash: sha(Buffer.from('not json')), key: 'cases/case-b/custody/00000001.json', versionId: all.custody[1].versionId, time: '' })
  const key = plan.members.find((m) => m.path === MEMBER.publicKey)
  t.ok(key?.kind === 'document' && key.bytes.toString().endsWith('-----END PUBLIC KEY-----\n'), 'a PEM without a final newline gets one')
  t.same(plan.members.map((m) => m.path), [...plan.members.map((m) => m.path)].sort(), 'members in path order')

  // signature missing
  const noSig = hiding(store, () => false)
  const sigKey = manifestSignatureKey('case-b', captureId)
  noSig.head = async (k) => (k === sigKey ? undefined : store.head(k))
  await t.rejects(readCaseState(noSig, 'case-b'), { name: 'IntegrityError', message: /signature .* is missing/ })

  // a manifest stored under another capture id, and one that does not parse
  const mKey = manifestKey('case-b', captureId)
  const doc = JSON.parse(store.objects.get(mKey)!.bytes.toString()) as Manifest
  store.overwrite(mKey, Buffer.from(JSON.stringify({ ...doc, captureId: 'cap-elsewhere-0123456789abcdef0123' })))
  await t.rejects(readCaseState(store, 'case-b'), { name: 'IntegrityError', message: /names case case-b capture cap-elsewhere-0123456789abcdef0123, not where it is stored/ })
  store.overwrite(mKey, Buffer.from('{"schema":'))
  await t.rejects(readCaseState(store, 'case-b'), { name: 'IntegrityError', message: /cannot be bundled/ })
})

t.test('planBundle: a case without custody and a manifest without collector', async (t) => {
  const { store, signer } = await seeded()
  const state = await readCaseState(store, 'case-b')
  const bare: CaseState = { ...state, custody: [], captures: state.captures.map((c) => ({ ...c, manifest: { ...c.manifest, collector: undefined as unknown as Manifest['collector'] } })) }
  const plan = planBundle(bare, await signer.publicKeyPem(), signer.keyId)
  t.equal(plan.index.custodyHead, null)
  t.equal(plan.index.captures[0].collector, 'undefined@undefined')
  const report = plan.members.find((m) => m.path === MEMBER.report)
  t.ok(report?.kind === 'document')
  const md = report?.kind === 'document' ? report.bytes.toString() : ''
  t.match(md, /Custody chain: no entries yet/)
  t.match(md, /No custody entries\./)
  t.equal(plan.totalBytes, plan.index.files.reduce((n, f) => n + f.size, 0) + plan.members.filter((m) => m.path === MEMBER.index || m.path === MEMBER.sums).reduce((n, m) => n + (m.kind === 'document' ? m.bytes.length : 0), 0))
})

t.test('renderBundleReport: large sizes, custody subjects and actors', async (t) => {
  const index = {
    caseId: 'c',
    bucket: 'b',
    tool: { name: 'forensics', version: '1' },
    publicKey: { fingerprint: 'fp', signerKeyId: 'k' },
    custodyHead: { seq: 4, hash: 'h'.repeat(64), key: 'k', versionId: 'v', time: 't' },
  } as unknown as BundleIndex
  const manifest = (size: number, status: 'complete' | 'partial'): Manifest =>
    ({ captureId: `cap-${size}`, status, artifacts: [{ path: 'a', size }], errors: [], startedAt: 's', endedAt: 'e' }) as unknown as Manifest
  const e = (seq: number, action: string, subject: unknown, actor: unknown): CustodyEntry => ({ seq, time: 'T', action, subject, actor }) as unknown as CustodyEntry
  const md = renderBundleReport(index, [manifest(5 * 1024 * 1024 * 1024 * 1024 * 1024, 'complete'), manifest(3 * 1024 * 1024, 'partial')], [
    e(0, 'captured', { key: 'cases/c/x/manifest.json' }, { tool: 'collector' }),
    e(1, 'bundled', { format: 'zip' }, undefined),
    e(2, 'note', { key: 'some/key' }, { principalArn: 'arn:aws:iam::1:user/u' }),
    e(3, 'note', undefined, {}),
    e(4, 'bundled', { sha256: 'ab'.repeat(32), format: 'tar.gz', captureIds: ['x', 'y'] }, { tool: 't' }),
  ])
  t.match(md, /Artifacts: 2 \(5120\.0 TiB\)/, 'sizes beyond the largest unit stay in TiB')
  t.match(md, /\| cap-3145728 \| undefined@undefined \| undefined: undefined \| s \| e \| partial \| 1 \| 3145728 \|/)
  t.match(md, /Captures: 2 \(1 complete, 1 partial\)/)
  t.match(md, /\| 0 \| T \| captured \| collector \| capture cases/)
  t.match(md, /\| 1 \| T \| bundled \| {2}\| bundle sha256 … \(zip, 0 captures\) \|/)
  t.match(md, /\| 2 \| T \| note \| arn:aws:iam::1:user/)
  t.match(md, /\| 3 \| T \| note \| {2}\| \{\} \|/)
  t.match(md, /bundle sha256 abababababababab… \(tar.gz, 2 captures\)/)
  t.match(md, /Findings: 0; items that could not be captured: 0/)
})

t.test('archive writer: pointer, failure from outside, abort', async (t) => {
  const sink = new PassThrough()
  sink.resume()
  const a = new DeterministicArchive('zip', sink)
  t.equal(a.pointer, 0)
  await a.add('a.txt', Buffer.from('hello'), { size: 5 })
  t.ok(a.pointer > 5, 'the pointer counts the local header and data')
  a.fail(new Error('disk full'))
  a.fail(new Error('second failure is ignored'))
  await t.rejects(a.add('b.txt', Buffer.from('x'), { size: 1 }), { message: 'disk full' })
  await t.rejects(a.finish(), { message: 'disk full' })
  a.abort()

  // a failure while an entry is pending rejects that entry
  const slow = new PassThrough()
  const b = new DeterministicArchive('tar.gz', slow)
  const src = new PassThrough()
  const pending = b.add('big.bin', src, { size: 10 })
  b.fail(new Error('output gone'))
  await t.rejects(pending, { message: 'output gone' })
  b.abort()
  src.destroy()
})

t.test('reader: large zip members stream, size lies and tar directories', async (t) => {
  const dir = tempDir(t)
  // 1.5 MiB of random JSON-named bytes: deflated, compressed size above the one-read limit
  const big = randomBytes(1536 * 1024)
  const small = Buffer.from('{"ok":true}')
  const zip = join(dir, 'big.zip')
  await writeArchive(zip, 'zip', [{ name: 'artifacts/c/big.json', bytes: big }, { name: 'doc.json', bytes: small }])
  const read = await readZipMembers(zip, { keepAllBytes: true })
  t.same(read.map((m) => [m.name, m.size, m.sha256, m.readError]), [['artifacts/c/big.json', big.length, sha(big), undefined], ['doc.json', small.length, sha(small), undefined]])
  t.ok(read[0].bytes?.equals(big), 'kept with keepAllBytes')
  const plain = await readZipMembers(zip)
  t.equal(plain[0].bytes, undefined, 'artifacts are not kept by default')
  t.ok(plain[1].bytes?.equals(small))

  // the central directory claims one byte more than the data inflates to
  const bytes = readFileSync(zip)
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
  t.ok(cd > 0)
  bytes.writeUInt32LE(bytes.readUInt32LE(cd + 24) + 1, cd + 24)
  const lying = join(dir, 'lying.zip')
  writeFileSync(lying, bytes)
  const lied = await readZipMembers(lying)
  t.equal(lied[0].readError, `${big.length} bytes, the zip directory says ${big.length + 1}`)
  t.equal(lied[1].readError, undefined)
  const v = await verifyBundleFile(lying)
  t.ok(v.findings.some((f) => f.check === 'archive' && f.member === 'artifacts/c/big.json' && /could not be read/.test(f.message)))

  // tar.gz with a directory entry and a symlink: the directory is skipped
  const pack = tar.pack()
  pack.entry({ name: 'manifests/', type: 'directory' })
  pack.entry({ name: 'manifests/x.txt' }, 'hi')
  pack.entry({ name: 'link', type: 'symlink', linkname: '/etc/passwd' })
  pack.finalize()
  const tgz = join(dir, 'dirs.tar.gz')
  await pipeline(pack, createGzip(), createWriteStream(tgz))
  const members = await readTarGzMembers(tgz)
  t.same(members.map((m) => [m.name, m.type, m.size]), [['manifests/x.txt', undefined, 2], ['link', 'symlink', 0]])
  const both = await readBundleMembers(tgz)
  t.equal(both.format, 'tar.gz')
})

t.test('buildBundle: options, refusals and output failures', async (t) => {
  const dir = tempDir(t)
  const { store, signer, captureId } = await seeded()
  await t.rejects(buildBundle({ store, signer, caseId: 'case-b', format: 'rar' as never, output: { path: join(dir, 'x') } }), { name: 'ValidationError', message: /unknown bundle format "rar"/ })
  const exists = join(dir, 'exists.zip')
  writeFileSync(exists, 'x')
  await t.rejects(buildBundle({ store, signer, caseId: 'case-b', output: { path: exists } }), { name: 'ValidationError', message: /already exists/ })
  t.equal(readFileSync(exists, 'utf8'), 'x', 'the existing file is untouched')

  // a stream output that fails: a StorageError naming the stream
  const broken = new Writable({
    write(_c, _e, cb) {
      cb(new Error('EPIPE-ish'))
    },
  })
  await t.rejects(buildBundle({ store, signer, caseId: 'case-b', output: { stream: broken }, recordCustody: false }), { name: 'StorageError', message: /cannot write the bundle to the output stream: EPIPE-ish/ })

  // default actor, no custody in the bundle: the bundled entry records a null head
  // (the chain is hidden while the case state is read, visible again once writing starts)
  let hide = true
  const noCustody = hiding(store, (k) => hide && k.includes('/custody/'))
  const progress: number[] = []
  const file = join(dir, 'nocustody.zip')
  const r = await buildBundle({
    store: noCustody,
    signer,
    caseId: 'case-b',
    output: { path: file },
    onProgress: (p) => {
      hide = false
      progress.push(p.files)
    },
    now: () => new Date('2026-12-01T00:00:00Z'),
  })
  t.equal(r.custodyHead, null)
  t.same(r.captureIds, [captureId])
  t.equal(r.format, 'zip')
  t.same(progress, Array.from({ length: r.files }, (_, i) => i + 1))
  t.equal(r.custodyEntry?.seq, 1, 'appended after the captured entry')
  const bundled = JSON.parse(store.objects.get('cases/case-b/custody/00000001.json')!.bytes.toString()) as CustodyEntry
  t.equal(bundled.action, 'bundled')
  t.match(bundled.actor.tool, /^cdktf-forensics /)
  t.equal(bundled.subject.custodyHead, null)
  t.equal(bundled.subject.file, 'nocustody.zip')
  t.equal(bundled.time, '2026-12-01T00:00:00.000Z')
  t.equal(sha(readFileSync(file)), r.sha256)

  // verified offline: the only finding is the manifest no custody entry records
  const v = await verifyBundleFile(file)
  t.equal(v.custodyHead, null)
  t.same(v.findings.map((f) => f.check), ['custody'])

  // CLI text output: one finding, no custody entries
  const one = await runCli(['verify', file], {})
  t.equal(one.code, 1)
  t.match(one.stdout.toString(), /\(zip\): 1 finding\n/)
  t.match(one.stdout.toString(), /case case-b, 1 captures, \d+ files \(\d+ bytes\), no custody entries/)
  t.match(one.stdout.toString(), /custody ✗1/)

  // a zip that is no bundle at all: case unknown, many findings
  const junk = join(dir, 'junk.zip')
  await writeArchive(junk, 'zip', [{ name: 'hello.txt', bytes: Buffer.from('hi') }])
  const j = await runCli(['verify', junk], {})
  t.equal(j.code, 1)
  t.match(j.stdout.toString(), /: \d+ findings\n/)
  t.match(j.stdout.toString(), /case \(unknown\), 0 captures, 1 files \(2 bytes\), no custody entries/)
  t.match(j.stdout.toString(), /✗ bundle.json: bundle.json is missing from the bundle \[required\]/)
  const usage = await runCli(['verify'], {})
  t.equal(usage.code, 2)
  t.match(usage.stderr, /name exactly one bundle file/)
})

t.test('verifier checks: the uncommon findings', async (t) => {
  const { store, signer } = await seeded()
  const sink = new PassThrough()
  const chunks: Buffer[] = []
  sink.on('data', (c: Buffer) => chunks.push(c))
  await buildBundle({ store, signer, caseId: 'case-b', output: { stream: sink }, recordCustody: false })
  const dir = tempDir(t)
  const file = join(dir, 'b.zip')
  writeFileSync(file, Buffer.concat(chunks))
  const { members } = await readBundleMembers(file, { keepAllBytes: true })
  t.ok(verifyBundleMembers(members).ok, 'the unmodified bundle verifies')
  const byName = (ms: BundleMember[], n: string): BundleMember => ms.find((m) => m.name === n)!
  const edit = (fn: (ms: BundleMember[]) => void): ReturnType<typeof verifyBundleMembers> => {
    const ms = members.map((m) => ({ ...m }))
    fn(ms)
    return verifyBundleMembers(ms)
  }
  const set = (m: BundleMember, bytes: Buffer): void => {
    Object.assign(m, { bytes, size: bytes.length, sha256: sha(bytes) })
  }

  const tooBig = edit((ms) => {
    byName(ms, MEMBER.report).bytes = undefined
  })
  t.ok(tooBig.findings.some((f) => f.check === 'required' && /REPORT.md is too large/.test(f.message)))

  const badKey = edit((ms) => set(byName(ms, MEMBER.publicKey), Buffer.from('not a pem')))
  t.ok(badKey.findings.some((f) => f.check === 'public-key' && /not an EC P-256 public key/.test(f.message)))

  const rsa = edit((ms) => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    set(byName(ms, MEMBER.publicKey), Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()))
  })
  t.ok(rsa.findings.some((f) => f.check === 'public-key' && /not an EC P-256 key/.test(f.message)))

  const sums = edit((ms) => set(byName(ms, MEMBER.sums), Buffer.from(byName(ms, MEMBER.sums).bytes!.toString() + 'garbage line\n')))
  t.ok(sums.findings.some((f) => f.check === 'sha256sums' && /line \d+ is not/.test(f.message)))

  const idx = edit((ms) => set(byName(ms, MEMBER.index), Buffer.from('{')))
  t.ok(idx.findings.some((f) => f.check === 'index' && /is not JSON/.test(f.message)))
  t.equal(idx.caseId, undefined)
  t.equal(idx.custodyHead, undefined)

  const sigGone = edit((ms) => {
    const i = ms.findIndex((m) => m.name.endsWith('manifest.json.sig'))
    ms.splice(i, 1)
  })
  t.ok(sigGone.findings.some((f) => f.check === 'manifests' && /is missing/.test(f.message)))

  const headGone = edit((ms) => {
    const i = ms.findIndex((m) => m.name.startsWith('custody/'))
    ms.splice(i, 1)
  })
  t.ok(headGone.findings.some((f) => f.check === 'custody' && /the custody head in bundle.json\) is missing/.test(f.message)))
})

t.test('verifier: a report that cannot be re-derived and a check that crashes are findings', async (t) => {
  const { store, signer } = await seeded()
  const chunks: Buffer[] = []
  const sink = new PassThrough()
  sink.on('data', (c: Buffer) => chunks.push(c))
  await buildBundle({ store, signer, caseId: 'case-b', format: 'tar.gz', output: { stream: sink }, recordCustody: false })
  const dir = tempDir(t)
  const file = join(dir, 'b.tar.gz')
  writeFileSync(file, Buffer.concat(chunks))
  const { format, members } = await readBundleMembers(file, { keepAllBytes: true })
  t.equal(format, 'tar.gz')
  const set = (ms: BundleMember[], name: string, bytes: Buffer): BundleMember[] =>
    ms.map((m) => (m.name === name ? { ...m, bytes, size: bytes.length, sha256: sha(bytes) } : m))

  // bundle.json without its publicKey block: REPORT.md cannot be rendered from it
  const index = JSON.parse(members.find((m) => m.name === MEMBER.index)!.bytes!.toString()) as Record<string, unknown>
  delete index.publicKey
  const noKey = verifyBundleMembers(set(members, MEMBER.index, Buffer.from(JSON.stringify(index))))
  t.ok(noKey.findings.some((f) => f.check === 'report' && f.member === MEMBER.report && /cannot be re-derived from the bundled evidence/.test(f.message)))

  // a custody entry with a number JSON parses but canonical JSON cannot encode
  const custodyName = members.find((m) => m.name.startsWith('custody/'))!.name
  const crash = verifyBundleMembers(set(members, custodyName, Buffer.from('{"seq":1e400}')))
  t.notOk(crash.ok)
  t.ok(crash.findings.some((f) => f.check === 'custody' && f.member === MEMBER.index && /check custody could not complete: canonical JSON cannot encode Infinity/.test(f.message)))
  t.ok(crash.findings.some((f) => f.check === 'report'), 'the later checks still run')
})

t.test('bundle.json parsing: each malformed shape is named', async (t) => {
  const good = { schema: 'forensics.bundle/v1', caseId: 'c', captures: [{ captureId: 'x' }], files: [], custodyHead: null }
  const parse = (doc: unknown): unknown => parseBundleIndex(Buffer.from(JSON.stringify(doc)))
  t.equal((parse(good) as BundleIndex).caseId, 'c')
  t.throws(() => parse([1]), { message: /is not a forensics.bundle\/v1 index/ })
  t.throws(() => parse({ ...good, schema: 'other' }), { message: /is not a forensics.bundle\/v1 index/ })
  t.throws(() => parse({ ...good, caseId: 7 }), { message: /lacks caseId, captures or files/ })
  t.throws(() => parse({ ...good, captures: {} }), { message: /lacks caseId, captures or files/ })
  t.throws(() => parse({ ...good, captures: [{ captureId: 'x' }, null] }), { message: /captures\[1\] needs a captureId/ })
  t.throws(() => parse({ ...good, custodyHead: { seq: 0, hash: 'nothex' } }), { message: /custodyHead must be null or \{seq, hash\}/ })
  t.throws(() => parse({ ...good, custodyHead: 'head' }), { message: /custodyHead must be null/ })
  t.throws(() => parse({ ...good, custodyHead: { seq: '0', hash: 'a'.repeat(64) } }), { message: /custodyHead must be null/ })
  t.same((parse({ ...good, custodyHead: { seq: 0, hash: 'a'.repeat(64) } }) as BundleIndex).custodyHead, { seq: 0, hash: 'a'.repeat(64) })
})

t.test('archive paths: forbidden characters and duplicate names', async (t) => {
  for (const bad of ['a:b', 'a|b', 'x/y?z', 'q"', 'lt<', 'gt>', 'star*']) t.notOk(isSafeMemberName(bad), bad)
  t.ok(isSafeMemberName('a%3Ab'))
  const m = mapArchivePaths(['b', 'a', 'b', 'A'])
  t.equal(m.size, 3, 'a name given twice maps once')
  t.equal(m.get('A'), 'A')
  t.match(m.get('a'), /^a~[0-9a-f]{12}$/, 'a case clash gets a hash suffix')
})

t.test('buildBundle: streamed artifacts, and a source that fails mid-stream', async (t) => {
  const dir = tempDir(t)
  const { store, signer } = await seeded()
  for (const format of ['zip', 'tar.gz'] as const) {
    const file = join(dir, `streamed.${format}`)
    const r = await buildBundle({ store, signer, caseId: 'case-b', format, output: { path: file }, recordCustody: false, prefetchBytes: 0, prefetch: 1, level: 1 })
    t.equal(r.custodyEntry, undefined)
    const v = await verifyBundleFile(file)
    t.ok(v.ok, `${format}: streamed artifacts verify: ${JSON.stringify(v.findings)}`)
    t.equal(v.captures, 1)
  }
  // the blob's stream errors after some bytes: the build fails with that error, no file
  const failing: EvidenceStore = {
    ...hiding(store, () => false),
    async get(key, versionId) {
      const r = await store.get(key, versionId)
      if (!key.endsWith('blob.bin')) return r
      const body = new Readable({
        read() {
          this.push(Buffer.alloc(100))
          this.destroy(new Error('connection reset'))
        },
      })
      return { ...r, body }
    },
  }
  for (const format of ['tar.gz', 'zip'] as const) {
    const out = join(dir, `failed.${format}`)
    await t.rejects(buildBundle({ store: failing, signer, caseId: 'case-b', format, output: { path: out }, recordCustody: false, prefetchBytes: 0 }), {
      name: 'StorageError',
      message: /^cannot read s3:\/\/mem-evidence\/cases\/case-b\/captures\/.*blob\.bin version v\d+: connection reset$/,
    })
    t.same(readdirSync(dir).filter((f) => f.startsWith('failed.')), [], `${format}: neither the bundle nor its temp file is left behind`)
  }
})

/** One entry of a hand-built zip: exactly the header fields the reader looks at. */
interface RawZipEntry {
  name: string | Buffer
  data?: Buffer
  method?: number
  flags?: number
  /** st_mode (upper 16 bits of the external attributes) */
  mode?: number
  /** sizes the directory claims (default: the data's) */
  compressedSize?: number
  uncompressedSize?: number
  /** write the local header + data after the central directory (so its data runs into the end of the file) */
  afterDirectory?: boolean
  /** point the directory at this offset instead of the local header */
  localOffset?: number
}

/** A minimal zip writer (no CRC: the reader does not check it), for entries archiver never writes. */
function rawZip(entries: readonly RawZipEntry[]): Buffer {
  const local = (e: RawZipEntry, name: Buffer): Buffer => {
    const h = Buffer.alloc(30)
    h.writeUInt32LE(0x04034b50, 0)
    h.writeUInt16LE(20, 4)
    h.writeUInt16LE(e.flags ?? 0, 6)
    h.writeUInt16LE(e.method ?? 0, 8)
    h.writeUInt32LE(e.compressedSize ?? e.data?.length ?? 0, 18)
    h.writeUInt32LE(e.uncompressedSize ?? e.data?.length ?? 0, 22)
    h.writeUInt16LE(name.length, 26)
    return Buffer.concat([h, name, e.data ?? Buffer.alloc(0)])
  }
  const before: Buffer[] = []
  const after: Buffer[] = []
  const offsets: number[] = []
  let pos = 0
  const names = entries.map((e) => (Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'latin1')))
  for (const [i, e] of entries.entries()) {
    if (e.afterDirectory) continue
    offsets[i] = pos
    const l = local(e, names[i])
    before.push(l)
    pos += l.length
  }
  const cdOffset = pos
  const cd: Buffer[] = []
  let cdSize = 0
  // entries after the directory: their offsets are known once the directory's size is
  const cdLen = names.reduce((n, b) => n + 46 + b.length, 0)
  let tail = cdOffset + cdLen
  for (const [i, e] of entries.entries()) {
    if (!e.afterDirectory) continue
    offsets[i] = tail
    const l = local(e, names[i])
    after.push(l)
    tail += l.length
  }
  for (const [i, e] of entries.entries()) {
    const c = Buffer.alloc(46)
    c.writeUInt32LE(0x02014b50, 0)
    c.writeUInt16LE((3 << 8) | 20, 4)
    c.writeUInt16LE(20, 6)
    c.writeUInt16LE(e.flags ?? 0, 8)
    c.writeUInt16LE(e.method ?? 0, 10)
    c.writeUInt32LE(e.compressedSize ?? e.data?.length ?? 0, 20)
    c.writeUInt32LE(e.uncompressedSize ?? e.data?.length ?? 0, 24)
    c.writeUInt16LE(names[i].length, 28)
    c.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38)
    c.writeUInt32LE(e.localOffset ?? offsets[i], 42)
    cd.push(c, names[i])
    cdSize += 46 + names[i].length
  }
  const eocd = Buffer.alloc(22)
  eocd.writeUInt32LE(0x06054b50, 0)
  eocd.writeUInt16LE(entries.length, 8)
  eocd.writeUInt16LE(entries.length, 10)
  eocd.writeUInt32LE(cdSize, 12)
  eocd.writeUInt32LE(cdOffset, 16)
  return Buffer.concat([...before, ...cd, ...after, eocd])
}

t.test('zip reader: entries archiver never writes', async (t) => {
  const dir = tempDir(t)
  const big = randomBytes(1100 * 1024)
  const file = join(dir, 'raw.zip')
  writeFileSync(
    file,
    rawZip([
      { name: 'dir/' },
      { name: 'd2', mode: 0o040755 },
      { name: Buffer.from('ünï.txt', 'utf8'), flags: 0x800, data: Buffer.from('abc') },
      { name: Buffer.from([0x63, 0xe9]), data: Buffer.from('latin1') },
      { name: 'link', mode: 0o120777, data: Buffer.from('/etc/passwd') },
      { name: 'fifo', mode: 0o010644 },
      { name: 'no-mode', mode: 0, data: Buffer.from('x') },
      { name: 'enc.bin', flags: 0x1, data: Buffer.alloc(18), uncompressedSize: 6 }, // 12 bytes of encryption header
      { name: 'bz.bin', method: 12, data: Buffer.from('BZh') },
      { name: 'nohdr.bin', data: Buffer.from('zz'), localOffset: 1 },
      { name: 'empty.txt', data: Buffer.alloc(0) },
      { name: 'lie.txt', method: 8, data: deflateRawSync(Buffer.from('hello')), uncompressedSize: 6 },
      { name: 'big.bin', data: big },
      { name: 'huge.bin', method: 8, data: Buffer.alloc(0), uncompressedSize: 40 * 1024 * 1024 },
      { name: 'cut.bin', data: Buffer.from('0123456789'), compressedSize: 100, uncompressedSize: 100, afterDirectory: true },
    ]),
  )
  const ms = await readZipMembers(file, { keepAllBytes: true })
  const by = new Map(ms.map((m) => [m.name, m]))
  t.same(ms.map((m) => m.name), ['ünï.txt', 'c\u00e9', 'link', 'fifo', 'no-mode', 'enc.bin', 'bz.bin', 'nohdr.bin', 'empty.txt', 'lie.txt', 'big.bin', 'huge.bin', 'cut.bin'], 'directories skipped; names utf8 or latin1 by the flag')
  t.equal(by.get('ünï.txt')?.bytes?.toString(), 'abc')
  t.equal(by.get('c\u00e9')?.bytes?.toString(), 'latin1')
  t.equal(by.get('link')?.type, 'symlink')
  t.equal(by.get('fifo')?.type, 'mode 10000')
  t.equal(by.get('no-mode')?.type, undefined, 'no unix mode is a regular file')
  t.equal(by.get('enc.bin')?.readError, 'encrypted')
  t.equal(by.get('bz.bin')?.readError, 'compression method 12 is not supported')
  t.equal(by.get('nohdr.bin')?.readError, 'local file header missing')
  t.same([by.get('empty.txt')?.size, by.get('empty.txt')?.sha256, by.get('empty.txt')?.readError], [0, sha(Buffer.alloc(0)), undefined])
  t.equal(by.get('lie.txt')?.readError, '5 bytes, the zip directory says 6')
  t.same([by.get('big.bin')?.size, by.get('big.bin')?.sha256, by.get('big.bin')?.readError], [big.length, sha(big), undefined], 'a large stored member is hashed while streaming')
  t.equal(by.get('huge.bin')?.readError, `0 bytes, the zip directory says ${40 * 1024 * 1024}`)
  t.equal(by.get('cut.bin')?.readError, 'member data cut short')

  // the verifier turns each into a finding naming the member
  const v = await verifyBundleFile(file)
  for (const name of ['link', 'fifo', 'enc.bin', 'bz.bin', 'nohdr.bin', 'lie.txt', 'huge.bin', 'cut.bin']) {
    t.ok(v.findings.some((f) => f.check === 'archive' && f.member === name), `${name} is an archive finding`)
  }
})
