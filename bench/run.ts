/**
 * `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an argument)
 * in its own process, then prints a table of ratios, each next to its goal. Writes
 * `.forensics/bench.json`. `--smoke` runs every benchmark on tiny inputs (BENCH_SMOKE=1):
 * it proves they still run, not that a goal is met (test/bench.test.ts).
 */
import { spawn } from 'node:child_process'
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { goalMet, tsRegister, type BenchResult } from './lib.js'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const smoke = args.includes('--smoke')
const filters = args.filter((a) => a !== '--smoke')
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()

const results: BenchResult[] = []
let failed = 0
for (const file of files) {
  process.stderr.write(`▶ ${file}\n`)
  const child = spawn(process.execPath, ['--expose-gc', '--import', tsRegister, join(here, file)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...(smoke ? { BENCH_SMOKE: '1' } : {}) },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 1)))
  const before = results.length
  for (const line of out.split('\n')) if (line.startsWith('BENCH ')) results.push(JSON.parse(line.slice(6)) as BenchResult)
  if (code !== 0 || results.length === before) {
    failed++
    process.stderr.write(`✗ ${file} exited with ${code}${results.length === before ? ' and printed no result' : ''}\n`)
  }
}

process.stdout.write(`\nbenchmark                      ratio                                                  value   goal${smoke ? '   (smoke sizes: not a measurement of the goals)' : ''}\n`)
for (const r of results) {
  for (const x of r.ratios) {
    process.stdout.write(`${r.name.padEnd(30)} ${x.label.padEnd(54)} ${x.value.toFixed(2).padStart(6)}  ${x.lowerIsBetter ? '≤' : '≥'}${x.goal} ${goalMet(x) ? 'met' : 'NOT MET'}\n`)
  }
  for (const [k, v] of Object.entries(r.metrics)) process.stdout.write(`${''.padEnd(30)} ${k.padEnd(50)} ${String(v).padStart(6)}\n`)
}
if (!smoke) {
  mkdirSync(join(here, '..', '.forensics'), { recursive: true })
  writeFileSync(join(here, '..', '.forensics', 'bench.json'), JSON.stringify(results, null, 2))
}
process.exitCode = failed ? 1 : 0
