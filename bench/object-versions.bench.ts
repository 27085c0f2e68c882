/**
 * Object-versions benchmarks (issue 4):
 *  - versions captured per second for 2,000 small versions: captureObjectVersions (bounded
 *    concurrency, hashed, locked, read back) vs. a naive sequential GetObject → PutObject
 *    loop with the same SDK against the same emulator;
 *  - peak RSS while capturing one 2 GiB version (own child process; the source object is
 *    uploaded with a streamed multipart upload, never held in memory).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { S3Client, GetObjectCommand, PutObjectCommand, ListObjectVersionsCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { startEmulator } from '../forensics/local/emulator.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { LocalSigner } from '../forensics/signer.js'
import { captureObjectVersions } from '../forensics/object-versions/capture-object-versions.js'
import { createLockedBucket } from '../test/fixtures/evidence.js'
import { createVersionedBucket, seedObjects, signingKeyFile } from '../test/fixtures/collectors.js'
import { report, timeIt, sampleRss, tsRegister, generatedStream } from './lib.js'

const MiB = 1024 * 1024


async function rssChild(): Promise<void> {
  const size = Number(process.env.BENCH_BIG_MIB ?? 2048) * MiB
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await createVersionedBucket(s3, 'src')
    const uploadSeconds = await timeIt(() => new Upload({ client: s3, params: { Bucket: 'src', Key: 'big/2gib', Body: generatedStream(size) }, partSize: 16 * MiB, queueSize: 2 }).done())
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'src', Key: 'big/2gib' }))
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const signer = LocalSigner.fromFile(signingKeyFile().path).signer
    let summary: Record<string, unknown> | undefined
    const rssBefore = process.memoryUsage.rss() / MiB
    const { peakMiB, seconds } = await sampleRss(async () => {
      const out = await captureObjectVersions({ store, signer }, s3, { caseId: 'bench-big', bucket: 'src', keys: ['big/2gib'], trigger: { source: 'bench', id: 'big' } })
      if (out.kind === 'committed') summary = out.result.manifest.summary
    })
    process.stdout.write(JSON.stringify({ peak: peakMiB, rssBefore, seconds, uploadSeconds, sourceBytes: head.ContentLength, summary }) + '\n')
  } finally {
    await emulator.stop()
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-child')) return rssChild()
  const count = Number(process.env.BENCH_VERSIONS ?? 2000)
  const emulator = await startEmulator()
  try {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evidence')
    await createVersionedBucket(s3, 'src')
    await seedObjects(s3, 'src', 'small/', count)
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const signer = LocalSigner.fromFile(signingKeyFile().path).signer

    // naive: list, then for each version GetObject and PutObject, one after the other
    const naiveSeconds = await timeIt(async () => {
      let keyMarker: string | undefined
      let versionIdMarker: string | undefined
      let n = 0
      for (;;) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: 'src', Prefix: 'small/', KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }))
        for (const v of page.Versions ?? []) {
          const got = await s3.send(new GetObjectCommand({ Bucket: 'src', Key: v.Key, VersionId: v.VersionId }))
          const body = Buffer.from(await got.Body!.transformToByteArray())
          await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: `naive/${n++}`, Body: body }))
        }
        if (!page.IsTruncated) break
        keyMarker = page.NextKeyMarker
        versionIdMarker = page.NextVersionIdMarker
      }
    })
    let stored = 0
    const oursSeconds = await timeIt(async () => {
      const out = await captureObjectVersions({ store, signer }, s3, { caseId: 'bench', bucket: 'src', prefix: 'small/', trigger: { source: 'bench', id: 'small' } }, { concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16) })
      if (out.kind === 'committed') stored = Number(out.result.manifest.summary?.stored ?? 0)
    })
    if (stored !== count) throw new Error(`captured ${stored} of ${count} versions`)

    const child = spawnSync(process.execPath, ['--import', tsRegister, fileURLToPath(import.meta.url), '--rss-child'], { encoding: 'utf8', env: process.env, maxBuffer: 16 * MiB })
    const line = child.stdout.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`2 GiB child failed (exit ${child.status}): ${child.stderr.slice(-2000)}`)
    const big = JSON.parse(line) as { peak: number; rssBefore: number; seconds: number; uploadSeconds: number; sourceBytes: number }

    report({
      name: 'object-versions',
      metrics: {
        versions: count,
        naiveVersionsPerSecond: +(count / naiveSeconds).toFixed(1),
        oursVersionsPerSecond: +(count / oursSeconds).toFixed(1),
        bigVersionMiB: Math.round(big.sourceBytes / MiB),
        bigCaptureSeconds: +big.seconds.toFixed(1),
        bigSourceUploadSeconds: +big.uploadSeconds.toFixed(1),
        bigRssBeforeMiB: Math.round(big.rssBefore),
        bigPeakRssMiB: Math.round(big.peak),
      },
      ratios: [
        { label: 'versions/s vs naive sequential Get→Put', value: naiveSeconds / oursSeconds, goal: 4 },
        { label: 'peak RSS MiB capturing one 2 GiB version', value: big.peak, goal: 256, lowerIsBetter: true },
      ],
    })
  } finally {
    await emulator.stop()
  }
}

await main()
