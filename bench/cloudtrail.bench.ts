/**
 * CloudTrail slice throughput on a generated archive of ≥500,000 events in real delivery
 * format (gzip `{"Records":[...]}` files): events/s of `sliceDirectory` (worker threads)
 * vs. `zcat … | jq -c 'select(…)'` with the same filter on the same files, and vs. plain
 * `zcat > /dev/null` (the decompression bound). Peak RSS of this process is reported.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { peakRssMiB, report, timeIt } from './lib.js'
import { generateEvents } from '../test/fixtures/cloudtrail/archive.js'
import { listLocalLogFiles, sliceDirectory } from '../forensics/cloudtrail/slice.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'

const TOTAL = Number(process.env.BENCH_CLOUDTRAIL_EVENTS ?? 500_000)
const PER_FILE = 5_000
const dir = mkdtempSync(join(tmpdir(), 'ct-bench-'))
try {
  const start = Date.parse('2026-11-28T00:00:00Z')
  const files = Math.ceil(TOTAL / PER_FILE)
  for (let i = 0; i < files; i++) {
    const t0 = start + i * 600_000
    const events = generateEvents('111111111111', 'us-east-1', t0, t0 + 600_000, PER_FILE, 1000 + i)
    const sub = join(dir, 'AWSLogs', '111111111111', 'CloudTrail', 'us-east-1', String(i % 7))
    mkdirSync(sub, { recursive: true })
    writeFileSync(join(sub, `f${i}.json.gz`), gzipSync(JSON.stringify({ Records: events })))
  }
  const paths = await listLocalLogFiles(dir)
  const window = makeWindow('2026-11-28T00:00:00Z', '2027-01-01T00:00:00Z')
  // A typical investigation filter: one access key's S3 object reads.
  const filters = { accessKeyIds: ['ASIAEXFIL0000000004'], eventNames: ['GetObject'] }
  const jqFilter = `.Records[] | select((.eventTime // .["@timestamp"]) as $t | $t >= "2026-11-28T00:00:00Z" and $t < "2027-01-01T00:00:00Z") | select(.userIdentity.accessKeyId == "ASIAEXFIL0000000004" and .eventName == "GetObject")`
  const sh = (cmd: string): string => {
    const r = spawnSync('bash', ['-c', cmd, 'bench', ...paths], { encoding: 'utf8', maxBuffer: 1 << 30 })
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`)
    return r.stdout
  }
  let ours = 0
  let records = 0
  const oursS = await timeIt(async () => {
    const o = await sliceDirectory(dir, window, filters)
    ours = o.events.length
    records = o.files.reduce((n, f) => n + f.records, 0)
  })
  let jqCount = 0
  const jqS = await timeIt(async () => {
    jqCount = sh(`zcat "$@" | jq -c '${jqFilter}'`).split('\n').filter(Boolean).length
  })
  const zcatS = await timeIt(async () => {
    sh('zcat "$@" > /dev/null')
  })
  if (ours !== jqCount) throw new Error(`slice found ${ours} events, jq ${jqCount}`)
  report({
    name: 'cloudtrail-slice',
    metrics: {
      events: records,
      files: paths.length,
      matched: ours,
      'slice events/s': Math.round(records / oursS),
      'jq events/s': Math.round(records / jqS),
      'zcat events/s': Math.round(records / zcatS),
      'peak RSS MiB': Math.round(peakRssMiB()),
    },
    ratios: [
      { label: 'slice vs zcat|jq select (events/s)', value: jqS / oursS, goal: 3 },
      { label: 'slice vs zcat >/dev/null (events/s)', value: zcatS / oursS, goal: 0.5 },
    ],
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
