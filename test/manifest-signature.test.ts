import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCapture, type CaptureSpec } from '../forensics/capture.js'
import { readCaseState } from '../forensics/bundle/read-case-state.js'
import { manifestKey, manifestSignatureKey } from '../forensics/keys.js'
import { readManifestSignature, SIGNATURE_METADATA } from '../forensics/manifest-signature.js'
import { LocalSigner, verifyDigestSignature } from '../forensics/signer.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { StorageError } from '../forensics/errors.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'

const { signer } = LocalSigner.fromFile(join(mkdtempSync(join(tmpdir(), 'ms-')), 'k.pem'), { create: true })
const spec: CaptureSpec = { caseId: 'case-sig', collector: { name: 'sig-test', version: '1' }, trigger: { source: 'test', id: 'e1' }, target: {} }

t.test('the commit point carries the manifest signature', async (t) => {
  const emulator = await useEmulator(t)

  t.test('the manifest object holds its signature in metadata, and a detached copy is written', async (t) => {
    const { store } = await lockedStore(emulator)
    const r = await runCapture({ store, signer }, spec, async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('a'))
    })
    const head = await store.head(manifestKey(spec.caseId, r.manifest.captureId))
    const embedded = Buffer.from(head!.metadata[SIGNATURE_METADATA.signature], 'base64')
    t.ok(verifyDigestSignature(await signer.publicKeyPem(), r.manifestSha256, embedded), 'the embedded signature verifies the manifest bytes')
    t.equal(head!.metadata[SIGNATURE_METADATA.keyId], signer.keyId)
    const sig = await readManifestSignature(store, spec.caseId, r.manifest.captureId)
    t.match(sig, { source: 'object', key: manifestSignatureKey(spec.caseId, r.manifest.captureId) })
  })

  t.test('a process that dies right after the manifest write leaves a verifiable, bundleable capture', async (t) => {
    const { store } = await lockedStore(emulator)
    // the detached signature write never happens (the process died / S3 failed after commit)
    const dying = overrideStore(store, {
      put: async (i) => {
        if (i.key.endsWith('.sig')) throw new StorageError(`could not write s3://${store.bucket}/${i.key}: InternalError`)
        return store.put(i)
      },
    })
    const r = await runCapture({ store: dying, signer }, spec, async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('a'))
    })
    t.ok(r.created, 'committed: the failed copy does not fail the committed capture')
    t.equal(await store.head(manifestSignatureKey(spec.caseId, r.manifest.captureId)), undefined, 'no detached signature')
    t.match(await readManifestSignature(store, spec.caseId, r.manifest.captureId), { source: 'metadata', key: manifestKey(spec.caseId, r.manifest.captureId), versionId: r.manifestVersionId })
    t.same((await verifyCapture(store, spec.caseId, r.manifest.captureId, { publicKeyPem: await signer.publicKeyPem() })).findings, [])
    const state = await readCaseState(store, spec.caseId)
    t.equal(state.captures.length, 1, 'the case bundles')
    t.ok(verifyDigestSignature(await signer.publicKeyPem(), state.captures[0].manifestSha256, state.captures[0].signatureBytes))
    // a redelivery writes the missing copy from the embedded signature, without re-signing
    const again = await runCapture({ store, signer }, spec, async () => {
      t.fail('not captured twice')
    })
    t.notOk(again.created)
    const copy = await store.getBytes(manifestSignatureKey(spec.caseId, r.manifest.captureId))
    t.same(copy.bytes, state.captures[0].signatureBytes, 'the detached copy is the committed signature')
  })

  t.test('a manifest from before embedded signatures is signed by a redelivery', async (t) => {
    const { store } = await lockedStore(emulator)
    const r = await runCapture({ store: overrideStore(store, { put: async (i) => {
      if (i.key.endsWith('.sig')) throw new StorageError('died')
      // as the previous version wrote it: no signature metadata
      return store.put(i.key.endsWith('manifest.json') ? { ...i, metadata: undefined } : i)
    } }), signer }, spec, async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('a'))
    })
    t.equal(await readManifestSignature(store, spec.caseId, r.manifest.captureId), undefined, 'unsigned, as old manifests could be')
    await t.rejects(readCaseState(store, spec.caseId), { name: 'IntegrityError', message: /re-run the capture/ })
    await runCapture({ store, signer }, spec, async () => {
      t.fail('not captured twice')
    })
    const sig = await readManifestSignature(store, spec.caseId, r.manifest.captureId)
    t.ok(sig && verifyDigestSignature(await signer.publicKeyPem(), r.manifestSha256, sig.bytes), 'signed now')
  })
})
