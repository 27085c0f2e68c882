/**
 * Full-app synth wall time (`node --import ./scripts/ts-register.mjs stacks/main.ts`, what `cdktf synth` runs)
 * against loading the AWS provider's root index (`import('@cdktf/provider-aws')`), each in
 * its own child process, interleaved in the same run. Goal: synth ≤ 0.3× the root import,
 * which is what deep imports and in-process asset ZIPs buy.
 *
 * "warm" synth: handlers unchanged since the last synth (bundles reused, as on every synth
 * that does not touch collectors/); "cold" synth: an empty build directory, so every
 * handler is bundled by esbuild first.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { SMOKE, report, setting, tsRegister } from './lib.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Math.max(1, Math.round(setting('BENCH_SYNTH_RUNS', 5, 1)))
const scratch = mkdtempSync(join(tmpdir(), 'forensics-synth-bench-'))

/** Runs `node <args>` and returns its wall time in seconds. */
function timeChild(args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`)
  return seconds
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// smoke mode skips the cold synth (bundling every handler with esbuild, ~6 s of CPU): its
// synths use the project's shared build directory (.forensics/build/lambda, the default),
// which the suite's other synths fill once anyway
const buildDir = SMOKE ? join(root, '.forensics', 'build', 'lambda') : join(scratch, 'build')
const synth = (n: number): number => timeChild(['--import', tsRegister, join(root, 'stacks', 'main.ts')], { CDKTF_OUTDIR: join(scratch, `out-${n}`), FORENSICS_BUILD_DIR: buildDir })
// smoke mode keeps the suite's run short: its baseline loads one resource module instead of
// the provider's root index (~15 s of CPU on its own), which says nothing about the goal
const baselineModule = SMOKE ? '@cdktf/provider-aws/lib/s3-bucket/index.js' : '@cdktf/provider-aws'
if (SMOKE) process.stderr.write(`  synth: smoke baseline imports ${baselineModule}, not the provider's root index\n`)
const rootImport = (): number => timeChild(['--input-type=module', '-e', `await import(${JSON.stringify(baselineModule)})`])

const cold = SMOKE ? undefined : synth(0)
if (SMOKE) process.stderr.write('  synth: smoke skips the cold synth (every handler bundled anew)\n')
const warm: number[] = []
const baseline: number[] = []
for (let i = 1; i <= runs; i++) {
  baseline.push(rootImport())
  warm.push(synth(i))
}
rmSync(scratch, { recursive: true, force: true })

const warmS = median(warm)
const baseS = median(baseline)
report({
  name: 'synth',
  metrics: {
    'warm synth s (median)': Number(warmS.toFixed(2)),
    ...(cold === undefined ? {} : { 'cold synth s (bundling all handlers)': Number(cold.toFixed(2)) }),
    'provider root import s (median)': Number(baseS.toFixed(2)),
    ...(cold === undefined ? {} : { 'cold synth / provider root import': Number((cold / baseS).toFixed(2)) }),
    runs,
  },
  ratios: [
    { label: 'full-app synth / provider root import', value: warmS / baseS, goal: 0.3, lowerIsBetter: true },
  ],
})
