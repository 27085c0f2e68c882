/**
 * Object-versions benchmarks (issue 4):
 *  - versions captured per second for 2,000 small versions: captureObjectVersions (bounded
 *    concurrency, hashed, locked, confirmed) vs. a naive sequential GetObject → PutObject
 *    loop with the same SDK against the same emulator, twice: bare (the emulator's CPU is
 *    the limit, so requests per version decide) and behind the latency proxy adding S3-like
 *    time to first byte (BENCH_LATENCY_MS, default 20; concurrency decides); requests per
 *    version are counted by the proxy;
 *  - the emulator's own capacity (GetObject/s with 16 in flight, no proxy): with every
 *    request costing the emulator CPU on the same two cores, capacity ÷ requests per version
 *    is the most any capture can reach here, whatever its concurrency;
 *  - peak RSS, time and requests of capturing one 2 GiB version (own child process; the
 *    source object is uploaded with a streamed multipart upload, never held in memory; the
 *    capture states its size: one PutObject, the version read twice).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { S3Client, GetObjectCommand, PutObjectCommand, ListObjectVersionsCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { startEmulator } from '../forensics/local/emulator.js'
import { startFaultProxy } from '../forensics/local/fault-proxy.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { LocalSigner } from '../forensics/signer.js'
import { captureObjectVersions } from '../forensics/object-versions/capture-object-versions.js'
import { forEachBounded } from '../forensics/object-versions/bounded.js'
import { createLockedBucket } from '../test/fixtures/evidence.js'
import { createVersionedBucket, seedObjects, signingKeyFile } from '../test/fixtures/collectors.js'
import { report, timeIt, sampleRss, setting, tsRegister, generatedStream } from './lib.js'

const MiB = 1024 * 1024


async function rssChild(): Promise<void> {
  const size = setting('BENCH_BIG_MIB', 2048, 16) * MiB
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await createVersionedBucket(s3, 'src')
    const uploadSeconds = await timeIt(() => new Upload({ client: s3, params: { Bucket: 'src', Key: 'big/2gib', Body: generatedStream(size) }, partSize: 16 * MiB, queueSize: 2 }).done())
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'src', Key: 'big/2gib' }))
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const signer = LocalSigner.fromFile(signingKeyFile().path).signer
    // the capture's requests by command (a version of known size: one PutObject)
    const requests: Record<string, number> = {}
    s3.middlewareStack.add(
      (next, context) => (args) => {
        const name = (context.commandName ?? '?').replace(/Command$/, '')
        requests[name] = (requests[name] ?? 0) + 1
        return next(args)
      },
      { step: 'initialize', name: 'benchRequestCount' },
    )
    let summary: Record<string, unknown> | undefined
    const rssBefore = process.memoryUsage.rss() / MiB
    const { peakMiB, seconds } = await sampleRss(async () => {
      const out = await captureObjectVersions({ store, signer }, s3, { caseId: 'bench-big', bucket: 'src', keys: ['big/2gib'], trigger: { source: 'bench', id: 'big' } })
      if (out.kind === 'committed') summary = out.result.manifest.summary
    })
    process.stdout.write(JSON.stringify({ peak: peakMiB, rssBefore, seconds, uploadSeconds, sourceBytes: head.ContentLength, summary, requests }) + '\n')
  } finally {
    await emulator.stop()
  }
}

/** One side-by-side run of `count` small versions through a proxy adding `latencyMs`. */
async function sideBySide(emulatorEndpoint: string, clientConfig: ReturnType<Awaited<ReturnType<typeof startEmulator>>['clientConfig']>, count: number, latencyMs: number, tag: string) {
  const proxy = await startFaultProxy({ target: emulatorEndpoint, latencyMs })
  const s3 = new S3Client({ ...clientConfig, endpoint: proxy.endpoint })
  try {
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const signer = LocalSigner.fromFile(signingKeyFile().path).signer
    await store.assertLocked()
    // naive: list, then for each version GetObject and PutObject, one after the other
    const before = proxy.stats.requests
    const naiveSeconds = await timeIt(async () => {
      let keyMarker: string | undefined
      let versionIdMarker: string | undefined
      let n = 0
      for (;;) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: 'src', Prefix: 'small/', KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }))
        for (const v of page.Versions ?? []) {
          const got = await s3.send(new GetObjectCommand({ Bucket: 'src', Key: v.Key, VersionId: v.VersionId }))
          const body = Buffer.from(await got.Body!.transformToByteArray())
          await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: `naive-${tag}/${n++}`, Body: body }))
        }
        if (!page.IsTruncated) break
        keyMarker = page.NextKeyMarker
        versionIdMarker = page.NextVersionIdMarker
      }
    })
    const naiveRequests = proxy.stats.requests - before
    let stored = 0
    const mid = proxy.stats.requests
    const oursSeconds = await timeIt(async () => {
      const out = await captureObjectVersions({ store, signer }, s3, { caseId: `bench-${tag}`, bucket: 'src', prefix: 'small/', trigger: { source: 'bench', id: `small-${tag}` } }, { concurrency: setting('BENCH_CONCURRENCY', 16, 16) })
      if (out.kind === 'committed') stored = Number(out.result.manifest.summary?.stored ?? 0)
    })
    const oursRequests = proxy.stats.requests - mid
    if (stored !== count) throw new Error(`captured ${stored} of ${count} versions`)
    return { naiveSeconds, oursSeconds, naiveRequests, oursRequests }
  } finally {
    s3.destroy()
    await proxy.close()
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-child')) return rssChild()
  const count = setting('BENCH_VERSIONS', 2000, 20)
  const latencyMs = setting('BENCH_LATENCY_MS', 20, 20)
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await createVersionedBucket(s3, 'src')
    await seedObjects(s3, 'src', 'small/', count)
    const keys = Array.from({ length: count }, (_, i) => `small/${String(i).padStart(5, '0')}`)
    const capacitySeconds = await timeIt(() =>
      forEachBounded(keys, { concurrency: 16 }, async (key) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'src', Key: key }))
        await got.Body!.transformToByteArray()
      }),
    )
    s3.destroy()
    // bare: the emulator's CPU bounds both sides, so requests per version decide;
    // with S3-like latency to first byte, concurrency decides
    const bare = await sideBySide(emulator.endpoint, emulator.clientConfig(), count, 0, 'bare')
    const slow = await sideBySide(emulator.endpoint, emulator.clientConfig(), count, latencyMs, 'latency')

    const child = spawnSync(process.execPath, ['--import', tsRegister, fileURLToPath(import.meta.url), '--rss-child'], { encoding: 'utf8', env: process.env, maxBuffer: 16 * MiB })
    const line = child.stdout.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`2 GiB child failed (exit ${child.status}): ${child.stderr.slice(-2000)}`)
    const big = JSON.parse(line) as { peak: number; rssBefore: number; seconds: number; uploadSeconds: number; sourceBytes: number; requests: Record<string, number> }

    report({
      name: 'object-versions',
      metrics: {
        versions: count,
        'latency ms (to first byte, per request)': latencyMs,
        'bare: naive versions/s': +(count / bare.naiveSeconds).toFixed(1),
        'bare: ours versions/s': +(count / bare.oursSeconds).toFixed(1),
        'latency: naive versions/s': +(count / slow.naiveSeconds).toFixed(1),
        'latency: ours versions/s': +(count / slow.oursSeconds).toFixed(1),
        'requests per version: naive': +(bare.naiveRequests / count).toFixed(2),
        'requests per version: ours': +(bare.oursRequests / count).toFixed(2),
        'emulator capacity: GetObject/s, 16 in flight': +(count / capacitySeconds).toFixed(1),
        'emulator ceiling: versions/s at our requests/version': +(count / capacitySeconds / (bare.oursRequests / count)).toFixed(1),
        bigVersionMiB: Math.round(big.sourceBytes / MiB),
        bigCaptureSeconds: +big.seconds.toFixed(1),
        'bigCaptureRequests (whole capture)': Object.entries(big.requests).map(([k, n]) => `${k} ${n}`).join(', '),
        bigSourceUploadSeconds: +big.uploadSeconds.toFixed(1),
        bigRssBeforeMiB: Math.round(big.rssBefore),
        bigPeakRssMiB: Math.round(big.peak),
      },
      ratios: [
        { label: 'versions/s vs naive Get→Put, S3-like latency', value: slow.naiveSeconds / slow.oursSeconds, goal: 4 },
        { label: 'versions/s vs naive Get→Put, bare emulator', value: bare.naiveSeconds / bare.oursSeconds, goal: 1 },
        { label: 'peak RSS MiB capturing one 2 GiB version', value: big.peak, goal: 256, lowerIsBetter: true },
      ],
    })
  } finally {
    await emulator.stop()
  }
}

await main()
