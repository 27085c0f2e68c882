/**
 * The drill's bundle step (forensics/drill/bundle-runner.ts): a case that bundles and
 * verifies, a build refused for integrity reported as findings, other failures thrown.
 */
import t from 'tap'
import { MemoryStore } from './fixtures/memory-store.js'
import { overrideStore } from './fixtures/evidence.js'
import { seedCapture, testSignerWithPem } from './fixtures/bundle-case.js'
import { fileBundleRunner } from '../forensics/drill/bundle-runner.js'

t.test('the bundle runner reports a refused build as findings and rethrows other errors', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  const caseId = 'case-runner'
  await seedCapture(store, signer, caseId, 'evt-1', [{ path: 'policy.json', body: '{}' }])
  const dir = t.testdir({})
  const ok = await fileBundleRunner({ store, signer, dir }).buildAndVerify(caseId)
  t.same(ok.findings, [], 'the untampered case verifies')
  t.ok(ok.files > 0)
  t.match(ok.sha256, /^[0-9a-f]{64}$/)
  const other = testSignerWithPem().signer
  const refused = await fileBundleRunner({ store, signer: other, dir }).buildAndVerify(caseId)
  t.equal(refused.sha256, '')
  t.equal(refused.files, 0)
  t.match(refused.findings[0], /^bundle not built: manifest s3:\/\/memory-evidence\/.* does not verify with signing key/)
  const broken = overrideStore(store, {
    list: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new TypeError('listing broke')) }),
    }),
  })
  await t.rejects(fileBundleRunner({ store: broken, signer, dir }).buildAndVerify(caseId), { name: 'TypeError', message: 'listing broke' })
})
