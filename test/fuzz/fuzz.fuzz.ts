/**
 * `npm run fuzz`: the properties of test/fixtures/fuzz-scenarios.ts with long budgets —
 * ≥ 10,000 events per handler, ≥ 1,000 bundle mutations. Takes minutes; not in `npm test`
 * (test/fuzz.test.ts runs the same properties small). FORENSICS_FUZZ_SEED replays a run.
 */
import t, { type Test } from 'tap'
import { fuzzBundleMutations, fuzzCloudTrail, fuzzConfig, fuzzHandlerEvents, fuzzKeysRoundTrip, type FuzzCount } from '../fixtures/fuzz-scenarios.js'
import { seedSmallCase } from '../fixtures/bundle-case.js'

const seed = Number(process.env.FORENSICS_FUZZ_SEED ?? Date.now() % 2 ** 31)
t.comment(`seed ${seed} (FORENSICS_FUZZ_SEED=${seed} replays this run)`)

const report = (t: Test, c: FuzzCount): void => {
  t.comment(`${c.name}: ${c.inputs} inputs, ${c.crashes} crashes${c.examples.length ? `\n  ${c.examples.join('\n  ')}` : ''}`)
  t.equal(c.crashes, 0, `${c.name}: no crash`)
}

t.test('handler events: 10,000 per function', async (t) => {
  for (const c of await fuzzHandlerEvents({ numRuns: 10_000, seed })) report(t, c)
})
t.test('config objects', async (t) => report(t, await fuzzConfig({ numRuns: 10_000, seed })))
t.test('CloudTrail records, log files and filters', async (t) => {
  for (const c of await fuzzCloudTrail({ numRuns: 5_000, seed })) report(t, c)
})
t.test('S3 keys through capture → bundle → verify', async (t) => report(t, await fuzzKeysRoundTrip({ numRuns: 1_000, seed })))
t.test('bundle mutations', async (t) => {
  const c = await fuzzBundleMutations({ numRuns: 2_000, seed }, async (store, signer) => {
    await seedSmallCase(store, signer, 'fuzz-case')
    return 'fuzz-case'
  })
  report(t, c)
  t.comment(`  ${c.refused} refused with findings, ${c.unreadable} unreadable (exit 2)`)
})
