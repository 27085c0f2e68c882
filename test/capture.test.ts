import t from 'tap'
import { Readable } from 'node:stream'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3'
import { runCapture, readCommittedCapture, type CaptureSpec, type CaptureResult } from '../forensics/capture.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import { LocalSigner } from '../forensics/signer.js'
import { manifestKey, artifactKey } from '../forensics/keys.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'

const { signer } = LocalSigner.fromFile(join(mkdtempSync(join(tmpdir(), 'cap-')), 'k.pem'), { create: true })
const spec = (over: Partial<CaptureSpec> = {}): CaptureSpec => ({
  caseId: 'case-1',
  collector: { name: 'test-collector', version: '1.0.0' },
  trigger: { source: 'test', id: 'evt-1' },
  actor: { principalArn: 'arn:aws:iam::123456789012:user/alice' },
  target: { bucket: 'victim' },
  ...over,
})

t.test('capture transaction', async (t) => {
  const emulator = await useEmulator(t)

  t.test('artifacts, then the manifest, then its signature; verifies', async (t) => {
    const { store } = await lockedStore(emulator)
    const res = await runCapture({ store, signer }, spec(), async (ctx) => {
      await ctx.addArtifact('b.json', Buffer.from('{"b":2}'), { contentType: 'application/json', source: { bucket: 'victim', key: 'b' } })
      await ctx.addArtifact('a/stream.bin', Readable.from([Buffer.from('streamed')]))
      ctx.findings.push({ type: 'test', severity: 'info', title: 'a finding' })
      ctx.summary = { n: 2 }
    })
    t.ok(res.created)
    t.equal(res.manifest.status, 'complete')
    t.same(res.manifest.artifacts.map((a) => a.path), ['a/stream.bin', 'b.json'], 'sorted by path')
    t.equal(res.manifest.signing.keyId, signer.keyId)
    const v = await verifyCapture(store, 'case-1', res.manifest.captureId, { publicKeyPem: await signer.publicKeyPem() })
    t.same(v.findings, [])
  })

  t.test('same capture committed 3 times: one manifest, one custody entry', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    const chain = new CustodyChain(store, signer, 'case-1')
    let bodies = 0
    const results: CaptureResult[] = []
    for (let i = 0; i < 3; i++) {
      const r = await runCapture({ store, signer }, spec(), async (ctx) => {
        bodies++
        await ctx.addArtifact('x.txt', Buffer.from('x'))
      })
      await recordCaptured(chain, { ...r, captureId: r.manifest.captureId }, { tool: 'test' })
      results.push(r)
    }
    t.same(results.map((r) => r.created), [true, false, false])
    t.equal(bodies, 1, 'redeliveries do not capture again')
    t.equal(new Set(results.map((r) => r.manifestSha256)).size, 1)
    const { Versions } = await s3.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: manifestKey('case-1', results[0].manifest.captureId) }))
    t.equal(Versions?.filter((v) => v.Key === manifestKey('case-1', results[0].manifest.captureId)).length, 1, 'one manifest version')
    const entries = await chain.read()
    t.equal(entries.length, 1)
    t.equal(entries[0].action, 'captured')
    // concurrent redeliveries too
    const concurrent = await Promise.all([1, 2, 3].map(() => runCapture({ store, signer }, spec({ trigger: { source: 'test', id: 'evt-2' } }), async (ctx) => {
      await ctx.addArtifact('y.txt', Buffer.from('same bytes'))
    })))
    t.equal(new Set(concurrent.map((r) => r.manifestSha256)).size, 1, 'concurrent deliveries agree on one manifest')
    t.equal(concurrent.filter((r) => r.created).length, 1)
  })

  t.test('a trigger known to be uncommitted is not looked up; a duplicate commit still loses to the first', async (t) => {
    const { store } = await lockedStore(emulator)
    const heads: string[] = []
    const counting = overrideStore(store, { head: (k, v) => (heads.push(k), store.head(k, v)) })
    const fresh = spec({ trigger: { source: 'cli', id: 'cli:fresh-1' }, knownUncommitted: true })
    const first = await runCapture({ store: counting, signer }, fresh, async (ctx) => {
      await ctx.addArtifact('x.txt', Buffer.from('x'))
    })
    t.ok(first.created)
    t.same(heads, [], 'no HEAD at all: not of the manifest, the buffer artifact or the detached signature')
    // the same trigger committed again by a caller that wrongly claims it is new: the
    // conditional manifest write refuses it and the committed capture is returned
    const second = await runCapture({ store, signer }, fresh, async (ctx) => {
      await ctx.addArtifact('x.txt', Buffer.from('x'))
    })
    t.notOk(second.created)
    t.equal(second.manifestSha256, first.manifestSha256)
    // an artifact key holding other bytes from an earlier attempt: the next name is taken
    const other = await runCapture({ store, signer }, spec({ trigger: { source: 'cli', id: 'cli:fresh-2' }, knownUncommitted: true }), async (ctx) => {
      const captureId = ctx.captureId
      await store.put({ key: artifactKey('case-1', captureId, 'y.txt'), body: Buffer.from('earlier attempt') })
      const rec = await ctx.addArtifact('y.txt', Buffer.from('this attempt'))
      t.equal(rec.path, 'y.txt~2')
    })
    t.same(other.manifest.artifacts.map((a) => a.path), ['y.txt~2'])
  })

  t.test('an interrupted capture leaves no manifest; the retry commits cleanly', async (t) => {
    const { store } = await lockedStore(emulator)
    await t.rejects(
      runCapture({ store, signer }, spec({ trigger: { source: 'test', id: 'evt-3' } }), async (ctx) => {
        await ctx.addArtifact('first.txt', Buffer.from('one'))
        await ctx.addArtifact('second.txt', Buffer.from('two'))
        throw new Error('lambda timed out')
      }),
      { message: 'lambda timed out' },
    )
    const captureId = (await runCapture({ store, signer }, spec({ trigger: { source: 'test', id: 'evt-3' } }), async (ctx) => {
      await ctx.addArtifact('first.txt', Buffer.from('one')) // same bytes: reused
      await ctx.addArtifact('second.txt', Buffer.from('TWO')) // different bytes: new name
    })).manifest.captureId
    t.ok(captureId)
    const committed = await readCommittedCapture(store, 'case-1', captureId)
    t.same(committed?.manifest.artifacts.map((a) => a.path), ['first.txt', 'second.txt~2'])
    t.equal((await store.getBytes(committed!.manifest.artifacts[1].key, committed!.manifest.artifacts[1].versionId)).bytes.toString(), 'TWO')
    t.same((await verifyCapture(store, 'case-1', captureId, { publicKeyPem: await signer.publicKeyPem() })).findings, [])
  })

  t.test('an interrupted capture before commit leaves nothing that claims bytes', async (t) => {
    const { store } = await lockedStore(emulator)
    await t.rejects(runCapture({ store, signer }, spec({ trigger: { source: 'test', id: 'evt-4' } }), async () => {
      throw new Error('crash')
    }))
    t.equal(await readCommittedCapture(store, 'case-1', 'test-collector-00000000000000000000'), undefined)
    const keys = []
    for await (const o of store.list('cases/')) keys.push(o.key)
    t.same(keys, [])
  })

  t.test('partial captures record what failed', async (t) => {
    const { store } = await lockedStore(emulator)
    const r = await runCapture({ store, signer }, spec({ trigger: { source: 'test', id: 'evt-5' } }), async (ctx) => {
      await ctx.addArtifact('ok.json', Buffer.from('{}'))
      ctx.recordError({ what: 'GetBucketReplication', code: 'AccessDenied', message: 'denied by policy' })
    })
    t.equal(r.manifest.status, 'partial')
    t.same(r.manifest.errors, [{ what: 'GetBucketReplication', code: 'AccessDenied', message: 'denied by policy' }])
  })

  t.test('bad input is refused before anything is written', async (t) => {
    const { store } = await lockedStore(emulator)
    await t.rejects(runCapture({ store, signer }, spec({ caseId: '../etc' }), async () => undefined), { name: 'ValidationError', field: 'caseId' })
    for (const path of ['../escape', '/abs', 'a\u0000b']) {
      await t.rejects(runCapture({ store, signer }, spec({ trigger: { source: 't', id: `p-${path}` } }), async (ctx) => {
        await ctx.addArtifact(path, Buffer.from('x'))
      }), { name: 'ValidationError' })
    }
    await t.rejects(runCapture({ store, signer }, spec({ trigger: { source: 't', id: 'dup' } }), async (ctx) => {
      await ctx.addArtifact('a', Buffer.from('x'))
      await ctx.addArtifact('a', Buffer.from('y'))
    }), { name: 'ValidationError', message: /used twice/ })
    const keys = []
    for await (const o of store.list('cases/case-1/captures/')) if (o.key.endsWith('manifest.json')) keys.push(o.key)
    t.same(keys, [], 'no manifest for any refused capture')
  })

  t.test('tampering is detected and named', async (t) => {
    const { store } = await lockedStore(emulator)
    const pem = await signer.publicKeyPem()
    const r = await runCapture({ store, signer }, spec({ trigger: { source: 't', id: 'tamper' } }), async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('original'))
      await ctx.addArtifact('b.txt', Buffer.from('bravo'))
    })
    const [a, b] = r.manifest.artifacts
    // tamper through a store wrapper: reading artifact a returns one flipped byte
    const flipped = overrideStore(store, { get: async (key, versionId) => {
      const got = await store.get(key, versionId)
      if (key !== a.key) return got
      const chunks: Buffer[] = []
      for await (const c of got.body) chunks.push(c as Buffer)
      const bytes = Buffer.concat(chunks)
      bytes[0] ^= 1
      return { ...got, body: Readable.from([bytes]) }
    } })
    const v1 = await verifyCapture(flipped, 'case-1', r.manifest.captureId, { publicKeyPem: pem })
    t.match(v1.findings, [{ code: 'hash-mismatch', subject: a.key }])
    // a removed artifact (its recorded version does not exist)
    const gone = overrideStore(store, { head: async (key, versionId) => (key === b.key ? undefined : store.head(key, versionId)) })
    t.match((await verifyCapture(gone, 'case-1', r.manifest.captureId, { publicKeyPem: pem })).findings, [{ code: 'artifact-missing', subject: b.key }])
    // a forged signature
    const other = LocalSigner.fromFile(join(mkdtempSync(join(tmpdir(), 'other-')), 'k.pem'), { create: true }).signer
    t.match((await verifyCapture(store, 'case-1', r.manifest.captureId, { publicKeyPem: await other.publicKeyPem() })).findings, [{ code: 'signature-invalid', subject: /manifest\.json\.sig$/ }])
    // retention shorter than required
    t.match((await verifyCapture(store, 'case-1', r.manifest.captureId, { publicKeyPem: pem, retention: { mode: 'COMPLIANCE', days: 30 } })).findings, [{ code: 'retention-short' }])
    // never committed
    t.match((await verifyCapture(store, 'case-1', 'test-collector-00000000000000000000', { publicKeyPem: pem })).findings, [{ code: 'manifest-missing' }])
    t.equal(artifactKey('case-1', r.manifest.captureId, 'a.txt'), a.key)
  })
})
