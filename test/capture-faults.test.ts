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
 * or a failed verify is a wrong result. The counts are printed. The runs themselves go on a
 * worker thread (fixtures/fault-suite-run.ts, fixtures/worker.ts): tap's async hooks
 * would add a fifth to their CPU.
 */
import t from 'tap'
import { emulatorAccess, useEmulator } from './fixtures/emulator.js'
import { runInWorker } from './fixtures/worker.js'
import type { FaultSuiteInput, FaultSuiteResult } from './fixtures/fault-suite-run.js'

/** Runs per capture kind. */
const RUNS = 100
/** Cases the runs are spread over (runs of one case race on its custody chain). */
const CASES = 25
/** Runs in flight at once. */
const CONCURRENCY = 8
/** Injected faults per request: 10% in all, a third of each kind. */
const FAULTS = { slowDown: 0.1 / 3, lostResponse: 0.1 / 3, reset: 0.1 / 3 }

t.test('fault suite: captures of every kind under 10% injected faults', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const input: FaultSuiteInput = {
    emulator: emulatorAccess(emulator),
    runs: RUNS,
    cases: CASES,
    concurrency: CONCURRENCY,
    faults: FAULTS,
  }
  const r = await runInWorker<FaultSuiteResult>(t, new URL('./fixtures/fault-suite-run.ts', import.meta.url), 'runFaultSuite', input)

  const f = r.captureFaults
  const injected = f.slowDown + f.lostResponse + f.reset
  const kinds = ['bucket-config (CLI)', 'object-versions (CLI)', 'cloudtrail-slice (handler + recorder)']
  t.comment(`fault suite: ${r.runs} capture runs in ${r.captureSeconds.toFixed(0)} s, ${CONCURRENCY} at a time, over ${CASES} cases; ${r.captureRequests} requests, ${injected} faults injected (SlowDown ${f.slowDown}, lost responses ${f.lostResponse}, resets ${f.reset})`)
  kinds.forEach((k, i) => {
    const o = r.byKind[i]
    t.comment(`  ${k}: ${o.complete} complete, ${o.partial} partial, ${o.failed} failed cleanly, ${o.unexpected} unexpected`)
  })
  t.comment(`  requests per capture run: ${(r.captureRequests / r.runs).toFixed(1)} (${r.perRun.join(', ')})`)
  t.comment(`  retries: ${r.retries} operation retries (retry.ts, on top of the SDK's), ${r.lambdaRetries} Lambda re-invocations; ${r.exhausted} operations ran out of retries`)
  t.comment(`  committed captures: ${r.committed}; clean failures: ${r.cleanFailures}; wrong results: ${r.wrong.length}`)
  const all = r.faults.slowDown + r.faults.lostResponse + r.faults.reset
  t.comment(`  bundles: ${r.bundled} of ${CASES} cases in ${r.bundleAttempts} attempts under faults (${all - injected} more faults in ${r.requests - r.captureRequests} requests), ${r.verified} verify (${r.phases})`)

  t.ok(injected >= r.runs, 'faults were injected (at least one per run on average)')
  t.same(r.unexpected, [], 'every run completed or failed cleanly (exit 3 / OnFailure)')
  t.same(r.wrong, [], 'no wrong result: stored bytes (bundled and verified), signatures, custody chains, one entry per manifest, one manifest per trigger')
  for (let i = 0; i < 3; i++) {
    const o = r.byKind[i]
    t.ok(o.complete + o.partial + o.failed + o.unexpected >= RUNS, `${kinds[i]}: ≥ ${RUNS} runs`)
    t.ok(o.complete >= 0.95 * RUNS, `${kinds[i]}: ≥ 95% complete (${o.complete})`)
  }
  t.equal(r.bundled, CASES, 'every case bundles')
  t.equal(r.verified, CASES, 'every bundle verifies')
  t.ok(r.committed >= r.complete + r.partial, 'every run that succeeded committed its manifest')
})
