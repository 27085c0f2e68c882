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

async function rssChild(): Promise<void> {
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'rss')
    const store = new S3EvidenceStore({ client: s3, bucket: 'rss', retention: { mode: 'COMPLIANCE', days: 1 } })
    const { peakMiB, seconds } = await sampleRss(() => store.put({ key: 'big/1gib', body: generatedStream(setting('BENCH_RSS_MIB', 1024, 32) * MiB) }))
    process.stdout.write(JSON.stringify({ peak: peakMiB, seconds }) + '\n')
  } finally {
    await emulator.stop()
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-child')) return rssChild()
  const size = setting('BENCH_WRITE_MIB', 256, 8) * MiB
  const hashMiB = setting('BENCH_HASH_MIB', 512, 16)
  const partSizes = (process.env.BENCH_PART_SIZES_MIB ?? (SMOKE ? '5,8' : '8,16,32,64')).split(',').map(Number)
  const emulator = await startEmulator()
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'))
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const block = randomBytes(MiB)
    const whole = Buffer.alloc(size)
    for (let o = 0; o < size; o += MiB) block.copy(whole, o)
    // warm up both paths
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'warm', Body: block }))
    await store.put({ key: 'warm', body: block })
    const requests = requestLog(s3)
    const plain: number[] = []
    const ours: number[] = []
    let oursRequests: Record<string, { n: number; s: number }> = {}
    for (let i = 0; i < 3; i++) {
      plain.push(await timeIt(() => s3.send(new PutObjectCommand({ Bucket: 'plain', Key: `p${i}`, Body: whole }))))
      requests.reset()
      ours.push(await timeIt(() => store.put({ key: `e${i}`, body: generatedStream(size, block) })))
      if (ours[i] === Math.min(...ours)) oursRequests = structuredClone(requests.summary())
    }
    const best = (xs: number[]): number => Math.min(...xs)
    const writeRatio = best(plain) / best(ours)

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

    const child = spawnSync(process.execPath, ['--import', tsRegister, fileURLToPath(import.meta.url), '--rss-child'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const rss = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { peak: number; seconds: number }

    report({
      name: 'evidence-store',
      metrics: {
        'write MiB': size / MiB,
        'store.put MiB/s': +(size / MiB / best(ours)).toFixed(1),
        'plain PutObject MiB/s': +(size / MiB / best(plain)).toFixed(1),
        'store.put: SHA-256 passes alone s (whole + per part)': +hashPasses.toFixed(2),
        ...Object.fromEntries(Object.entries(oursRequests).map(([k, v]) => [`store.put: ${k} requests / s`, `${v.n} / ${v.s.toFixed(2)}`])),
        ...byPartSize,
        'sha256 in-process MiB/s': +(hashMiB / hashOurs).toFixed(1),
        'sha256sum MiB/s': +(hashMiB / hashTheirs).toFixed(1),
        '1 GiB artifact seconds': +rss.seconds.toFixed(1),
        '1 GiB artifact peak RSS MiB': Math.round(rss.peak),
      },
      ratios: [
        { label: 'store.put vs plain PutObject throughput', value: writeRatio, goal: 0.9 },
        { label: 'in-process SHA-256 vs sha256sum', value: hashTheirs / hashOurs, goal: 0.9 },
        { label: 'peak RSS MiB streaming a 1 GiB artifact', value: rss.peak, goal: 256, lowerIsBetter: true },
      ],
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await emulator.stop()
  }
}

await main()
