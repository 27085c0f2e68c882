/**
 * Does a deployment plan meet the contract the handlers were built to? Checked before a
 * drill runs on it (nothing is written before), so a plan that renames a variable or routes
 * an event a handler refuses fails naming it, instead of surfacing later as a missing
 * capture:
 *
 * - environment (forensics/contract/env.ts): every variable the plan writes on a function
 *   is one its handler reads, every required one is written, and every resolved value passes
 *   the same check the handler makes at cold start;
 * - routing (forensics/contract/triggers.ts): every trigger rule of the table is in the
 *   plan, routes exactly the table's event names (what the handlers accept) and targets
 *   exactly its functions. Rules outside the table (the upload inspection rule) are not
 *   judged here.
 */
import { ValidationError } from '../errors.js'
import type { ForensicsConfig } from '../config.js'
import { checkFunctionEnv, FUNCTION_ENV, functionEnvNames } from '../contract/env.js'
import { triggerRules, triggerScope } from '../contract/triggers.js'
import { canonicalJson } from '../canonical-json.js'
import type { FunctionKey } from '../routing.js'
import type { DeploymentPlan } from './synthesized-plan.js'

type Obj = Record<string, unknown>

const eventNamesOf = (pattern: Obj): string[] | undefined => {
  const names = (pattern.detail as Obj | undefined)?.eventName
  return Array.isArray(names) ? names.map(String) : undefined
}

/** Every way `plan` departs from the contract, one sentence each naming the function, variable, rule or event. */
export function planContractProblems(plan: DeploymentPlan, config: ForensicsConfig, environment: (key: FunctionKey) => Record<string, string>): string[] {
  const problems: string[] = []
  for (const fn of plan.functions) {
    if (!(fn.key in FUNCTION_ENV)) continue
    const known = new Set<string>(functionEnvNames(fn.key))
    for (const name of Object.keys(fn.environment)) {
      if (!known.has(name)) problems.push(`the plan writes ${name} on ${fn.name}, which its ${fn.key} handler does not read (forensics/contract/env.ts)`)
    }
    try {
      checkFunctionEnv(fn.key, environment(fn.key))
    } catch (e) {
      problems.push(`${fn.name}: ${(e as Error).message}`)
    }
  }
  for (const { id, row, pattern } of triggerRules(triggerScope(config))) {
    const name = `${config.name}-${id}`
    const rule = plan.rules.find((r) => r.name === name)
    if (!rule) {
      problems.push(`the plan has no rule ${name} (trigger ${row.id} → ${row.targets.join(', ')})`)
      continue
    }
    const targets = rule.targets.map((x) => x.functionName).sort()
    const wanted = row.targets.map((k) => `${config.name}-${k}`).sort()
    if (targets.join() !== wanted.join()) problems.push(`rule ${name} targets ${targets.join(', ') || 'nothing'}, the trigger contract ${wanted.join(', ')}`)
    const routed = eventNamesOf(rule.pattern)
    const accepted = eventNamesOf(pattern)
    if (routed && accepted) {
      for (const e of routed.filter((n) => !accepted.includes(n))) problems.push(`rule ${name} routes ${e}, which ${row.targets.join(', ')} ${row.targets.length > 1 ? 'do' : 'does'} not accept (forensics/contract/triggers.ts)`)
      for (const e of accepted.filter((n) => !routed.includes(n))) problems.push(`rule ${name} no longer routes ${e}, which ${row.targets.join(', ')} ${row.targets.length > 1 ? 'accept' : 'accepts'} (forensics/contract/triggers.ts)`)
    }
    const rest = (p: Obj): string => canonicalJson({ ...p, detail: { ...(p.detail as Obj), eventName: null } })
    if (rest(rule.pattern) !== rest(pattern)) problems.push(`rule ${name} matches ${JSON.stringify(rule.pattern)}, the trigger contract ${JSON.stringify(pattern)}`)
  }
  return problems
}

/** Throws a ValidationError naming every problem {@link planContractProblems} finds. */
export function assertPlanContract(plan: DeploymentPlan, config: ForensicsConfig, environment: (key: FunctionKey) => Record<string, string>): void {
  const problems = planContractProblems(plan, config, environment)
  if (problems.length) {
    throw new ValidationError(`the plan ${plan.file} breaks the contract between the stacks and the functions:\n  - ${problems.join('\n  - ')}\nsynthesize again (the drill does when the sources change) or fix the stack`, { field: 'plan' })
  }
}
