/**
 * The fault suite (issue 16): ≥ 100 capture runs of every kind through a loopback proxy
 * that injects 10% faults per request — a third each 503 SlowDown before the request
 * reaches the emulator, 500 after it took effect (a lost response), connection resets —
 * with the SDK's retries and ours. Bucket-config and object-versions run through the CLI
 * (exit 0 or a clean exit 3); CloudTrail slices run through the Lambda handler and the
 * custody recorder, each invoked as Lambda's async contract would (up to 3 attempts, then
 * the OnFailure path). Afterwards every case is audited directly on the emulator for wrong
 * results (manifests, signatures, custody chains, duplicates, claimed hashes against the
 * source), then bundled under faults — the bundle reads the stored bytes of every artifact
 * and refuses any that differ from its manifest — and verified offline; a refused bundle
 * or a failed verify is a wrong result. The counts are printed.
 */
import t from 'tap'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { createVersionedBucket, putVersions, signingKeyFile } from './fixtures/collectors.js'
import { runCli, tempDir } from './fixtures/bundle-cli.js'
import { auditCase, runPool } from './fixtures/fault-suite.js'
import { buildArchive, generateEvents, makeTrailKey, uploadArchive } from './fixtures/cloudtrail/archive.js'
import { startFaultProxy } from '../forensics/local/fault-proxy.js'
import { retryStats, setRetryPolicy } from '../forensics/retry.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'
import { createHandler } from '../collectors/cloudtrail-slice.js'
import { createCustodyRecorder } from '../collectors/custody-recorder.js'
import { MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'
import { sha256Hex } from '../forensics/hash.js'
import { versionArtifactPath } from '../forensics/object-versions/copy-version.js'
import type { Manifest } from '../forensics/manifest.js'

/** Runs per capture kind. */
const RUNS = 100
/** Cases the runs are spread over (runs of one case race on its custody chain). */
const CASES = 25
/** Runs in flight at once. */
const CONCURRENCY = 8
/** Injected faults per request: 10% in all, a third of each kind. */
const FAULTS = { slowDown: 0.1 / 3, lostResponse: 0.1 / 3, reset: 0.1 / 3 }
const HOUR = 3600_000
const D = (s: string): number => Date.parse(s)

type Outcome = 'complete' | 'partial' | 'failed' | 'unexpected'

t.test('fault suite: captures of every kind under 10% injected faults', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const direct = new S3Client(emulator.clientConfig())
  t.teardown(() => direct.destroy())
  const dir = tempDir(t, 'fault-suite-')
  const key = signingKeyFile()

  // set-up without faults: the evidence bucket, a versioned source, a trail archive
  await createLockedBucket(direct, 'evidence')
  await createVersionedBucket(direct, 'src')
  const expected = new Map<string, string>()
  for (const k of ['k0', 'dir/k 1']) {
    const bodies = [`${k} first`, `${k} second ${'x'.repeat(2000)}`]
    const ids = await putVersions(direct, 'src', k, bodies)
    ids.forEach((v, i) => expected.set(versionArtifactPath(k, v), sha256Hex(Buffer.from(bodies[i]))))
  }
  const trailKey = makeTrailKey()
  const loc = parseArchiveUrl('s3://trail/ct')
  const events = generateEvents('111111111111', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T03:00:00Z'), 30, 7)
  await uploadArchive(direct, buildArchive(loc, [{ account: '111111111111', region: 'us-east-1', trailName: 'org', events }], trailKey, { fileEveryMs: HOUR }))

  const proxy = await startFaultProxy({ target: emulator.endpoint, faults: FAULTS, seed: 16 })
  t.teardown(() => proxy.close())
  // the CLI's SDK clients read the endpoint from the process environment
  const saved = { ...process.env }
  Object.assign(process.env, emulator.env(), { AWS_ENDPOINT_URL: proxy.endpoint })
  // shorter waits than production (the SDK's own backoff stays as it is)
  const previousPolicy = setRetryPolicy({ baseDelayMs: 25, maxDelayMs: 1000 })
  t.teardown(() => {
    setRetryPolicy(previousPolicy)
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
  const env: NodeJS.ProcessEnv = { ...process.env, FORENSICS_EVIDENCE_BUCKET: 'evidence', FORENSICS_SIGNING_KEY: `file:${key.path}`, FORENSICS_RETENTION_DAYS: '1' }

  // the Lambda side: the handler and the recorder on clients through the proxy
  const proxied = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 5 })
  t.teardown(() => proxied.destroy())
  const store = new S3EvidenceStore({ client: proxied, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  const publicKeys = { listPublicKeys: async () => [{ fingerprint: trailKey.fingerprint, value: trailKey.der, validityStart: '2020-01-01T00:00:00Z' }] }
  const sliceHandler = createHandler({ capture: async () => ({ store, signer: key.signer }), slice: { s3: proxied, publicKeys, workers: 0 }, env: {} })
  const recorder = createCustodyRecorder({ store, signer: key.signer, siem: new MemorySiemPublisher() })
  /** Lambda's async contract: the first attempt and two retries, then OnFailure. */
  const asLambda = async <T>(fn: () => Promise<T>): Promise<{ ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number }> => {
    let error: unknown
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return { ok: true, value: await fn(), attempts: attempt }
      } catch (e) {
        error = e
      }
    }
    return { ok: false, error, attempts: 3 }
  }

  const caseOf = (i: number): string => `fault-${i % CASES}`
  const counts = { runs: 0, complete: 0, partial: 0, cleanFailures: 0, unexpected: [] as string[], lambdaRetries: 0 }
  const record = (kind: string, i: number, o: Outcome, detail = ''): Outcome => {
    counts.runs++
    if (o === 'complete') counts.complete++
    else if (o === 'partial') counts.partial++
    else if (o === 'failed') counts.cleanFailures++
    else counts.unexpected.push(`${kind} #${i}: ${detail}`)
    return o
  }
  const cliRun = async (kind: string, i: number, argv: string[]): Promise<Outcome> => {
    const r = await runCli([...argv, '--case', caseOf(i), '--json'], env)
    if (r.code === 3) return record(kind, i, 'failed')
    if (r.code !== 0) return record(kind, i, 'unexpected', `exit ${r.code}: ${r.stdout.toString()} ${r.stderr}`)
    const doc = JSON.parse(r.stdout.toString()) as { status: string }
    return record(kind, i, doc.status === 'complete' ? 'complete' : 'partial', r.stdout.toString().slice(0, 400))
  }
  const sliceRun = async (i: number): Promise<Outcome> => {
    const event = { caseId: caseOf(i), start: '2026-11-28T01:00:00Z', end: '2026-11-28T02:00:00Z', archive: 's3://trail/ct', triggerId: `fault-${i}` }
    const captured = await asLambda(() => sliceHandler(event))
    counts.lambdaRetries += captured.attempts - 1
    if (!captured.ok) return record('cloudtrail', i, 'failed')
    const destination = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: { requestId: `req-${i}`, functionArn: 'arn:aws:lambda:us-east-1:111111111111:function:forensics-cloudtrail-slice', condition: 'Success', approximateInvokeCount: captured.attempts },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      responsePayload: captured.value,
    }
    const sealed = await asLambda(() => recorder(destination))
    counts.lambdaRetries += sealed.attempts - 1
    if (!sealed.ok) return record('cloudtrail', i, 'unexpected', `committed but the custody recorder failed 3 times: ${String(sealed.error)}`)
    return record('cloudtrail', i, captured.value.status === 'complete' ? 'complete' : 'partial', JSON.stringify(captured.value))
  }

  const jobs: Array<() => Promise<Outcome>> = []
  for (let i = 0; i < RUNS; i++) {
    jobs.push(() => cliRun('bucket-config', i, ['capture', 'bucket-config', '--bucket', 'src']))
    jobs.push(() => cliRun('object-versions', i, ['capture', 'object-versions', '--bucket', 'src', '--key', 'k0', '--key', 'dir/k 1']))
    jobs.push(() => sliceRun(i))
  }
  const started = Date.now()
  const outcomes = await runPool(jobs, CONCURRENCY)
  const captureSeconds = (Date.now() - started) / 1000
  const byKind = (k: number): Record<Outcome, number> => {
    const o = { complete: 0, partial: 0, failed: 0, unexpected: 0 }
    outcomes.forEach((x, i) => i % 3 === k && o[x]++)
    return o
  }
  const injected = proxy.stats.faults.slowDown + proxy.stats.faults.lostResponse + proxy.stats.faults.reset
  const retriesDuringCaptures = retryStats.retries
  const captureRequests = proxy.stats.requests
  const perRun = Object.entries(proxy.stats.byOperation)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${op} ${(n / counts.runs).toFixed(1)}`)

  // audit, directly on the emulator (no faults): no wrong result anywhere
  proxy.configure({ faults: {} })
  const auditStarted = Date.now()
  const auditStore = new S3EvidenceStore({ client: direct, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  const sourceSha = (_m: Manifest, path: string): string | undefined => expected.get(path)
  const audits = []
  // the stored bytes of every artifact are read by the bundles below (refused when they
  // differ from the manifest, hashed again by verify): a refused bundle or a failed verify
  // is a wrong result
  for (let c = 0; c < CASES; c++) audits.push(await auditCase(auditStore, direct, key.signer, `fault-${c}`, sourceSha, { readArtifacts: false }))
  const wrong: Array<{ caseId: string; what: string }> = audits.flatMap((a) => a.wrong)
  const committed = audits.reduce((n, a) => n + a.manifestKeys.length, 0)

  // every case bundles (under faults again) and verifies offline
  const bundleStarted = Date.now()
  proxy.configure({ faults: FAULTS })
  // cases are independent: bundled (and then verified) CONCURRENCY at a time
  let bundleAttempts = 0
  const bundled: string[] = []
  await runPool(Array.from({ length: CASES }, (_, c) => async () => {
    const file = join(dir, `fault-${c}.zip`)
    for (let attempt = 1; attempt <= 3; attempt++) {
      bundleAttempts++
      const r = await runCli(['bundle', `fault-${c}`, '-o', file, '--json'], env)
      if (r.code === 0) {
        bundled.push(file)
        break
      }
      if (r.code !== 3) {
        // an integrity failure: stored bytes that differ from what a manifest claims
        wrong.push({ caseId: `fault-${c}`, what: `bundle refused (exit ${r.code}): ${r.stdout.toString().slice(0, 2000)}` })
        break
      }
    }
  }), CONCURRENCY)
  proxy.configure({ faults: {} })
  const verifyStarted = Date.now()
  const verified = await runPool(bundled.map((file) => async () => {
    const r = await runCli(['verify', file, '--json'], {})
    if (r.code !== 0) wrong.push({ caseId: file, what: `verify exit ${r.code}: ${r.stdout.toString().slice(0, 2000)}` })
    return r.code
  }), CONCURRENCY)

  const phases = `audit ${((bundleStarted - auditStarted) / 1000).toFixed(0)} s, bundles ${((verifyStarted - bundleStarted) / 1000).toFixed(0)} s, verify ${((Date.now() - verifyStarted) / 1000).toFixed(0)} s`
  const kinds = ['bucket-config (CLI)', 'object-versions (CLI)', 'cloudtrail-slice (handler + recorder)']
  t.comment(`fault suite: ${counts.runs} capture runs in ${captureSeconds.toFixed(0)} s, ${CONCURRENCY} at a time, over ${CASES} cases; ${proxy.stats.requests} requests, ${injected} faults injected (SlowDown ${proxy.stats.faults.slowDown}, lost responses ${proxy.stats.faults.lostResponse}, resets ${proxy.stats.faults.reset})`)
  kinds.forEach((k, i) => {
    const o = byKind(i)
    t.comment(`  ${k}: ${o.complete} complete, ${o.partial} partial, ${o.failed} failed cleanly, ${o.unexpected} unexpected`)
  })
  t.comment(`  requests per capture run: ${(captureRequests / counts.runs).toFixed(1)} (${perRun.join(', ')})`)
  t.comment(`  retries: ${retriesDuringCaptures} operation retries (retry.ts, on top of the SDK's), ${counts.lambdaRetries} Lambda re-invocations; ${retryStats.exhausted} operations ran out of retries`)
  t.comment(`  committed captures: ${committed}; clean failures: ${counts.cleanFailures}; wrong results: ${wrong.length}`)
  t.comment(`  bundles: ${bundled.length} of ${CASES} cases in ${bundleAttempts} attempts under faults, ${verified.filter((c) => c === 0).length} verify (${phases})`)

  t.ok(injected >= counts.runs, 'faults were injected (at least one per run on average)')
  t.same(counts.unexpected, [], 'every run completed or failed cleanly (exit 3 / OnFailure)')
  t.same(wrong, [], 'no wrong result: stored bytes (bundled and verified), signatures, custody chains, one entry per manifest, one manifest per trigger')
  for (let i = 0; i < 3; i++) {
    const o = byKind(i)
    t.ok(o.complete + o.partial + o.failed + o.unexpected >= RUNS, `${kinds[i]}: ≥ ${RUNS} runs`)
    t.ok(o.complete >= 0.95 * RUNS, `${kinds[i]}: ≥ 95% complete (${o.complete})`)
  }
  t.equal(bundled.length, CASES, 'every case bundles')
  t.equal(verified.filter((c) => c === 0).length, CASES, 'every bundle verifies')
  t.ok(committed >= counts.complete + counts.partial, 'every run that succeeded committed its manifest')
})
