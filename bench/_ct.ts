import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { generateEvents } from '../test/fixtures/cloudtrail/archive.js'
import { listLocalLogFiles, sliceDirectory } from '../forensics/cloudtrail/slice.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { timeIt } from './lib.js'
const TOTAL = 100000, PER_FILE = 5000
const dir = mkdtempSync(join(tmpdir(), 'ct-x-'))
const start = Date.parse('2026-11-28T00:00:00Z')
for (let i = 0; i < TOTAL / PER_FILE; i++) {
  const t0 = start + i * 600_000
  const events = generateEvents('111111111111', 'us-east-1', t0, t0 + 600_000, PER_FILE, 1000 + i)
  const sub = join(dir, 'AWSLogs', String(i % 7)); mkdirSync(sub, { recursive: true })
  writeFileSync(join(sub, `f${i}.json.gz`), gzipSync(JSON.stringify({ Records: events })))
}
const paths = await listLocalLogFiles(dir)
const window = makeWindow('2026-11-28T00:00:00Z', '2027-01-01T00:00:00Z')
const filters = { accessKeyIds: ['ASIAEXFIL0000000004'], eventNames: ['GetObject'] }
for (let r = 0; r < 2; r++) {
  for (const w of [0, 1, 2]) {
    let m = 0
    const c0 = process.cpuUsage()
    const s = await timeIt(async () => { m = (await sliceDirectory(dir, window, filters, { workers: w })).events.length })
    const c = process.cpuUsage(c0)
    console.log(`workers=${w}: ${s.toFixed(2)}s cpu ${((c.user + c.system) / 1e6).toFixed(2)}s matched ${m}`)
  }
  const z = await timeIt(async () => { spawnSync('bash', ['-c', 'zcat "$@" > /dev/null', 'x', ...paths]) })
  console.log(`zcat ${z.toFixed(2)}s`)
}
let bs = 0, total = 0
const { readFileSync } = await import('node:fs'); const { gunzipSync } = await import('node:zlib')
for (const p of paths) { const t = gunzipSync(readFileSync(p)); total += t.length; for (let i = 0; i < t.length; i++) if (t[i] === 0x5c) { bs++; } }
console.log('bytes', total, 'backslashes', bs)
rmSync(dir, { recursive: true, force: true })
