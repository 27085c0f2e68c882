/**
 * What goes into a bundle: reading a case's committed state
 * (forensics/bundle/read-case-state.ts), planning its members (plan-bundle.ts) and
 * rendering REPORT.md (bundle-report.ts), on the in-memory store.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { MEMBER, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { renderBundleReport } from '../forensics/bundle/bundle-report.js'
import { planBundle } from '../forensics/bundle/plan-bundle.js'
import { readCaseState, type CaseState } from '../forensics/bundle/read-case-state.js'
import type { CustodyEntry } from '../forensics/custody.js'
import { manifestKey, manifestSignatureKey } from '../forensics/keys.js'
import type { Manifest } from '../forensics/manifest.js'
import { seededMemoryCase } from './fixtures/bundle-case.js'
import { overrideStore } from './fixtures/evidence.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('readCaseState: errors, chosen captures and odd custody bytes', async (t) => {
  const { store, signer, captureId } = await seededMemoryCase()
  await t.rejects(readCaseState(store, 'nothing-here'), { name: 'ValidationError', message: /has no committed captures in s3:\/\/memory-evidence/ })
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

  // no signature beside the manifest and none in its metadata
  const sigKey = manifestSignatureKey('case-b', captureId)
  const signedKey = manifestKey('case-b', captureId)
  const noSig = overrideStore(store, {
    head: async (k, v) => {
      if (k === sigKey) return undefined
      const h = await store.head(k, v)
      return h && k === signedKey ? { ...h, metadata: {} } : h
    },
  })
  await t.rejects(readCaseState(noSig, 'case-b'), { name: 'IntegrityError', message: /signature .* is missing and the manifest carries none/ })
  const sigOnlyInMetadata = overrideStore(store, { head: async (k, v) => (k === sigKey ? undefined : store.head(k, v)) })
  t.equal((await readCaseState(sigOnlyInMetadata, 'case-b')).captures.length, 1, 'the signature in the manifest metadata is enough')

  // a manifest stored under another capture id, and one that does not parse
  const mKey = manifestKey('case-b', captureId)
  const doc = JSON.parse(store.objects.get(mKey)!.bytes.toString()) as Manifest
  store.overwrite(mKey, Buffer.from(JSON.stringify({ ...doc, captureId: 'cap-elsewhere-0123456789abcdef0123' })))
  await t.rejects(readCaseState(store, 'case-b'), { name: 'IntegrityError', message: /names case case-b capture cap-elsewhere-0123456789abcdef0123, not where it is stored/ })
  store.overwrite(mKey, Buffer.from('{"schema":'))
  await t.rejects(readCaseState(store, 'case-b'), { name: 'IntegrityError', message: /cannot be bundled/ })
})

t.test('planBundle: a case without custody and a manifest without collector', async (t) => {
  const { store, signer } = await seededMemoryCase()
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
  t.match(md, /Captures: 2 \(1 complete, 0 unverified, 1 partial\)/)
  t.match(md, /\| 0 \| T \| captured \| collector \| capture cases/)
  t.match(md, /\| 1 \| T \| bundled \| {2}\| bundle sha256 … \(zip, 0 captures\) \|/)
  t.match(md, /\| 2 \| T \| note \| arn:aws:iam::1:user/)
  t.match(md, /\| 3 \| T \| note \| {2}\| \{\} \|/)
  t.match(md, /bundle sha256 abababababababab… \(tar.gz, 2 captures\)/)
  t.match(md, /Findings: 0; items that could not be captured: 0/)
})
