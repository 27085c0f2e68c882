/**
 * Bundle benchmarks (issue 7), all on the same emulator and the same objects in one run:
 *  - `forensics bundle` (zip) vs. `aws s3 cp --recursive` + `zip -r` of the case prefix
 *    (goal ≥ 1.0×), with the peak RSS of the bundling process (constant memory);
 *  - `forensics verify` vs. `sha256sum -c SHA256SUMS` on the same unpacked bundle
 *    (goal ≥ 1.0×, issue 17), each BENCH_VERIFY_RUNS times (default 3), interleaved, the
 *    best run of each side counting.
 * Both sides run as separate processes timed by /usr/bin/time (wall clock, max RSS), so
 * process start-up counts on both sides. Sizes: BENCH_BUNDLE_SMALL (count of 32 KiB JSON
 * artifacts, default 400) and BENCH_BUNDLE_LARGE_MIB (four binary artifacts of this size,
 * default 32).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEmulator } from '../forensics/local/emulator.js'
import { lockedStore } from '../test/fixtures/evidence.js'
import { seedCapture, testSignerWithPem, type SeedArtifact } from '../test/fixtures/bundle-case.js'
import { verifyBundleFile } from '../forensics/bundle/verify-bundle.js'
import { report, setting, SMOKE, timeIt, tsRegister } from './lib.js'

const root = join(fileURLToPath(import.meta.url), '..', '..')
const MiB = 1024 * 1024

/**
 * Runs a command under /usr/bin/time; returns wall seconds and max RSS (MiB). Async on
 * purpose: the emulator logs every request to a pipe this process drains, and a blocked
 * event loop (spawnSync) would stall the emulator once that pipe is full.
 */
async function timed(cmd: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ seconds: number; rssMiB: number; out: string }> {
  const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M', ...cmd], { cwd: opts.cwd, env: { ...process.env, ...opts.env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const status = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 1)))
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr)
  if (status !== 0 || !m) throw new Error(`${cmd.join(' ')} failed (${status}):\n${stdout}\n${stderr}`)
  return { seconds: Number(m[1]), rssMiB: Number(m[2]) / 1024, out: stdout }
}

function jsonArtifact(i: number): string {
  const rows = []
  for (let n = 0; rows.join('').length < 32 * 1024; n++) rows.push(JSON.stringify({ eventName: 'GetObject', n, i, key: `data/${i}/${n}.csv`, sourceIPAddress: `10.0.${i % 256}.${n % 256}` }) + '\n')
  return rows.join('')
}

async function main(): Promise<void> {
  const smallCount = setting('BENCH_BUNDLE_SMALL', 400, 10)
  const largeMiB = setting('BENCH_BUNDLE_LARGE_MIB', 32, 1)
  const emulator = await startEmulator()
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'))
  try {
    const { store, s3 } = await lockedStore(emulator)
    const { signer, pem } = testSignerWithPem()
    const small: SeedArtifact[] = Array.from({ length: smallCount }, (_, i) => ({ path: `snapshots/${i}.json`, body: jsonArtifact(i), contentType: 'application/json' }))
    const large: SeedArtifact[] = Array.from({ length: 4 }, (_, i) => ({ path: `objects/version-${i}.bin`, size: largeMiB * MiB }))
    await seedCapture(store, signer, 'bench', 'evt-small', small)
    await seedCapture(store, signer, 'bench', 'evt-large', large)
    s3.destroy()
    const payloadMiB = (smallCount * 32 * 1024 + 4 * largeMiB * MiB) / MiB

    const keyFile = join(dir, 'key.pem')
    writeFileSync(keyFile, pem)
    const env = { ...emulator.env(), FORENSICS_EVIDENCE_BUCKET: 'evidence', FORENSICS_SIGNING_KEY: `file:${keyFile}` }
    const cli = [process.execPath, '--import', tsRegister, join(root, 'cli', 'main.ts')]

    // ours: one process, S3 -> hashed, verified zip on disk
    const bundleFile = join(dir, 'bench.zip')
    const ours = await timed([...cli, 'bundle', 'bench', '-o', bundleFile, '--no-record', '--json'], { env, cwd: root })
    // baseline: download the same objects, then zip them
    const copyDir = join(dir, 'copy')
    mkdirSync(copyDir)
    const awsEnv = { ...env, AWS_DEFAULT_REGION: emulator.region }
    const cp = await timed(['aws', 's3', 'cp', '--recursive', '--quiet', '--endpoint-url', emulator.endpoint, 's3://evidence/cases/bench/', copyDir], { env: awsEnv })
    const zip = await timed(['zip', '-r', '-q', join(dir, 'baseline.zip'), '.'], { cwd: copyDir })
    const baseline = cp.seconds + zip.seconds

    // verify: ours on the archive vs sha256sum -c on the unpacked archive
    const unpacked = join(dir, 'unpacked')
    mkdirSync(unpacked)
    await timed(['unzip', '-q', bundleFile], { cwd: unpacked })
    // one untimed run of each first: files in the page cache, the CLI's modules transpiled
    // once (scripts/ts-hooks.mjs caches them, as any installed build would be); a smoke run
    // measures nothing, so it skips the warm-up (the timed runs below are the same commands)
    if (!SMOKE) {
      await timed(['sha256sum', '-c', '--quiet', 'SHA256SUMS'], { cwd: unpacked })
      await timed([...cli, 'verify', bundleFile, '--json'], { cwd: root })
    }
    // each side BENCH_VERIFY_RUNS times (default 3), interleaved; the best run of each counts
    // (one run of two seconds swings by half on this shared machine)
    const runs = SMOKE ? 1 : Math.max(1, Math.round(setting('BENCH_VERIFY_RUNS', 3, 1)))
    const sumRuns: Array<Awaited<ReturnType<typeof timed>>> = []
    const verifyRuns: Array<Awaited<ReturnType<typeof timed>>> = []
    for (let i = 0; i < runs; i++) {
      sumRuns.push(await timed(['sha256sum', '-c', '--quiet', 'SHA256SUMS'], { cwd: unpacked }))
      verifyRuns.push(await timed([...cli, 'verify', bundleFile, '--json'], { cwd: root }))
    }
    const fastest = <T extends { seconds: number }>(xs: T[]): T => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a))
    const sums = fastest(sumRuns)
    const verify = fastest(verifyRuns)
    for (const v of verifyRuns) if (!(JSON.parse(v.out) as { ok: boolean }).ok) throw new Error('the benchmark bundle does not verify')
    // the same check without process start-up (the CLI loads every command's modules)
    const inProcess = await timeIt(() => verifyBundleFile(bundleFile))

    // tar.gz, for the record (not in smoke mode: two more CLI processes, and the suite's
    // bundle tests make and verify tar.gz bundles)
    const tgz = SMOKE ? undefined : await timed([...cli, 'bundle', 'bench', '-o', join(dir, 'bench.tar.gz'), '--no-record', '--json'], { env, cwd: root })
    const tgzVerify = SMOKE ? undefined : await timed([...cli, 'verify', join(dir, 'bench.tar.gz'), '--json'], { cwd: root })

    report({
      name: 'bundle',
      metrics: {
        'payload MiB': payloadMiB.toFixed(0),
        files: (JSON.parse(verify.out) as { members: number }).members,
        'forensics bundle zip s': ours.seconds,
        'aws s3 cp s': cp.seconds,
        'zip -r s': zip.seconds,
        'forensics bundle peak RSS MiB': ours.rssMiB.toFixed(0),
        'aws s3 cp peak RSS MiB': cp.rssMiB.toFixed(0),
        'forensics verify zip s': verify.seconds,
        'forensics verify peak RSS MiB': verify.rssMiB.toFixed(0),
        'forensics verify zip in-process s': inProcess.toFixed(2),
        'sha256sum -c s': sums.seconds,
        ...(tgz && tgzVerify ? { 'forensics bundle tar.gz s': tgz.seconds, 'forensics verify tar.gz s': tgzVerify.seconds } : {}),
      },
      ratios: [
        { label: 'bundle zip vs aws s3 cp + zip -r (speed)', value: baseline / ours.seconds, goal: 1.0 },
        { label: 'verify zip (CLI) vs sha256sum -c (speed)', value: sums.seconds / verify.seconds, goal: 1.0 },
        { label: 'verify zip (in-process) vs sha256sum -c', value: sums.seconds / inProcess, goal: 1.0 },
      ],
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await emulator.stop()
  }
}

await main()
