/**
 * Building a bundle (forensics/bundle/build-bundle.ts) on the in-memory store: options,
 * refusals before anything is written, output and source failures that leave no file, and
 * the bundled custody entry. Bundles of cases on the emulator are in bundle.test.ts.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { verifyBundleFile } from '../forensics/bundle/verify-bundle.js'
import type { CustodyEntry } from '../forensics/custody.js'
import { seededMemoryCase } from './fixtures/bundle-case.js'
import { runCli, tempDir } from './fixtures/bundle-cli.js'
import { overrideStore } from './fixtures/evidence.js'
import { writeArchive } from './fixtures/raw-zip.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('an unknown format or an existing file is refused before writing; a failing output stream is a StorageError; the bundled entry records the custody head', async (t) => {
  const dir = tempDir(t)
  const { store, signer, captureId } = await seededMemoryCase()
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
  const noCustody = overrideStore(store, {
    async *list(prefix) {
      for await (const o of store.list(prefix)) if (!(hide && o.key.includes('/custody/'))) yield o
    },
  })
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

t.test('buildBundle: streamed artifacts, and a source that fails mid-stream', async (t) => {
  const dir = tempDir(t)
  const { store, signer } = await seededMemoryCase()
  for (const format of ['zip', 'tar.gz'] as const) {
    const file = join(dir, `streamed.${format}`)
    const r = await buildBundle({ store, signer, caseId: 'case-b', format, output: { path: file }, recordCustody: false, prefetchBytes: 0, prefetch: 1, level: 1 })
    t.equal(r.custodyEntry, undefined)
    const v = await verifyBundleFile(file)
    t.ok(v.ok, `${format}: streamed artifacts verify: ${JSON.stringify(v.findings)}`)
    t.equal(v.captures, 1)
  }
  // the blob's stream errors after some bytes: the build fails with that error, no file
  const failing = overrideStore(store, {
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
  })
  for (const format of ['tar.gz', 'zip'] as const) {
    const out = join(dir, `failed.${format}`)
    await t.rejects(buildBundle({ store: failing, signer, caseId: 'case-b', format, output: { path: out }, recordCustody: false, prefetchBytes: 0 }), {
      name: 'StorageError',
      message: /^cannot read s3:\/\/memory-evidence\/cases\/case-b\/captures\/.*blob\.bin version v\d+: connection reset$/,
    })
    t.same(readdirSync(dir).filter((f) => f.startsWith('failed.')), [], `${format}: neither the bundle nor its temp file is left behind`)
  }
})
