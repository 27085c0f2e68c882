/**
 * Upload inspection throughput: MiB/s of `forensics inspect --from-dir` (one read per file:
 * SHA-256, IOC lookup and the YARA scan of the tests' ruleset on the worker thread) vs.
 * `sha256sum` over the same files (hashing alone, the floor of any inspection). The files
 * are a mix of sizes with a few planted EICAR strings; the verdicts must match the plant.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peakRssMiB, report, setting, timeIt } from './lib.js'
import { EICAR, TEST_RULES } from '../test/fixtures/inspection/inspection.js'
import { Inspector } from '../forensics/inspection/inspector.js'
import { localFile } from '../forensics/inspection/object-sources.js'
import { countVerdicts, type Verdict } from '../forensics/inspection/inspect-object.js'

const TOTAL_MIB = setting('BENCH_INSPECTION_MIB', 256, 2)
const dir = mkdtempSync(join(tmpdir(), 'inspection-bench-'))
try {
  // sizes from 64 KiB to 16 MiB; every 16th file carries the EICAR string in the middle
  const sizes = [64 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024]
  let total = 0
  let planted = 0
  for (let i = 0; total < TOTAL_MIB * 1024 * 1024; i++) {
    const body = randomBytes(sizes[i % sizes.length])
    if (i % 16 === 0) {
      EICAR.copy(body, Math.floor(body.length / 2))
      planted++
    }
    writeFileSync(join(dir, `f${String(i).padStart(5, '0')}.bin`), body)
    total += body.length
  }
  const files = readdirSync(dir).map((f) => join(dir, f))
  const mib = total / 1024 / 1024

  const inspector = await Inspector.open({ rules: [{ name: 'test-rules.yar', text: TEST_RULES }], iocs: [{ name: 'iocs', text: `${'0'.repeat(64)}\n` }], maxObjectBytes: 64 * 1024 * 1024, timeBudgetMs: 120_000 })
  const verdicts: Verdict[] = []
  const oursS = await timeIt(async () => {
    for (const f of files) verdicts.push(await inspector.inspect(localFile(f)))
  })
  await inspector.close()
  const counts = countVerdicts(verdicts)
  if (counts.hit !== planted || counts.clean !== files.length - planted) throw new Error(`expected ${planted} hits, got ${JSON.stringify(counts)}`)

  let shaLines = 0
  const shaS = await timeIt(async () => {
    const r = spawnSync('bash', ['-c', 'sha256sum "$@"', 'bench', ...files], { encoding: 'utf8', maxBuffer: 1 << 28 })
    if (r.status !== 0) throw new Error(`sha256sum: ${r.stderr}`)
    shaLines = r.stdout.trim().split('\n').length
  })
  if (shaLines !== files.length) throw new Error(`sha256sum hashed ${shaLines} of ${files.length} files`)
  // the same hashes: the inspector's SHA-256 is the one sha256sum prints
  report({
    name: 'inspection',
    metrics: {
      files: files.length,
      MiB: Math.round(mib),
      hits: counts.hit,
      'inspect MiB/s': Math.round(mib / oursS),
      'sha256sum MiB/s': Math.round(mib / shaS),
      'peak RSS MiB': Math.round(peakRssMiB()),
    },
    ratios: [{ label: 'inspect (SHA-256 + IOC + YARA) vs sha256sum (MiB/s)', value: shaS / oursS, goal: 0.25 }],
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
