/**
 * The EventBridge rules that start captures, rendered from the trigger contract
 * (forensics/contract/triggers.ts): one rule per row on the intake bus, one target per
 * function the row names. EventBridge invokes Lambda asynchronously, so each function's
 * routing-table row (retries, destinations) applies.
 */
import { CloudwatchEventRule, CloudwatchEventTarget, Construct, LambdaPermission } from './cdktf.js'
import { triggerRules, type TriggerScope } from '../forensics/contract/triggers.js'
import type { FunctionKey } from '../forensics/routing.js'

export { S3_ACCESS_CHANGE_EVENTS, triggerPatterns, triggerScope } from '../forensics/contract/triggers.js'

/** A function EventBridge may invoke. */
export interface TriggerTarget {
  functionName: string
  arn: string
}

/** Options for {@link Triggers}. */
export interface TriggersOptions {
  name: string
  /** the watched buckets, and the sensitive ones when containment is on (`triggerScope(config)`) */
  scope: TriggerScope
  /** every function a row targets */
  targets: Partial<Record<FunctionKey, TriggerTarget>>
  /** Where EventBridge puts events it could not deliver. */
  deadLetterQueueArn: string
  /** The bus the rules match on (the intake bus every account and region forwards to). */
  eventBusName: string
}

/** One rule per row of the trigger table (one per sensitive bucket for its `sensitive-access` row), with its targets. */
export class Triggers extends Construct {
  /** by rule id (`s3-access-changes`, `guardduty-s3`, `sensitive-access-0`, …) */
  readonly rules: Record<string, CloudwatchEventRule>
  readonly #eventBusName: string

  constructor(scope: Construct, id: string, o: TriggersOptions) {
    super(scope, id)
    this.#eventBusName = o.eventBusName
    this.rules = {}
    for (const { id: ruleId, row, pattern } of triggerRules(o.scope)) {
      const rule = new CloudwatchEventRule(this, ruleId, {
        name: `${o.name}-${ruleId}`,
        description: `${row.description} → ${row.targets.join(', ')}`,
        eventBusName: o.eventBusName,
        eventPattern: JSON.stringify(pattern),
      })
      this.rules[ruleId] = rule
      for (const key of row.targets) {
        const fn = o.targets[key]
        if (!fn) throw new Error(`trigger ${row.id} targets ${key}, which the stack did not pass to Triggers`)
        this.target(`${ruleId}-${key}`, rule, fn, o.deadLetterQueueArn)
      }
    }
  }

  private target(id: string, rule: CloudwatchEventRule, fn: TriggerTarget, dlq: string): void {
    new CloudwatchEventTarget(this, id, {
      rule: rule.name,
      eventBusName: this.#eventBusName,
      targetId: id,
      arn: fn.arn,
      retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: dlq },
    })
    new LambdaPermission(this, `${id}-permission`, {
      statementId: `eventbridge-${id}`,
      action: 'lambda:InvokeFunction',
      functionName: fn.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: rule.arn,
    })
  }
}
