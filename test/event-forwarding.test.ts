import t from 'tap'
import { readFileSync } from 'node:fs'
import { Testing } from '../stacks/cdktf.js'
import { addForensicsStacks, triggerPatterns } from '../stacks/index.js'
import { parseConfig } from '../forensics/config.js'
import { intakeEventBusArn, resourceNames } from '../forensics/routing.js'
import type { PolicyStatement } from '../stacks/policy.js'

type Resources = Record<string, Record<string, Record<string, unknown>>>
interface Doc { resource: Resources; provider: { aws: { alias?: string; region: string; allowed_account_ids: string[] }[] } }

const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
const config = parseConfig(raw)
const names = resourceNames(config)
const app = Testing.app()
const stacks = addForensicsStacks(app, config)
const forensics = JSON.parse(Testing.synth(stacks.forensics)) as Doc
const member = JSON.parse(Testing.synth(stacks.members[0])) as Doc
const statements = (policy: unknown): PolicyStatement[] => (JSON.parse(policy as string) as { Statement: PolicyStatement[] }).Statement
const busArn = intakeEventBusArn(config)

/** The forwarding rules of a stack: for each, its region (provider alias or home) and pattern, and its target. */
function forwarders(doc: Doc, home: string): { region: string; pattern: unknown; target: Record<string, unknown> }[] {
  const targets = Object.values(doc.resource.aws_cloudwatch_event_target)
  return Object.entries(doc.resource.aws_cloudwatch_event_rule)
    .filter(([, r]) => String(r.name).startsWith(`${config.name}-forward-`))
    .map(([id, r]) => ({
      region: r.provider ? String(r.provider).replace(/^aws\./, '') : home,
      pattern: JSON.parse(String(r.event_pattern)),
      target: targets.find((x) => x.rule === `\${aws_cloudwatch_event_rule.${id}.name}`) as Record<string, unknown>,
    }))
}

t.test('every region in scope of each account forwards every trigger pattern to the intake bus through a forwarding role', async (t) => {
  t.same(config.regions, ['eu-west-1', 'us-east-1'], 'the example config spans two regions')
  const patterns = Object.values(triggerPatterns(config.watchedBuckets))
  for (const [label, doc, account] of [['forensics', forensics, config.forensicsAccountId], ['member', member, config.memberAccounts[0]]] as const) {
    const rules = forwarders(doc, config.region)
    t.equal(rules.length, config.regions.length * patterns.length, `${label}: one rule per region and pattern`)
    for (const region of config.regions) {
      const text = (xs: unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort()
      t.same(text(rules.filter((r) => r.region === region).map((r) => r.pattern)), text(patterns), `${label} ${region}: the capture rules' own patterns`)
    }
    const aliased = doc.provider.aws.find((p) => p.alias === 'us-east-1')
    t.match(aliased, { region: 'us-east-1', allowed_account_ids: [account] }, `${label}: a provider for the other region, refusing other accounts`)
    const [roleId, role] = Object.entries(doc.resource.aws_iam_role).find(([, r]) => r.name === names.eventForwarderRole) ?? []
    if (!role) throw new Error(`${label}: no forwarding role`)
    t.match(statements(role.assume_role_policy), [{ Principal: { Service: 'events.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': account } } }])
    const policy = Object.values(doc.resource.aws_iam_role_policy).find((p) => p.role === `\${aws_iam_role.${roleId}.id}`)
    t.same(statements(policy?.policy), [{ Sid: 'PutEventsOnIntakeBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: busArn }], `${label}: the role may only put events on the intake bus`)
    for (const r of rules) t.match(r.target, { arn: busArn, role_arn: `\${aws_iam_role.${roleId}.arn}` })
  }
})

t.test('the intake bus admits the member accounts, and the capture rules match on it', async (t) => {
  const [busId, bus] = Object.entries(forensics.resource.aws_cloudwatch_event_bus).find(([, b]) => b.name === names.intakeEventBus) ?? []
  t.ok(bus, 'the intake bus exists')
  t.equal(busArn, `arn:aws:events:eu-west-1:111111111111:event-bus/${names.intakeEventBus}`)
  const [policy] = Object.values(forensics.resource.aws_cloudwatch_event_bus_policy)
  t.equal(policy.event_bus_name, `\${aws_cloudwatch_event_bus.${busId}.name}`)
  t.same(statements(policy.policy), [{
    Sid: 'MemberAccountsForwardTriggerEvents', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::222222222222:root'] },
    Action: 'events:PutEvents', Resource: `\${aws_cloudwatch_event_bus.${busId}.arn}`,
  }])
  for (const name of [`${config.name}-s3-access-changes`, `${config.name}-guardduty-s3`]) {
    const [ruleId, rule] = Object.entries(forensics.resource.aws_cloudwatch_event_rule).find(([, r]) => r.name === name) ?? []
    t.equal(rule?.event_bus_name, `\${aws_cloudwatch_event_bus.${busId}.name}`, `${name} matches on the intake bus`)
    for (const target of Object.values(forensics.resource.aws_cloudwatch_event_target).filter((x) => x.rule === `\${aws_cloudwatch_event_rule.${ruleId}.name}`)) {
      t.equal(target.event_bus_name, rule?.event_bus_name, 'and so do its targets')
    }
  }

  const alone = addForensicsStacks(Testing.app(), parseConfig({ ...raw, memberAccounts: [], regions: ['eu-west-1'] }))
  const lone = JSON.parse(Testing.synth(alone.forensics)) as Doc
  t.notOk(lone.resource.aws_cloudwatch_event_bus_policy, 'no member accounts: no bus policy')
  t.equal(forwarders(lone, 'eu-west-1').length, 2, 'one region: one forwarding rule per pattern')
  t.equal(lone.provider.aws.length, 1, 'one region: no aliased provider')
})
