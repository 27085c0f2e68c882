/**
 * Fuzzing, bounded (issue 16): the properties of test/fixtures/fuzz-scenarios.ts with a
 * fixed seed and a small budget, so `npm test` stays fast; `npm run fuzz` runs the same
 * properties with ≥ 10,000 events per handler and ≥ 1,000 bundle mutations.
 */
import t, { type Test } from 'tap'
import { fuzzBundleMutations, fuzzCloudTrail, fuzzConfig, fuzzHandlerEvents, fuzzKeysRoundTrip, type FuzzCount } from './fixtures/fuzz-scenarios.js'
import { seedSmallCase } from './fixtures/bundle-case.js'

const SEED = 16

const report = (t: Test, c: FuzzCount): void => {
  t.comment(`${c.name}: ${c.inputs} inputs, ${c.crashes} crashes${c.examples.length ? `\n  ${c.examples.join('\n  ')}` : ''}`)
  t.equal(c.crashes, 0, `${c.name}: no crash`)
}

t.test('handler events of every function: a result or a validation error', async (t) => {
  for (const c of await fuzzHandlerEvents({ numRuns: 300, seed: SEED })) {
    report(t, c)
    t.equal(c.inputs, 300)
  }
})

t.test('config objects', async (t) => {
  report(t, await fuzzConfig({ numRuns: 300, seed: SEED }))
})

t.test('CloudTrail records, log files and filters', async (t) => {
  for (const c of await fuzzCloudTrail({ numRuns: 200, seed: SEED })) report(t, c)
})

t.test('S3 keys through capture → bundle → verify', async (t) => {
  report(t, await fuzzKeysRoundTrip({ numRuns: 20, seed: SEED }))
})

t.test('bundle mutations: verify never crashes, never OK on altered content', async (t) => {
  const c = await fuzzBundleMutations({ numRuns: 150, seed: SEED }, async (store, signer) => {
    await seedSmallCase(store, signer, 'fuzz-case')
    return 'fuzz-case'
  })
  report(t, c)
  t.comment(`  ${c.refused} refused with findings, ${c.unreadable} unreadable (exit 2)`)
  t.ok(c.refused + c.unreadable > c.inputs / 2, 'most mutants are caught (the rest read back identical)')
})
