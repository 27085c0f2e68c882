/**
 * The drill under injected faults (issue 16): the whole local drill — set-up, the canary
 * incident, three collectors run from their bundles through the local runtime, custody, bundle, every check —
 * with 10% of its AWS requests failing (a third each: 503 SlowDown, a lost response after
 * the effect, a connection reset). It must still pass every check.
 */
import t from 'tap'
import { join } from 'node:path'
import { runLocalDrill } from '../cli/commands/drill-local.js'
import { setRetryPolicy } from '../forensics/retry.js'

t.test('the local drill passes with 10% of its requests failing', async (t) => {
  const home = t.testdir({})
  const previous = setRetryPolicy({ baseDelayMs: 25, maxDelayMs: 1000 })
  t.teardown(() => void setRetryPolicy(previous))
  const lines: string[] = []
  const outcome = await runLocalDrill({
    env: { ...process.env, FORENSICS_HOME: home },
    outDir: join(home, 'drills'),
    log: (l) => lines.push(l),
    faults: { rates: { slowDown: 0.1 / 3, lostResponse: 0.1 / 3, reset: 0.1 / 3 }, seed: 16 },
  })
  const f = outcome.faults!
  const injected = f.faults.slowDown + f.faults.lostResponse + f.faults.reset
  t.comment(`drill under faults: ${f.requests} requests, ${injected} faults injected (SlowDown ${f.faults.slowDown}, lost responses ${f.faults.lostResponse}, resets ${f.faults.reset}); checks: ${outcome.report.checks.map((c) => `${c.name} ${c.verdict}`).join(', ')}`)
  t.ok(injected > 0, 'faults were injected')
  t.ok(outcome.report.passed, `every check passes: ${JSON.stringify(outcome.report.checks.filter((c) => c.verdict !== 'pass'))}\n${lines.slice(-20).join('\n')}`)
})
