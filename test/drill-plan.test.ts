/** The local drill's synth (cli/commands/drill-plan.ts): made once per sources and config, then reused; unused synths dropped. */
import t from 'tap'
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { drillPlanFile, drillSynthKey } from '../cli/commands/drill-plan.js'
import { parseConfig } from '../forensics/config.js'
import { LOCAL_DRILL_CONFIG } from '../forensics/drill/local-config.js'
import { readDeploymentPlan } from '../forensics/runtime/synthesized-plan.js'

t.test('synthesized once per key, then reused; synths unused for a day are dropped', async (t) => {
  const config = parseConfig(LOCAL_DRILL_CONFIG)
  const root = t.testdir({ stacks: { 'a.ts': 'one' }, 'package-lock.json': '{}' })
  const base = join(root, '.forensics', 'drill-synth')
  for (const d of ['stale', 'recent']) mkdirSync(join(base, d), { recursive: true })
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000)
  utimesSync(join(base, 'stale'), twoDaysAgo, twoDaysAgo)

  const lines: string[] = []
  const first = await drillPlanFile(root, config, (l) => lines.push(l))
  t.match(first, { reused: false, key: /^[0-9a-f]{64}$/, file: join(base, first.key.slice(0, 16), 'cdktf.out', 'stacks', 'forensics', 'cdk.tf.json') })
  t.match(lines, [/^synthesized the stacks for the drill in \d+\.\d s \(\.forensics\/drill-synth\/[0-9a-f]{16}\/cdktf\.out\/stacks\/forensics\/cdk\.tf\.json\)$/])
  const plan = readDeploymentPlan(first.file)
  t.same(plan.functions.map((f) => f.key).sort(), ['bucket-config', 'cloudtrail-slice', 'custody-recorder', 'drill', 'object-versions'])
  t.ok(plan.functions.every((f) => existsSync(f.zipPath)), 'the code assets are beside the plan')
  t.notOk(existsSync(join(base, 'stale')), 'a synth unused for two days is dropped')
  t.ok(existsSync(join(base, 'recent')), 'a recent one (another config, another drill) is kept')

  const again = await drillPlanFile(root, config, (l) => lines.push(l))
  t.same(again, { ...first, reused: true }, 'current: reused')
  t.equal(lines.length, 1, 'nothing synthesized the second time')
  t.equal(drillSynthKey(root, config), first.key)
  writeFileSync(join(root, 'stacks', 'a.ts'), 'two')
  t.not(drillSynthKey(root, config), first.key, 'a changed source is a new key')
  writeFileSync(join(root, 'stacks', 'a.ts'), 'one')
  t.not(drillSynthKey(root, parseConfig({ ...LOCAL_DRILL_CONFIG, name: 'other' })), first.key, 'another config is a new key')
})
