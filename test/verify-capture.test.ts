import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCapture, type CaptureSpec } from '../forensics/capture.js'
import { artifactKey, deriveCaptureId, manifestKey } from '../forensics/keys.js'
import { LocalSigner } from '../forensics/signer.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'

const { signer } = LocalSigner.fromFile(join(mkdtempSync(join(tmpdir(), 'vc-')), 'k.pem'), { create: true })
const HOUR = 3_600_000
const spec: CaptureSpec = {
  caseId: 'case-fan',
  collector: { name: 'fan-out-test', version: '1.0.0' },
  trigger: { source: 'test', id: 'evt-long' },
  target: { bucket: 'victim' },
}
const captureId = deriveCaptureId(spec.collector.name, spec.trigger.id)

t.test('retention is judged from each object\'s own write time', async (t) => {
  const emulator = await useEmulator(t)

  t.test('artifacts written hours before the committing worker started verify clean', async (t) => {
    const { store } = await lockedStore(emulator, { retention: { mode: 'COMPLIANCE', days: 2 } })
    // a fan-out page worker stored this version long ago; the committing worker's clock
    // (injected) is 3 hours later, as on Lambda when a large fan-out runs for hours
    const early = await store.put({ key: artifactKey(spec.caseId, captureId, 'versions/early.bin'), body: Buffer.from('written early') })
    const later = () => new Date(Date.now() + 3 * HOUR)
    const res = await runCapture({ store, signer, now: later }, spec, async (ctx) => {
      await ctx.adoptArtifact('versions/early.bin', { versionId: early.versionId, sha256: early.sha256, size: early.size })
      await ctx.addArtifact('inventory.json', Buffer.from('{"versions":1}'))
    })
    t.ok(Date.parse(res.manifest.startedAt) - Date.now() > 2 * HOUR, 'the manifest says the capture started hours after the early write')
    const v = await verifyCapture(store, spec.caseId, captureId, { publicKeyPem: await signer.publicKeyPem() })
    t.same(v.findings, [], 'no retention-short for objects written before startedAt')
  })

  t.test('a genuinely short retention is still reported, naming the object', async (t) => {
    const { s3, store } = await lockedStore(emulator, { retention: { mode: 'COMPLIANCE', days: 2 } })
    // same bucket, a writer that locks for 1 day only (a misconfigured worker)
    const shortWriter = new S3EvidenceStore({ client: s3, bucket: store.bucket, retention: { mode: 'COMPLIANCE', days: 1 } })
    const short = await shortWriter.put({ key: artifactKey(spec.caseId, captureId, 'versions/short.bin'), body: Buffer.from('locked too briefly') })
    const later = () => new Date(Date.now() + 3 * HOUR)
    await runCapture({ store, signer, now: later }, spec, async (ctx) => {
      await ctx.adoptArtifact('versions/short.bin', { versionId: short.versionId, sha256: short.sha256, size: short.size })
      await ctx.addArtifact('inventory.json', Buffer.from('{"versions":1}'))
    })
    const v = await verifyCapture(store, spec.caseId, captureId, { publicKeyPem: await signer.publicKeyPem() })
    t.equal(v.findings.length, 1, 'only the short object')
    t.match(v.findings[0], { code: 'retention-short', subject: artifactKey(spec.caseId, captureId, 'versions/short.bin'), message: /shorter than the required COMPLIANCE 2 days from its write at/ })

    // and when the deployment demands more than anything got, every object is named
    const strict = await verifyCapture(store, spec.caseId, captureId, { publicKeyPem: await signer.publicKeyPem(), retention: { mode: 'COMPLIANCE', days: 3 } })
    t.same(strict.findings.map((f) => f.code).sort(), ['retention-short', 'retention-short', 'retention-short'])
    t.ok(strict.findings.some((f) => f.subject === manifestKey(spec.caseId, captureId)), 'the manifest too')
  })

  t.test('a store that reports no write time falls back to the manifest times', async (t) => {
    const { store } = await lockedStore(emulator, { retention: { mode: 'COMPLIANCE', days: 1 } })
    await runCapture({ store, signer }, spec, async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('a'))
    })
    const noTimes = overrideStore(store, {
      head: async (k, v) => {
        const h = await store.head(k, v)
        return h && { ...h, lastModified: undefined }
      },
    })
    const v = await verifyCapture(noTimes, spec.caseId, captureId, { publicKeyPem: await signer.publicKeyPem() })
    t.same(v.findings, [], 'manifest times are close enough for a capture that ran at once')
  })
})
