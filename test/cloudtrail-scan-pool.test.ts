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

t.test('in-process and worker scans agree; a busy worker queues; failures leave it usable', async (t) => {
  t.match(workerEntry().pathname, /scan-worker\.ts$/)
  const doc = gzipSync(JSON.stringify({ Records: [{ eventID: 'a', eventTime: '2026-11-28T01:00:00Z' }] }))
  const path = join(t.testdir({}), 'one.json.gz')
  writeFileSync(path, doc)
  const local = new ScanPool({}, W, { workers: 0 })
  t.equal(local.workers, 0)
  t.equal((await local.scan({ kind: 'path', path })).matched.length, 1)
  await local.close()

  const pool = new ScanPool({}, W, { workers: 1, window: 1 })
  t.teardown(() => pool.close())
  t.equal(pool.workers, 1)
  const many = Array.from({ length: 6 }, (_, i) => doc.subarray(i * 10, i * 10 + 10)).concat([doc.subarray(60)])
  const [a, b] = await Promise.all([pool.scan({ kind: 'stream', open: async () => chunks(...many) }), pool.scan({ kind: 'path', path })])
  t.equal(a.matched.length, 1, 'a streamed file in small chunks with one chunk in flight')
  t.equal(b.matched.length, 1, 'a second file waits for the busy worker')
  await t.rejects(pool.scan({ kind: 'stream', open: async () => Promise.reject(new Error('open failed')) }), /open failed/)
  const failing = async function* (): AsyncGenerator<Uint8Array> {
    yield doc.subarray(0, 10)
    throw new Error('connection reset')
  }
  const aborted = await pool.scan({ kind: 'stream', open: async () => failing() })
  t.match(aborted.error, /reading the file failed: connection reset/)
  t.equal((await pool.scan({ kind: 'path', path })).matched.length, 1, 'the worker is free again after failures')
})
