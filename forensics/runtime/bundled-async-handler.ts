/**
 * A function of a deployment as the local runtime calls it: each invocation runs the
 * function's bundled asset in its own process with the deployment's environment
 * ({@link DrillDeployment.run}), and a failure comes back as the error the handler threw
 * (its name is the destination record's `errorType`, as in Lambda).
 */
import type { FunctionKey } from '../routing.js'
import type { DrillDeployment } from './drill-deployment.js'
import type { AsyncHandler } from './local-runtime.js'

/** What a bundled handler threw (or `Runtime.ExitError` when its process died), named as the handler named it. */
export class BundledFunctionError extends Error {
  readonly functionName: string
  /** the `field` of a ValidationError the handler threw */
  readonly field?: string

  constructor(functionName: string, error: string, field?: string) {
    const m = /^([A-Za-z][\w.]*): ([\s\S]*)$/.exec(error)
    super(m ? m[2] : error)
    this.name = m ? m[1] : 'Runtime.ExitError'
    this.functionName = functionName
    if (field !== undefined) this.field = field
  }
}

/** The runtime handler of `key`: its bundle, run by `deployment`. */
export function bundledAsyncHandler(deployment: Pick<DrillDeployment, 'run'>, key: FunctionKey): AsyncHandler {
  return async (event, context) => {
    const out = await deployment.run(key, event, context.awsRequestId)
    if (!out.ok) throw new BundledFunctionError(context.functionName, out.error ?? 'the handler failed without an error', out.field)
    return out.result
  }
}
