/**
 * Helpers for benchmark files (`bench/*.bench.ts`). Each bench file is a script run in its
 * own process by `bench/run.ts` (so peak RSS is its own); it measures our code and a
 * baseline side by side in the same run and reports ratios, never absolute pass/fail.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'

/**
 * Smoke mode (`BENCH_SMOKE=1`, `bench/run.ts --smoke`): every benchmark runs end to end on
 * tiny inputs, so the suite (test/bench.test.ts) keeps them working. Its ratios say nothing
 * about the goals.
 */
export const SMOKE = process.env.BENCH_SMOKE === '1'

/** A size setting: the environment variable when set, else the full or the smoke default. */
export function setting(name: string, full: number, smoke: number): number {
  const raw = process.env[name]
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
    return n
  }
  return SMOKE ? smoke : full
}

/** `node --import <this>` runs the project's TypeScript (scripts/ts-hooks.mjs). */
export const tsRegister = fileURLToPath(new URL('../scripts/ts-register.mjs', import.meta.url))

/** One ratio: ours vs. a baseline, with the goal the issue set. */
export interface Ratio {
  label: string
  /** ours / baseline for throughputs, or baseline / ours for times — always "higher is better" unless `lowerIsBetter`. */
  value: number
  goal: number
  lowerIsBetter?: boolean
}

/** A benchmark's result, printed as a line `BENCH <json>` that bench/run.ts collects. */
export interface BenchResult {
  name: string
  metrics: Record<string, number | string>
  ratios: Ratio[]
}

/** Times an async function; returns seconds. */
export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return (performance.now() - t0) / 1000
}

/**
 * Peak resident set size of this process so far, in MiB. Note: Linux carries the
 * high-water mark across fork+exec, so a child spawned by a process with a large RSS
 * starts with its parent's peak; use {@link sampleRss} to measure one phase exactly.
 */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024
}

/** Samples RSS every `everyMs` while `fn` runs; resolves to the highest value in MiB. */
export async function sampleRss(fn: () => Promise<unknown>, everyMs = 25): Promise<{ peakMiB: number; seconds: number }> {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, everyMs)
  try {
    const seconds = await timeIt(fn)
    peak = Math.max(peak, process.memoryUsage.rss())
    return { peakMiB: peak / 1024 / 1024, seconds }
  } finally {
    clearInterval(timer)
  }
}

/** True when a ratio meets its goal. */
export function goalMet(r: Ratio): boolean {
  return r.lowerIsBetter ? r.value <= r.goal : r.value >= r.goal
}

/** Prints a result for bench/run.ts and a human line. */
export function report(result: BenchResult): void {
  for (const r of result.ratios) {
    if (!Number.isFinite(r.value) || r.value <= 0) throw new Error(`${result.name}: ratio ${r.label} is ${r.value}, not a measurement`)
    process.stderr.write(`  ${result.name}: ${r.label} = ${r.value.toFixed(2)} (goal ${r.lowerIsBetter ? '≤' : '≥'} ${r.goal}) ${goalMet(r) ? 'met' : 'NOT MET'}${SMOKE ? ' (smoke sizes)' : ''}\n`)
  }
  process.stdout.write(`BENCH ${JSON.stringify(result)}\n`)
}

/** A stream of `total` bytes made from one reused random block (no big allocation). */
export function generatedStream(total: number, block: Buffer = randomBytes(1024 * 1024)): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) return this.push(null)
      const n = Math.min(block.length, total - sent)
      sent += n
      this.push(n === block.length ? block : block.subarray(0, n))
    },
  })
}
