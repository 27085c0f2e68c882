/**
 * Concurrency and redelivery (issue 16): 50 captures committed at once into one case, each
 * sealed by its own custody append; and every event of every collector delivered three
 * times at once (Lambda's at-least-once delivery), its OnSuccess record too. The racing
 * requests run on a worker thread (fixtures/concurrency-run.ts, fixtures/worker.ts), the
 * assertions here.
 */
import t from 'tap'
import { emulatorAccess, useEmulator } from './fixtures/emulator.js'
import { runInWorker } from './fixtures/worker.js'
import type { AuditCounts, Redelivery } from './fixtures/concurrency-run.js'

const workloads = new URL('./fixtures/concurrency-run.ts', import.meta.url)

t.test('concurrency and redelivery on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const access = emulatorAccess(emulator)

  t.test('50 concurrent captures into one case: 50 `captured` entries, one chain, no fork, no gap', async (t) => {
    const r = await runInWorker<{ created: boolean[]; seqs: number[]; audit: AuditCounts }>(t, workloads, 'concurrentWriters', { emulator: access, writers: 50 })
    t.equal(r.created.length, 50, '50 writers')
    t.ok(r.created.every(Boolean), 'every writer appended its own entry')
    t.same(r.seqs.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i), 'seq 0..49')
    t.equal(r.audit.manifests, 50)
    t.equal(r.audit.custodyEntries, 50)
    t.same(r.audit.wrong, [], 'valid chain: no fork, no gap, one entry per manifest')
  })

  t.test('every event delivered 3× at once: no duplicate manifest, no duplicate entry', async (t) => {
    const r = await runInWorker<Redelivery>(t, workloads, 'redeliverEverything', { emulator: access })
    t.equal(r.captureIdsPerEvent.length, 9)
    t.ok(r.captureIdsPerEvent.every((ids) => ids.length === 1), 'the three deliveries of an event answer with one capture')
    t.equal(r.created, 9, 'each event committed exactly once')
    t.equal(r.sealedCreated, 9, 'one custody entry per capture')
    t.equal(r.audit.manifests, 9, 'nine manifests')
    t.equal(r.audit.custodyEntries, 9, 'nine custody entries')
    t.same(r.audit.wrong, [], 'no duplicate manifest or entry; valid chain')
  })
})
