/**
 * `forensics report CASE` on the emulator: the page it writes is the report.html of a
 * bundle of the same case state, byte for byte; output choices, refusals and exit codes.
 */
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { seedSmallCase, testSignerWithPem } from './fixtures/bundle-case.js'
import { cliEnv, runCli, sh, tempDir } from './fixtures/bundle-cli.js'
import { appendRawCustody, seedSliceCapture, trailEvent } from './fixtures/report-case.js'

t.test('forensics report on the emulator', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const { store, s3 } = await lockedStore(emulator)
  t.teardown(() => s3.destroy())
  const { signer, pem } = testSignerWithPem()
  await seedSmallCase(store, signer)
  const slice = await seedSliceCapture(store, signer, 'case-1', 'slice', [trailEvent('e1', '2026-11-28T01:00:00Z'), trailEvent('e2', '2026-11-28T02:00:00Z', { eventName: 'PutBucketPolicy', errorCode: 'AccessDenied' })], { at: '2026-11-29T12:00:00.000Z' })
  const dir = tempDir(t, 'report-cli-')
  const env = cliEnv(emulator, dir, pem)

  t.test('the page is the bundle\'s report.html, byte for byte', async (t) => {
    const page = join(dir, 'case-1.html')
    const r = await runCli(['report', 'case-1', '-o', page, '--json'], env)
    t.equal(r.code, 0, r.stdout.toString())
    const doc = JSON.parse(r.stdout.toString()) as Record<string, unknown>
    t.match(doc, {
      ok: true,
      caseId: 'case-1',
      output: page,
      captureIds: Array,
      events: { total: 2, shown: 2 },
      findings: { high: 2 },
      containment: 0,
      custody: { entries: 4, valid: true, head: { seq: 3 } },
      signatures: { verified: 3, total: 3 },
      signingKey: { fingerprint: /^[0-9a-f]{16}$/, keyId: signer.keyId },
    })
    const bytes = readFileSync(page)
    t.equal(doc.size, bytes.length)
    const zip = join(dir, 'case-1.zip')
    t.equal((await runCli(['bundle', 'case-1', '-o', zip, '--no-record'], env)).code, 0)
    const out = join(dir, 'unpacked')
    mkdirSync(out)
    t.equal(sh(`unzip -q ${JSON.stringify(zip)}`, out).status, 0)
    t.ok(readFileSync(join(out, 'report.html')).equals(bytes), 'forensics report == report.html in the bundle')
    t.match(sh('sha256sum -c SHA256SUMS', out).out, /report\.html: OK/, 'listed in SHA256SUMS and checked by sha256sum')
    t.equal((await runCli(['verify', zip], env)).code, 0, 'the bundle verifies')
    // reading is not handling: no custody entry appended
    t.equal((await runCli(['report', 'case-1', '-o', join(dir, 'again.html')], env)).code, 0)
    t.ok(readFileSync(join(dir, 'again.html')).equals(bytes), 'the same case state gives the same page')
  })

  t.test('text output, stdout, --capture, the default name, --force', async (t) => {
    const page = join(dir, 'text.html')
    const r = await runCli(['report', 'case-1', '-o', page], env)
    t.equal(r.code, 0)
    t.match(r.stdout.toString(), /^report of case case-1: .*text\.html \(\d+ bytes, sha256 [0-9a-f]{64}\)\n {2}3 captures \(3 of 3 signatures verify\), 2 CloudTrail events \(2 shown\), findings: 2 high\n {2}custody: 4 entries, head #3, chain valid; signing key [0-9a-f]{16}\nopen it in a browser: file:\/\//)
    const again = await runCli(['report', 'case-1', '-o', page], env)
    t.equal(again.code, 2, 'an existing file is refused')
    t.match(again.stderr, /already exists: choose another -o file or pass --force/)
    writeFileSync(page, 'old')
    t.equal((await runCli(['report', 'case-1', '-o', page, '--force'], env)).code, 0)
    t.not(readFileSync(page, 'utf8'), 'old', '--force replaces it')

    const piped = await runCli(['report', 'case-1', '-o', '-'], env)
    t.equal(piped.code, 0)
    t.ok(piped.stdout.equals(readFileSync(page)), 'the page on stdout')
    t.match(piped.stderr, /^report of case case-1: stdout/, 'the summary on stderr')
    t.notMatch(piped.stderr, /open it in a browser/)

    const one = await runCli(['report', 'case-1', '-o', '-', '--capture', slice.manifest.captureId], env)
    t.equal(one.code, 0)
    t.match(one.stderr, /1 captures \(1 of 1 signatures verify\)/, 'only the chosen capture')

    const cwd = process.cwd()
    const home = join(dir, 'cwd')
    mkdirSync(home)
    process.chdir(home)
    try {
      const d = await runCli(['report', 'case-1'], env)
      t.equal(d.code, 0)
      t.ok(existsSync(join(home, 'case-1.report.html')), 'default: CASE.report.html')
      t.match(d.stdout.toString(), new RegExp(`file://${home}/case-1\\.report\\.html`))
    } finally {
      process.chdir(cwd)
    }
  })

  t.test('usage and refusals', async (t) => {
    const help = await runCli(['report', '--help'], env)
    t.equal(help.code, 0)
    t.match(help.stdout.toString(), /usage: forensics report CASE \[-o FILE\|-\]/)
    for (const argv of [['report'], ['report', 'a', 'b'], ['report', 'case-1', '-o', '-', '--json'], ['report', '../x']]) {
      const r = await runCli(argv, env)
      t.equal(r.code, 2, argv.join(' '))
    }
    const unknown = await runCli(['report', 'no-such-case', '-o', join(dir, 'none.html')], env)
    t.equal(unknown.code, 2)
    t.match(unknown.stderr, /case no-such-case has no committed captures/)
    t.notOk(existsSync(join(dir, 'none.html')), 'nothing written')
    const missing = await runCli(['report', 'case-1', '-o', join(dir, 'no-such-dir', 'r.html')], env)
    t.equal(missing.code, 3, 'an unwritable output is an I/O failure')
    t.match(missing.stderr, /cannot write the report to .*no-such-dir\/r\.html: ENOENT/)
  })

  t.test('a chain that does not verify: the page says so and the exit code is 1', async (t) => {
    await appendRawCustody(store, signer, 'case-1', 'contained', { resource: 'arn:aws:s3:::victim', step: 'bucket policy replaced' }, '2026-11-29T13:00:00.000Z')
    // `contained` is a custody action (containment); an action no tool writes breaks the chain
    await appendRawCustody(store, signer, 'case-1', 'rewritten-by-hand', { note: 'not a custody action' }, '2026-11-29T13:05:00.000Z')
    const page = join(dir, 'contained.html')
    const r = await runCli(['report', 'case-1', '-o', page, '--json'], env)
    t.equal(r.code, 1)
    t.match(JSON.parse(r.stdout.toString()), { ok: false, containment: 1, custody: { valid: false } })
    const html = readFileSync(page, 'utf8')
    t.match(html, /bucket policy replaced/, 'the containment step is on the page')
    t.match(html, /The chain does NOT verify/)
    const text = await runCli(['report', 'case-1', '-o', '-'], env)
    t.equal(text.code, 1)
    t.match(text.stderr, /the custody chain does NOT verify/)
  })
})
