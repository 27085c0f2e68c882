/**
 * The containment function's row of the routing table: invoked asynchronously by the custody
 * recorder's OnSuccess destination (when `containment.enabled`), its own OnSuccess to the
 * SIEM bus (the response carries the OCSF finding: containment planned / applied / refused),
 * OnFailure to the dead-letter queue (whose alarm alerts). Kept beside the routing table (its
 * key is not a capture function's); the `sensitive-access` row of the trigger contract
 * (forensics/contract/triggers.ts) starts the captures it follows.
 */
import type { ForensicsConfig } from '../config.js'
import { resourceNames, type AsyncInvokeRoute } from '../routing.js'

/** The containment function's key (file `collectors/containment.ts`). */
export const CONTAINMENT_KEY = 'containment'

/** The function's name. */
export const containmentFunctionName = (config: ForensicsConfig): string => `${config.name}-${CONTAINMENT_KEY}`

/** The row, shaped like {@link AsyncInvokeRoute} (its key is not a capture function's). */
export interface ContainmentRoute extends Omit<AsyncInvokeRoute, 'key'> {
  key: typeof CONTAINMENT_KEY
}

/** The containment function's routing row. */
export function containmentRoute(config: ForensicsConfig): ContainmentRoute {
  const names = resourceNames(config)
  return {
    key: CONTAINMENT_KEY,
    functionName: containmentFunctionName(config),
    // a containment that failed must not be applied twice by blind retries: its actions are
    // recorded, and the dead-letter queue's alarm calls a person
    maximumRetryAttempts: 0,
    maximumEventAgeInSeconds: config.capture.maximumEventAgeInSeconds,
    onSuccess: { type: 'eventbridge', eventBusName: names.siemEventBus },
    onFailure: { type: 'sqs', queueName: names.deadLetterQueue },
    // its own captures (plans, states) and their custody entries
    evidenceWritePrefixes: ['cases/*/captures/containment-*', 'cases/*/custody/*'],
  }
}
