/**
 * The {@link PolicySimulator} on `@cloud-copilot/iam-simulate`, an IAM evaluation engine
 * (identity and resource policies, every condition operator including `…IfExists` and
 * `Null`, same- and cross-account requests, KMS key policies and role trust policies).
 * It is a development dependency (AGPL-3.0): the rehearsal and the tests load it; nothing
 * deployed or bundled does.
 */
import { ValidationError } from '../errors.js'
import type { Decision, PolicySimulator, SimulationInput } from './simulate-permissions.js'

type IamSimulate = typeof import('@cloud-copilot/iam-simulate')

/** Loads the simulator; a clear error when the development dependency is not installed. */
export async function loadIamSimulator(): Promise<PolicySimulator> {
  let lib: IamSimulate
  try {
    lib = await import('@cloud-copilot/iam-simulate')
  } catch (cause) {
    throw new ValidationError('the permission simulation needs @cloud-copilot/iam-simulate (a development dependency): run `npm install` in the repository', { cause, field: 'simulator' })
  }
  return {
    name: '@cloud-copilot/iam-simulate',
    async evaluate(input: SimulationInput): Promise<{ decision: Decision; detail?: string }> {
      const r = input.request
      const result = await lib.runSimulation(
        {
          request: { principal: input.principal, action: r.action, resource: { resource: r.resource, accountId: r.resourceAccount }, contextVariables: r.context },
          identityPolicies: input.identityPolicies.map((p) => ({ name: p.name, policy: p.document })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(input.resourcePolicy ? { resourcePolicy: input.resourcePolicy } : {}),
        },
        {},
      )
      if (result.resultType === 'error') return { decision: 'ImplicitlyDenied', detail: `simulator refused the request: ${result.errors.message}` }
      return { decision: result.overallResult as Decision }
    },
  }
}
