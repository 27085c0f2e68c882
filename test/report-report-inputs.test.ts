/**
 * What the report reads besides manifests and custody (forensics/report/report-inputs.ts):
 * the slice artifacts, kept by the bundle reader, checked against their manifest.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { MemoryStore } from './fixtures/memory-store.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'
import { tempDir } from './fixtures/bundle-cli.js'
import { seedSliceCapture, trailEvent } from './fixtures/report-case.js'
import { isReportInputMember, REPORT_INPUT_MAX_BYTES, SLICE_COLLECTOR } from '../forensics/report/report-inputs.js'
import { CLOUDTRAIL_COLLECTOR } from '../forensics/cloudtrail/capture-slice.js'
import { MAX_DOCUMENT_BYTES } from '../forensics/bundle/bundle-reader.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { writeCaseReport } from '../forensics/report/write-report.js'

t.test('report inputs: the names the reader keeps and the collector they belong to', async (t) => {
  t.equal(SLICE_COLLECTOR, CLOUDTRAIL_COLLECTOR.name, 'one collector name')
  t.ok(REPORT_INPUT_MAX_BYTES <= MAX_DOCUMENT_BYTES, 'the reader keeps every input the builder reads')
  for (const ok of ['artifacts/c/events.jsonl.gz', 'artifacts/c/slice.json', 'artifacts/c/events.jsonl~0123456789ab.gz', 'artifacts/c/slice~0123456789ab.json']) t.ok(isReportInputMember(ok), ok)
  for (const no of ['artifacts/c/logs/events.jsonl.gz', 'manifests/c/slice.json', 'artifacts/c/public-keys.json', 'artifacts/slice.json']) t.notOk(isReportInputMember(no), no)
})

t.test('inputs are checked against their manifests; nothing is written otherwise', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  const r = await seedSliceCapture(store, signer, 'case-t', 't', [trailEvent('e1', '2026-11-28T01:00:00Z')])
  const events = r.manifest.artifacts.find((a) => a.path === 'events.jsonl.gz')!
  store.objects.get(events.key)!.bytes = gzipSync('{"eventID":"forged"}\n')
  const dir = tempDir(t, 'report-unit-')
  const out = join(dir, 'r.html')
  await t.rejects(writeCaseReport({ store, signer, caseId: 'case-t', output: { path: out } }), { name: 'IntegrityError', message: /events.jsonl.gz does not match its manifest; no report was written/ })
  t.throws(() => readFileSync(out), 'no file')
  await t.rejects(buildBundle({ store, signer, caseId: 'case-t', output: { path: join(dir, 'b.zip') } }), { name: 'IntegrityError' }, 'nor a bundle')
})
