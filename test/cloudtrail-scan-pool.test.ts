/**
 * The scan worker pool (forensics/cloudtrail/scan-pool.ts): in-process and worker-thread scans
 * of streams and paths, a busy worker, and failures that leave the worker usable.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { ScanPool, workerEntry } from '../forensics/cloudtrail/scan-pool.js'

const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

async function* chunks(...parts: Array<Buffer | string>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p
}

t.test('in-process and worker scans agree; this thread and a worker scan at once, more files wait; failures leave both usable', async (t) => {
  t.match(workerEntry().pathname, /scan-worker\.ts$/)
  const doc = gzipSync(JSON.stringify({ Records: [{ eventID: 'a', eventTime: '2026-11-28T01:00:00Z' }] }))
  const path = join(t.testdir({}), 'one.json.gz')
  writeFileSync(path, doc)
  const local = new ScanPool({}, W, { workers: 0 })
  t.equal(local.workers, 0)
  const alone = await Promise.all([local.scan({ kind: 'path', path }), local.scan({ kind: 'path', path })])
  t.same(alone.map((r) => r.matched.length), [1, 1], 'without workers, files wait for this thread')
  await local.close()

  const pool = new ScanPool({}, W, { workers: 1, window: 1, startAfter: 0 })
  t.teardown(() => pool.close())
  t.equal(pool.workers, 1, 'startAfter 0: the worker starts with the pool')
  const many = Array.from({ length: 6 }, (_, i) => doc.subarray(i * 10, i * 10 + 10)).concat([doc.subarray(60)])
  // three at once: this thread takes the first, the worker the second (a stream in small
  // chunks with one chunk in flight), the third waits for whichever is free first
  const three = await Promise.all([pool.scan({ kind: 'path', path }), pool.scan({ kind: 'stream', open: async () => chunks(...many) }), pool.scan({ kind: 'path', path })])
  t.same(three.map((r) => r.matched.length), [1, 1, 1])
  // a failed open rejects, in this thread and in the worker alike
  const opens = [pool.scan({ kind: 'stream', open: async () => Promise.reject(new Error('open failed')) }), pool.scan({ kind: 'stream', open: async () => Promise.reject(new Error('open failed')) })]
  for (const o of opens) await t.rejects(o, /open failed/)
  const failing = async function* (): AsyncGenerator<Uint8Array> {
    yield doc.subarray(0, 10)
    throw new Error('connection reset')
  }
  // two at once: one fails in this thread, one in the worker, reported alike
  const aborted = await Promise.all([pool.scan({ kind: 'stream', open: async () => failing() }), pool.scan({ kind: 'stream', open: async () => failing() })])
  for (const a of aborted) t.match(a.error, /^reading the file failed: connection reset$/)
  const again = await Promise.all([pool.scan({ kind: 'path', path }), pool.scan({ kind: 'path', path })])
  t.same(again.map((r) => r.matched.length), [1, 1], 'both scanners are free again after failures')
})

t.test('workers start only once enough files wait for a scanner', async (t) => {
  const path = join(t.testdir({}), 'one.json.gz')
  writeFileSync(path, gzipSync(JSON.stringify({ Records: [{ eventID: 'a', eventTime: '2026-11-28T01:00:00Z' }] })))
  const pool = new ScanPool({}, W, { workers: 1 })
  t.teardown(() => pool.close())
  t.equal(pool.workers, 0, 'none at the start')
  const few = await Promise.all(Array.from({ length: 4 }, () => pool.scan({ kind: 'path', path })))
  t.same(few.map((r) => r.matched.length), [1, 1, 1, 1])
  t.equal(pool.workers, 0, 'four files: this thread scans them alone (three waited)')
  const more = await Promise.all(Array.from({ length: 6 }, () => pool.scan({ kind: 'path', path })))
  t.same(more.map((r) => r.matched.length), [1, 1, 1, 1, 1, 1])
  t.equal(pool.workers, 1, 'a fourth waiting file starts the worker, up to the workers option')
})
