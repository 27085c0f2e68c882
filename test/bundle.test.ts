import t from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { PassThrough } from 'node:stream'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { seedCapture, seedSmallCase, testSignerWithPem } from './fixtures/bundle-case.js'
import { cliEnv, listFiles, runCli, sh, tempDir } from './fixtures/bundle-cli.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { verifyBundleFile } from '../forensics/bundle/verify-bundle.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import type { EvidenceStore } from '../forensics/evidence-store.js'
import { canonicalBytes } from '../forensics/canonical-json.js'
import { deriveCaptureId, manifestKey, manifestSignatureKey, capturePrefix } from '../forensics/keys.js'
import { MANIFEST_SCHEMA, type Manifest } from '../forensics/manifest.js'
import { progressBar } from '../cli/commands/bundle.js'
import { HOSTILE } from './fixtures/bundle-hostile-keys.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** A store whose reads of one key return different bytes (what tampering at rest looks like). */
function tamperingStore(inner: EvidenceStore, key: string, mutate: (b: Buffer) => Buffer): EvidenceStore {
  const readAll = async (body: Readable): Promise<Buffer> => {
    const chunks: Buffer[] = []
    for await (const c of body) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  }
  return {
    bucket: inner.bucket,
    retention: inner.retention,
    assertLocked: () => inner.assertLocked(),
    put: (i) => inner.put(i),
    getBytes: (k, v) => inner.getBytes(k, v),
    head: (k, v) => inner.head(k, v),
    list: (p) => inner.list(p),
    tryDelete: (k, v) => inner.tryDelete(k, v),
    async get(k, v) {
      const r = await inner.get(k, v)
      if (k !== key) return r
      const bytes = mutate(await readAll(r.body))
      return { ...r, body: Readable.from([bytes]), size: bytes.length }
    },
  }
}

t.test('bundles on the emulator', async (t) => {
  const emulator = await useEmulator(t)

  t.test('round trip: capture -> bundle (zip, tar.gz) -> verify -> sha256sum -c -> openssl', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    t.teardown(() => s3.destroy())
    const { signer, pem } = testSignerWithPem()
    await seedSmallCase(store, signer)
    const dir = tempDir(t)
    const env = cliEnv(emulator, dir, pem)
    for (const format of ['zip', 'tar.gz'] as const) {
      const file = join(dir, `case-1.${format}`)
      const built = await runCli(['bundle', 'case-1', '--format', format, '-o', file], env)
      t.equal(built.code, 0, `bundle ${format} exits 0: ${built.stderr}`)
      t.match(built.stdout.toString(), /appended `bundled` entry/)
      const verified = await runCli(['verify', file], env)
      t.equal(verified.code, 0, `verify ${format} exits 0: ${verified.stdout}`)
      t.match(verified.stdout.toString(), /: OK/)
      const out = join(dir, `unpacked-${format}`)
      mkdirSync(out)
      const unpack = format === 'zip' ? `unzip -q ${JSON.stringify(file)}` : `tar xzf ${JSON.stringify(file)}`
      t.equal(sh(unpack, out).status, 0, `${format} unpacks with the real tool`)
      const sums = sh('sha256sum -c SHA256SUMS', out)
      t.equal(sums.status, 0, `sha256sum -c passes:\n${sums.out}`)
      t.equal(sums.out.trim().split('\n').length, listFiles(out).length - 1, 'every file but SHA256SUMS checked')
      t.notMatch(sums.out, /FAILED/)
      for (const m of readdirSync(join(out, 'manifests'))) {
        const manifest = `manifests/${m}/manifest.json`
        const ssl = sh(`printf %s "$(sha256sum ${manifest} | cut -c1-64)" | openssl dgst -sha256 -verify public-key.pem -signature ${manifest}.sig`, out)
        t.equal(ssl.out.trim(), 'Verified OK', `openssl verifies ${manifest}`)
      }
      const json = await runCli(['verify', file, '--json'], env)
      const doc = JSON.parse(json.stdout.toString()) as { ok: boolean; captures: number; format: string }
      t.match(doc, { ok: true, captures: 2, format })
    }
  })

  t.test('two bundles of the same case state are byte-identical', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    t.teardown(() => s3.destroy())
    const { signer, pem } = testSignerWithPem()
    await seedSmallCase(store, signer)
    const dir = tempDir(t)
    const env = cliEnv(emulator, dir, pem)
    for (const format of ['zip', 'tar.gz'] as const) {
      const a = join(dir, `a.${format}`)
      const b = join(dir, `b.${format}`)
      const c = join(dir, `c.${format}`)
      const d = join(dir, `d.${format}`)
      t.equal((await runCli(['bundle', 'case-1', '--format', format, '-o', a, '--no-record'], env)).code, 0)
      t.equal((await runCli(['bundle', 'case-1', '--format', format, '-o', b, '--no-record'], env)).code, 0)
      t.ok(readFileSync(a).equals(readFileSync(b)), `${format}: same state, same bytes`)
      // recording happens after the build: the recorded bundle is the same bytes again
      const rec = await runCli(['bundle', 'case-1', '--format', format, '-o', c, '--json'], env)
      t.equal(rec.code, 0)
      t.ok(readFileSync(c).equals(readFileSync(a)), `${format}: the recorded bundle has the same bytes`)
      const recDoc = JSON.parse(rec.stdout.toString()) as { sha256: string; custodyEntry: { seq: number } }
      t.equal(recDoc.sha256, sha(readFileSync(c)), 'the reported sha256 is the file\'s')
      // ...and the next bundle's custody includes that `bundled` entry
      t.equal((await runCli(['bundle', 'case-1', '--format', format, '-o', d, '--no-record'], env)).code, 0)
      t.notOk(readFileSync(d).equals(readFileSync(a)), `${format}: new state, new bytes`)
      const entries = await new CustodyChain(store, signer, 'case-1').read()
      const bundled = entries.find((e) => e.seq === recDoc.custodyEntry.seq)!
      t.match(bundled, { action: 'bundled', subject: { sha256: recDoc.sha256, format } })
      t.ok(bundled.actor.principalArn, 'who: the STS principal')
      t.equal((await verifyBundleFile(d)).custodyHead?.seq, bundled.seq, 'the next bundle ends at the bundled entry')
    }
  })

  t.test('a mismatch aborts the bundle, names the object and leaves no file', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    t.teardown(() => s3.destroy())
    const { signer } = testSignerWithPem()
    const [first] = await seedSmallCase(store, signer)
    const dir = tempDir(t)
    const small = first.manifest.artifacts.find((a) => a.path === 'bucket/policy.json')!
    const large = first.manifest.artifacts.find((a) => a.path === 'objects/secret.bin')!
    const flip = (b: Buffer): Buffer => {
      const c = Buffer.from(b)
      c[c.length >> 1] ^= 0x01
      return c
    }
    const cases = [
      { what: 'small artifact, byte flipped', key: small.key, mutate: flip, format: 'zip' as const, prefetchBytes: undefined },
      { what: 'streamed artifact, byte flipped (zip)', key: large.key, mutate: flip, format: 'zip' as const, prefetchBytes: 1024 },
      { what: 'streamed artifact, byte flipped (tar.gz)', key: large.key, mutate: flip, format: 'tar.gz' as const, prefetchBytes: 1024 },
      { what: 'streamed artifact, truncated (tar.gz)', key: large.key, mutate: (b: Buffer) => b.subarray(1), format: 'tar.gz' as const, prefetchBytes: 1024 },
      { what: 'streamed artifact, extended (zip)', key: large.key, mutate: (b: Buffer) => Buffer.concat([b, Buffer.from('x')]), format: 'zip' as const, prefetchBytes: 1024 },
    ]
    const before = (await new CustodyChain(store, signer, 'case-1').read()).length
    for (const c of cases) {
      const path = join(dir, `bad-${c.format}`)
      const err = await buildBundle({ store: tamperingStore(store, c.key, c.mutate), signer, caseId: 'case-1', format: c.format, output: { path }, prefetchBytes: c.prefetchBytes }).then(
        () => undefined,
        (e: unknown) => e as Error & { findings: string[] },
      )
      t.equal(err?.name, 'IntegrityError', c.what)
      t.match(err?.findings.join('\n'), c.key, `${c.what}: the finding names the object`)
      t.same(readdirSync(dir), [], `${c.what}: no output file, no temp file`)
    }
    t.equal((await new CustodyChain(store, signer, 'case-1').read()).length, before, 'no `bundled` entry for an aborted bundle')

    // a manifest signed by another key: the signer's key would not verify the bundle
    const other = testSignerWithPem().signer
    await t.rejects(buildBundle({ store, signer: other, caseId: 'case-1', output: { path: join(dir, 'x.zip') } }), { name: 'IntegrityError', message: /does not verify with signing key/ })
    t.same(readdirSync(dir), [])
  })

  t.test('CLI: stdout streaming, --capture, progress bar, errors and exit codes', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    t.teardown(() => s3.destroy())
    const { signer, pem } = testSignerWithPem()
    const [first] = await seedSmallCase(store, signer)
    const dir = tempDir(t)
    const env = cliEnv(emulator, dir, pem)

    const streamed = await runCli(['bundle', 'case-1', '-o', '-', '--format', 'tar.gz'], env)
    t.equal(streamed.code, 0, streamed.stderr)
    t.match(streamed.stderr, /bundle of case case-1: stdout/, 'human output goes to stderr when stdout carries the archive')
    writeFileSync(join(dir, 'streamed.tar.gz'), streamed.stdout)
    t.equal((await verifyBundleFile(join(dir, 'streamed.tar.gz'))).ok, true)
    const entries = await new CustodyChain(store, signer, 'case-1').read()
    t.equal(entries.at(-1)!.subject.sha256, sha(streamed.stdout), 'the bundled entry records the streamed bytes')
    t.equal(entries.at(-1)!.subject.file, '-')

    const json = await runCli(['bundle', 'case-1', '-o', '-', '--json', '--no-record'], env)
    t.equal(json.code, 0)
    t.match(JSON.parse(json.stderr), { ok: true, format: 'zip', output: '-' }, 'with -o - the JSON document goes to stderr')

    const one = join(dir, 'one.zip')
    const sub = await runCli(['bundle', 'case-1', '-o', one, '--capture', first.manifest.captureId, '--json'], env)
    t.equal(sub.code, 0, sub.stderr)
    t.same(JSON.parse(sub.stdout.toString()).captureIds, [first.manifest.captureId])
    const v = await verifyBundleFile(one)
    t.equal(v.ok, true, JSON.stringify(v.findings))
    t.equal(v.captures, 1)

    const tty = await runCli(['bundle', 'case-1', '-o', join(dir, 'tty.tgz'), '--no-record'], env, { stderrTTY: true })
    t.equal(tty.code, 0)
    t.match(tty.stderr, /\[#+\] 100%.* (\d+)\/\1 files/, 'progress bar with bytes and files on a terminal')
    t.ok((await verifyBundleFile(join(dir, 'tty.tgz'))).format === 'tar.gz', '.tgz picks tar.gz')

    const cwdDefault = await runCli(['bundle', 'case-1', '--no-record'], { ...env })
    t.equal(cwdDefault.code, 0)
    t.ok(existsSync('case-1.zip'), 'default output CASE.zip')
    t.teardown(() => sh('rm -f case-1.zip', process.cwd()))

    const usage = async (argv: string[], re: RegExp, opts = {}): Promise<void> => {
      const r = await runCli(argv, env, opts)
      t.equal(r.code, 2, argv.join(' '))
      t.match(r.stderr, re)
    }
    await usage(['bundle', 'case-1', '-o', one], /already exists/)
    await usage(['bundle', 'case-1', '--format', 'rar'], /--format must be zip or tar.gz/)
    await usage(['bundle'], /exactly one case/)
    await usage(['bundle', '../x'], /invalid case id/)
    await usage(['bundle', 'no-such-case', '-o', join(dir, 'n.zip')], /no committed captures/)
    await usage(['bundle', 'case-1', '-o', join(dir, 'n.zip'), '--capture', 'test-collector-00000000000000000000'], /no committed capture test-collector-0+/)
    await usage(['bundle', 'case-1', '-o', '-'], /refusing to write an archive to a terminal/, { stdoutTTY: true })
    await usage(['verify'], /exactly one bundle/)
    t.equal((await runCli(['bundle', 'case-1', '-o', one, '--force', '--no-record'], env)).code, 0, '--force replaces')
    const help = await runCli(['bundle', '--help'], env)
    t.match(help.stdout.toString(), /--no-record/)
  })

  t.test('hostile keys: safe unique paths, nothing written outside the output dir', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    t.teardown(() => s3.destroy())
    const { signer, pem } = testSignerWithPem()
    // a collector that trusted hostile names: artifact paths straight from object keys
    const captureId = deriveCaptureId('test-collector', 'hostile')
    const artifacts = []
    for (const [i, path] of HOSTILE.entries()) {
      const body = Buffer.from(`bytes of ${JSON.stringify(path)}\n`)
      const stored = await store.put({ key: `${capturePrefix('case-h', captureId)}artifacts/k${i}`, body })
      artifacts.push({ path, key: stored.key, versionId: stored.versionId, sha256: stored.sha256, size: stored.size, source: { bucket: 'victim', key: path } })
    }
    const manifest: Manifest = {
      schema: MANIFEST_SCHEMA,
      caseId: 'case-h',
      captureId,
      collector: { name: 'test-collector', version: '1.0.0' },
      trigger: { source: 'test', id: 'hostile' },
      actor: {},
      target: { bucket: 'victim' },
      startedAt: '2026-11-29T10:00:00.000Z',
      endedAt: '2026-11-29T10:00:01.000Z',
      artifacts,
      errors: [],
      status: 'complete',
      findings: [{ type: 'x', severity: 'low', title: 'title with | pipe and `code` and <b>html</b>\nnewline' }],
      signing: { keyId: signer.keyId, algorithm: 'ECDSA_SHA_256' },
    }
    const bytes = canonicalBytes(manifest)
    const m = await store.put({ key: manifestKey('case-h', captureId), body: bytes })
    await store.put({ key: manifestSignatureKey('case-h', captureId), body: await signer.signDigest(m.sha256) })
    await recordCaptured(new CustodyChain(store, signer, 'case-h'), { manifestKey: m.key, manifestVersionId: m.versionId, manifestSha256: m.sha256, captureId }, { tool: 'test' })
    await seedCapture(store, signer, 'case-h', 'ordinary', [{ path: 'CON' }, { path: 'a/b.json' }, { path: 'A/B.json' }, { path: 'x' }, { path: 'x/y' }, { path: 'ünï.txt' }, { path: 'p'.repeat(500) }])

    const sandbox = tempDir(t)
    const deep = join(sandbox, 'one', 'two')
    mkdirSync(deep, { recursive: true })
    const env = cliEnv(emulator, deep, pem)
    for (const format of ['zip', 'tar.gz'] as const) {
      const file = join(deep, `h.${format}`)
      t.equal((await runCli(['bundle', 'case-h', '--format', format, '-o', file, '--no-record'], env)).code, 0)
      const v = await verifyBundleFile(file)
      t.equal(v.ok, true, JSON.stringify(v.findings.slice(0, 5)))
      const out = join(deep, `out-${format}`)
      mkdirSync(out)
      const unpack = format === 'zip' ? sh(`unzip -q ../h.zip`, out) : sh(`tar xzf ../h.tar.gz`, out)
      t.equal(unpack.status, 0, `${format} unpacks cleanly: ${unpack.out}`)
      const files = listFiles(out)
      t.equal(files.length, v.members, `${format}: every member became exactly one file`)
      t.equal(new Set(files.map((f) => f.toLowerCase())).size, files.length, 'unique ignoring case')
      const sums = sh('sha256sum -c --quiet SHA256SUMS', out)
      t.equal(sums.status, 0, sums.out)
      const index = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')) as { files: { artifactPath?: string; key?: string }[] }
      t.ok(index.files.some((f) => f.artifactPath === '../../etc/passwd'), 'the original name stays in bundle.json')
    }
    // nothing outside the output dirs: the sandbox holds only what we put there
    t.same(listFiles(sandbox).filter((f) => !/^one\/two\/(out-zip|out-tar\.gz)\//.test(f)), ['one/two/h.tar.gz', 'one/two/h.zip', 'one/two/signing-key.pem'])
  })
})

t.test('progressBar draws bytes and files, throttled', async (t) => {
  const err = new PassThrough()
  let text = ''
  err.on('data', (d: Buffer) => (text += d.toString()))
  const bar = progressBar(err, 'x')
  bar.update({ files: 1, totalFiles: 3, bytes: 10, totalBytes: 3 * 1024 * 1024 })
  bar.update({ files: 2, totalFiles: 3, bytes: 20, totalBytes: 3 * 1024 * 1024 })
  bar.update({ files: 3, totalFiles: 3, bytes: 3 * 1024 * 1024, totalBytes: 3 * 1024 * 1024 })
  bar.done()
  t.match(text, /1\/3 files/)
  t.notMatch(text, /2\/3 files/, 'throttled')
  t.match(text, /100% {2}3\.0 MiB\/3\.0 MiB {2}3\/3 files \n$/)
  const quiet = progressBar(err, 'y')
  quiet.done()
})
