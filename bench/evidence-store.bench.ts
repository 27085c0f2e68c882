/**
 * Evidence core benchmarks (issues 3, 17):
 *  - evidence-store write throughput vs. a plain PutObject of the same bytes, same emulator
 *    (goal ≥ 0.9× for 256 MiB), and where the store's time goes: the SHA-256 passes (whole
 *    object and per part) timed alone, each S3 request kind's count and time (read-backs
 *    included), and the part size (one write per size in BENCH_PART_SIZES_MIB);
 *  - peak RSS while streaming a 1 GiB artifact through the store (own child process)
 *  - in-process SHA-256 vs. `sha256sum` on the same file
 */
import { spawnSync, execFileSync } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3Client, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { startEmulator } from '../forensics/local/emulator.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { createLockedBucket } from '../test/fixtures/evidence.js'
import { report, timeIt, sampleRss, setting, SMOKE, tsRegister, generatedStream } from './lib.js'

const MiB = 1024 * 1024


/** Per-command request counts and summed seconds of an S3 client (SDK middleware). */
function requestLog(s3: S3Client): { reset(): void; summary(): Record<string, { n: number; s: number }> } {
  let log: Record<string, { n: number; s: number }> = {}
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const t0 = performance.now()
      try {
        return await next(args)
      } finally {
        const e = (log[context.commandName ?? '?'] ??= { n: 0, s: 0 })
        e.n++
        e.s += (performance.now() - t0) / 1000
      }
    },
    { step: 'initialize', name: 'benchRequestLog' },
  )
  return {
    reset: () => {
      log = {}
    },
    summary: () => log,
  }
}

/**
 * `streamed`: a stream of known size that can be read twice (one streamed PutObject, its
 * SHA-256 up front); else of unknown size (multipart). (The one-read streamed write sends
 * an aws-chunked body, which the emulator decodes in time quadratic in its chunks: at
 * 1 GiB that measures the emulator, not us.)
 */
async function rssChild(streamed: boolean): Promise<void> {
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'rss')
    const store = new S3EvidenceStore({ client: s3, bucket: 'rss', retention: { mode: 'COMPLIANCE', days: 1 } })
    const total = setting('BENCH_RSS_MIB', 1024, 32) * MiB
    // the same bytes at every read (a second read of other bytes is refused)
    const block = randomBytes(MiB)
    const { peakMiB, seconds } = await sampleRss(() => store.put({ key: 'big/1gib', body: generatedStream(total, block), ...(streamed ? { size: total, reopen: async () => generatedStream(total, block) } : {}) }))
    process.stdout.write(JSON.stringify({ peak: peakMiB, seconds }) + '\n')
  } finally {
    await emulator.stop()
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-child')) return rssChild(process.argv.includes('--streamed'))
  const size = setting('BENCH_WRITE_MIB', 256, 8) * MiB
  const hashMiB = setting('BENCH_HASH_MIB', 512, 16)
  const partSizes = (process.env.BENCH_PART_SIZES_MIB ?? (SMOKE ? '5,8' : '8,16,32,64')).split(',').map(Number)
  const emulator = await startEmulator()
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'))
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
    // smoke sizes are below the default part: smaller parts keep every write path running
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: SMOKE ? 5 * MiB : undefined })
    const block = randomBytes(MiB)
    const whole = Buffer.alloc(size)
    for (let o = 0; o < size; o += MiB) block.copy(whole, o)
    // warm up both paths
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'warm', Body: block }))
    await store.put({ key: 'warm', body: block })
    const requests = requestLog(s3)
    // the store's three ways to write a stream: of known size read once (one streamed
    // PutObject, SHA-256 as an aws-chunked trailer), of known size and readable twice
    // (hashed first, one streamed PutObject with the SHA-256 up front), of unknown size
    // (multipart); the plain PutObject and the three writes take turns
    const modes = {
      'size known, read once': (key: string) => store.put({ key, body: generatedStream(size, block), size }),
      'size known, read twice': (key: string) => store.put({ key, body: generatedStream(size, block), size, reopen: async () => generatedStream(size, block) }),
      'size unknown (multipart)': (key: string) => store.put({ key, body: generatedStream(size, block) }),
    }
    type Mode = keyof typeof modes
    const plain: number[] = []
    const ours: Record<Mode, number[]> = { 'size known, read once': [], 'size known, read twice': [], 'size unknown (multipart)': [] }
    const oursRequests: Partial<Record<Mode, Record<string, { n: number; s: number }>>> = {}
    for (let i = 0; i < 3; i++) {
      plain.push(await timeIt(() => s3.send(new PutObjectCommand({ Bucket: 'plain', Key: `p${i}`, Body: whole }))))
      for (const [mode, put] of Object.entries(modes) as [Mode, (key: string) => Promise<unknown>][]) {
        requests.reset()
        ours[mode].push(await timeIt(() => put(`e${i}-${mode.replace(/\W+/g, '-')}`)))
        if (ours[mode][i] === Math.min(...ours[mode])) oursRequests[mode] = structuredClone(requests.summary())
      }
    }
    const best = (xs: number[]): number => Math.min(...xs)
    const ratioOf = (mode: Mode): number => best(plain) / best(ours[mode])

    // where the time goes: the SHA-256 passes alone (whole object + one per part, as the
    // multipart write does), and the write at other part sizes
    const hashPasses = await timeIt(async () => {
      const wholeHash = createHash('sha256')
      for (let o = 0; o < size; o += MiB) wholeHash.update(block)
      wholeHash.digest()
      for (let o = 0; o < size; o += 16 * MiB) {
        const part = createHash('sha256')
        for (let p = 0; p < 16 * MiB && o + p < size; p += MiB) part.update(block)
        part.digest()
      }
    })
    const byPartSize: Record<string, number> = {}
    for (const mib of partSizes) {
      const sized = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: mib * MiB })
      const s = await timeIt(() => sized.put({ key: `part-${mib}`, body: generatedStream(size, block) }))
      byPartSize[`store.put MiB/s, ${mib} MiB parts`] = +(size / MiB / s).toFixed(1)
    }

    // SHA-256: in-process streaming vs. sha256sum on the same file
    const file = join(dir, 'blob')
    const fd = openSync(file, 'w')
    for (let o = 0; o < hashMiB * MiB; o += MiB) writeSync(fd, block)
    closeSync(fd)
    let ourHex = ''
    const hashOurs = await timeIt(async () => {
      const h = createHash('sha256')
      for await (const c of createReadStream(file, { highWaterMark: MiB })) h.update(c as Buffer)
      ourHex = h.digest('hex')
    })
    let theirHex = ''
    const hashTheirs = await timeIt(async () => {
      theirHex = execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64)
    })
    if (ourHex !== theirHex) throw new Error('sha256 disagrees with sha256sum')

    const rssOf = (...args: string[]): { peak: number; seconds: number } => {
      const child = spawnSync(process.execPath, ['--import', tsRegister, fileURLToPath(import.meta.url), '--rss-child', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { peak: number; seconds: number }
    }
    const rss = rssOf()
    const rssStreamed = rssOf('--streamed')

    report({
      name: 'evidence-store',
      metrics: {
        'write MiB': size / MiB,
        'plain PutObject MiB/s': +(size / MiB / best(plain)).toFixed(1),
        ...Object.fromEntries(Object.keys(modes).map((m) => [`store.put MiB/s, ${m}`, +(size / MiB / best(ours[m as Mode])).toFixed(1)])),
        'store.put: SHA-256 passes alone s (whole + per part)': +hashPasses.toFixed(2),
        ...Object.fromEntries(
          Object.entries(oursRequests).flatMap(([mode, log]) => Object.entries(log).map(([k, v]) => [`store.put (${mode}): ${k} requests / s`, `${v.n} / ${v.s.toFixed(2)}`])),
        ),
        ...byPartSize,
        'sha256 in-process MiB/s': +(hashMiB / hashOurs).toFixed(1),
        'sha256sum MiB/s': +(hashMiB / hashTheirs).toFixed(1),
        '1 GiB artifact seconds (size unknown: multipart)': +rss.seconds.toFixed(1),
        '1 GiB artifact peak RSS MiB (size unknown: multipart)': Math.round(rss.peak),
        '1 GiB artifact seconds (size known, read twice)': +rssStreamed.seconds.toFixed(1),
      },
      ratios: [
        { label: 'store.put (size known, read once) vs plain PutObject', value: ratioOf('size known, read once'), goal: 0.9 },
        { label: 'store.put (size known, read twice) vs plain PutObject', value: ratioOf('size known, read twice'), goal: 0.9 },
        { label: 'store.put (size unknown: multipart) vs plain PutObject', value: ratioOf('size unknown (multipart)'), goal: 0.9 },
        { label: 'in-process SHA-256 vs sha256sum', value: hashTheirs / hashOurs, goal: 0.9 },
        { label: 'peak RSS MiB streaming a 1 GiB artifact (multipart)', value: rss.peak, goal: 256, lowerIsBetter: true },
        { label: 'peak RSS MiB streaming a 1 GiB artifact (size known)', value: rssStreamed.peak, goal: 256, lowerIsBetter: true },
      ],
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await emulator.stop()
  }
}

await main()
