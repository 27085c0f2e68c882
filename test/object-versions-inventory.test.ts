/** The object-versions inventory and its findings (forensics/object-versions/inventory.ts). */
import t from 'tap'
import { INVENTORY_PATH, recordInventory, type InventoryEntry } from '../forensics/object-versions/inventory.js'
import { OBJECT_VERSIONS_COLLECTOR } from '../forensics/object-versions/capture-object-versions.js'
import { runCapture } from '../forensics/capture.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { testSigner } from './fixtures/bundle-case.js'
import { versionEntry } from './fixtures/object-versions-source.js'

t.test('recordInventory: duplicates once, failures as errors, restore finding, fan-out summary', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const entries: InventoryEntry[] = [
    { ...versionEntry('b', 'v1', 'x'), capture: { status: 'failed', code: 'AccessDenied', message: 'no' } },
    { ...versionEntry('a', 'v1', 'x'), capture: { status: 'restore-required', storageClass: 'GLACIER' } },
    { ...versionEntry('a', 'v1', 'x'), capture: { status: 'restore-required', storageClass: 'GLACIER' } },
    { ...versionEntry('a', 'dm', ''), kind: 'delete-marker', capture: { status: 'delete-marker' } },
  ]
  const r = await runCapture({ store, signer }, { caseId: 'case-inv', collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'inv-1' }, target: { bucket: 'src' } }, async (ctx) => {
    await recordInventory(ctx, { bucket: 'src', prefix: '' }, entries, { confirmed: true, fanOut: { attempt: 'x', pages: 2 } })
  })
  t.equal(r.manifest.status, 'partial')
  t.same(r.manifest.errors, [{ what: 's3://src/b version v1', code: 'AccessDenied', message: 'no' }])
  t.match(r.manifest.findings, [{ type: 'restore-required', title: /^1 archived version/ }])
  t.same(r.manifest.summary, { bucket: 'src', entries: 3, versions: 2, deleteMarkers: 1, stored: 0, restoreRequired: 1, failed: 1, bytes: 0, fanOut: { attempt: 'x', pages: 2 } })
  const inv = r.manifest.artifacts.find((a) => a.path === INVENTORY_PATH)!
  const doc = JSON.parse((await store.getBytes(inv.key)).bytes.toString()) as { entries: InventoryEntry[] }
  t.same(doc.entries.map((e) => `${e.key}:${e.versionId}`), ['a:dm', 'a:v1', 'b:v1'], 'deduplicated and sorted')

  const empty = await runCapture({ store, signer }, { caseId: 'case-inv', collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'inv-2' }, target: { bucket: 'src' } }, async (ctx) => {
    await recordInventory(ctx, { bucket: 'src', prefix: '' }, [], { confirmed: true })
  })
  t.same(empty.manifest.findings, [], 'no restore finding without archived versions')
  t.match(empty.manifest.summary, { entries: 0, fanOut: null })
})
