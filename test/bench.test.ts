/**
 * The benchmarks in smoke mode (`bench/run.ts --smoke`): every bench/*.bench.ts runs end to
 * end on tiny inputs, so a change that breaks one fails the suite instead of the next
 * `npm run bench`. Sizes this small say nothing about the goals; only that each benchmark
 * still measures and prints every ratio next to its goal.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const register = fileURLToPath(new URL('../scripts/ts-register.mjs', import.meta.url))

t.test('every benchmark runs in smoke mode and prints each ratio next to its goal', async (t) => {
  const child = spawn(process.execPath, ['--import', register, 'bench/run.ts', '--smoke'], {
    cwd: root,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((res) => child.on('close', res))
  t.equal(code, 0, 'bench/run.ts --smoke exits 0', { stderr: err.slice(-3000) })
  t.match(out, /smoke sizes: not a measurement of the goals/)

  const files = readdirSync(new URL('../bench/', import.meta.url)).filter((f) => f.endsWith('.bench.ts'))
  const started = [...err.matchAll(/^▶ (\S+)$/gm)].map((m) => m[1])
  t.same(started.sort(), files.sort(), 'every bench file ran')
  t.notMatch(err, /✗/, 'no benchmark failed or printed no result')

  // every ratio the benchmarks reported is a row of the table: label, value, goal, verdict
  const rows = out.split('\n').filter((l) => /\s[≥≤][\d.]+ (met|NOT MET)$/.test(l))
  const lines = [...err.matchAll(/^ {2}([\w-]+): (.+) = ([\d.]+) \(goal ([≥≤]) ([\d.]+)\) (met|NOT MET) \(smoke sizes\)$/gm)]
  t.ok(lines.length >= 12, `${lines.length} ratios reported`)
  t.equal(rows.length, lines.length, 'one table row per reported ratio')
  const names = new Set(lines.map((m) => m[1]))
  t.same([...names].sort(), ['bundle', 'cloudtrail-slice', 'evidence-store', 'object-versions', 'synth'])
  for (const m of lines) {
    const value = Number(m[3])
    t.ok(Number.isFinite(value) && value > 0, `${m[1]}: ${m[2]} is a measurement (${value})`)
    const row = rows.find((r) => r.startsWith(m[1]) && r.includes(m[2]))
    t.ok(row?.includes(`${m[4]}${m[5]} ${m[6]}`), `${m[1]}: ${m[2]} is in the table next to its goal`)
  }
})

