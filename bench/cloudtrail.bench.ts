/**
 * CloudTrail slice throughput on a generated archive of ≥500,000 events in real delivery
 * format (gzip `{"Records":[...]}` files): events/s of `sliceDirectory` (worker threads)
 * vs. `zcat … | jq -c 'select(…)'` with the same filter on the same files, and vs. plain
 * `zcat > /dev/null` (the decompression bound; issue 17: ≥ 1.0× on both cores). The slice
 * runs in its own process under /usr/bin/time, so its peak RSS is its own (goal ≤ 256 MiB),
 * not this generator's; its time is taken inside that process (start-up excluded), the
 * baselines' as wall time of their shell pipelines. Each side runs `BENCH_CLOUDTRAIL_RUNS`
 * times (default 3), interleaved, and the best run counts (the machine is shared).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { report, setting, timeIt, tsRegister } from './lib.js'
import { generateEvents } from '../test/fixtures/cloudtrail/archive.js'
import { listLocalLogFiles, sliceDirectory } from '../forensics/cloudtrail/slice.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'

const WINDOW = ['2026-11-28T00:00:00Z', '2027-01-01T00:00:00Z'] as const
// A typical investigation filter: one access key's S3 object reads.
const FILTERS = { accessKeyIds: ['ASIAEXFIL0000000004'], eventNames: ['GetObject'] }
const JQ_FILTER = `.Records[] | select((.eventTime // .["@timestamp"]) as $t | $t >= "${WINDOW[0]}" and $t < "${WINDOW[1]}") | select(.userIdentity.accessKeyId == "ASIAEXFIL0000000004" and .eventName == "GetObject")`

/** The slice child: slices `dir`, prints `{seconds, matched, records}`. */
async function sliceChild(dir: string): Promise<void> {
  let matched = 0
  let records = 0
  const seconds = await timeIt(async () => {
    const o = await sliceDirectory(dir, makeWindow(...WINDOW), FILTERS)
    matched = o.events.length
    records = o.files.reduce((n, f) => n + f.records, 0)
  })
  process.stdout.write(JSON.stringify({ seconds, matched, records }) + '\n')
}

/** Runs the slice child under /usr/bin/time: its own timing and its peak RSS in MiB. */
async function sliceInChild(dir: string): Promise<{ seconds: number; matched: number; records: number; rssMiB: number }> {
  const child = spawn('/usr/bin/time', ['-f', 'TIME %M', process.execPath, '--import', tsRegister, fileURLToPath(import.meta.url), '--slice-child', dir])
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 1)))
  const m = /TIME (\d+)\s*$/.exec(err)
  const line = out.split('\n').find((l) => l.startsWith('{'))
  if (code !== 0 || !m || !line) throw new Error(`slice child failed (${code}): ${err.slice(-2000)}`)
  return { ...(JSON.parse(line) as { seconds: number; matched: number; records: number }), rssMiB: Number(m[1]) / 1024 }
}

async function main(): Promise<void> {
  const total = setting('BENCH_CLOUDTRAIL_EVENTS', 500_000, 10_000)
  const runs = Math.max(1, Math.round(setting('BENCH_CLOUDTRAIL_RUNS', 3, 1)))
  const perFile = 5_000
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-'))
  try {
    const start = Date.parse('2026-11-28T00:00:00Z')
    const files = Math.ceil(total / perFile)
    for (let i = 0; i < files; i++) {
      const t0 = start + i * 600_000
      const events = generateEvents('111111111111', 'us-east-1', t0, t0 + 600_000, perFile, 1000 + i)
      const sub = join(dir, 'AWSLogs', '111111111111', 'CloudTrail', 'us-east-1', String(i % 7))
      mkdirSync(sub, { recursive: true })
      writeFileSync(join(sub, `f${i}.json.gz`), gzipSync(JSON.stringify({ Records: events })))
    }
    const paths = await listLocalLogFiles(dir)
    const sh = (cmd: string): string => {
      const r = spawnSync('bash', ['-c', cmd, 'bench', ...paths], { encoding: 'utf8', maxBuffer: 1 << 30 })
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`)
      return r.stdout
    }
    const ours: Array<Awaited<ReturnType<typeof sliceInChild>>> = []
    const zcat: number[] = []
    const jq: number[] = []
    let jqCount = 0
    for (let i = 0; i < runs; i++) {
      ours.push(await sliceInChild(dir))
      zcat.push(await timeIt(async () => sh('zcat "$@" > /dev/null')))
      jq.push(
        await timeIt(async () => {
          jqCount = sh(`zcat "$@" | jq -c '${JQ_FILTER}'`).split('\n').filter(Boolean).length
        }),
      )
    }
    const best = (xs: number[]): number => Math.min(...xs)
    const oursS = best(ours.map((o) => o.seconds))
    const { matched, records } = ours[0]
    if (matched !== jqCount) throw new Error(`slice found ${matched} events, jq ${jqCount}`)
    const rss = Math.max(...ours.map((o) => o.rssMiB))
    report({
      name: 'cloudtrail-slice',
      metrics: {
        events: records,
        files: paths.length,
        matched,
        runs,
        'slice events/s (best run)': Math.round(records / oursS),
        'jq events/s (best run)': Math.round(records / best(jq)),
        'zcat events/s (best run)': Math.round(records / best(zcat)),
        'slice process peak RSS MiB (worst run)': Math.round(rss),
      },
      ratios: [
        { label: 'slice vs zcat|jq select (events/s)', value: best(jq) / oursS, goal: 3 },
        { label: 'slice vs zcat >/dev/null (events/s)', value: best(zcat) / oursS, goal: 1 },
        { label: 'slice process peak RSS MiB', value: rss, goal: 256, lowerIsBetter: true },
      ],
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const at = process.argv.indexOf('--slice-child')
if (at >= 0) await sliceChild(process.argv[at + 1])
else await main()
