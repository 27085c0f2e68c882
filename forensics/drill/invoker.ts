/**
 * How the drill triggers functions: always asynchronously (`InvocationType: Event`), the
 * path production triggers take. Deployed, through the Lambda API; locally, through the
 * in-process runtime that reproduces Lambda's async contract.
 */
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda'
import { StorageError } from '../errors.js'
import type { FunctionKey } from '../routing.js'
import type { LocalRuntime } from '../runtime/local-runtime.js'

/** A queued invocation. */
export interface QueuedInvocation {
  requestId: string
  /** when the invoker can tell: resolves true when the function succeeded, false when it ended on OnFailure */
  settled?: Promise<boolean>
}

/** Port: queue an asynchronous invocation. */
export interface AsyncInvoker {
  invokeAsync(key: FunctionKey, payload: unknown): Promise<QueuedInvocation>
}

/** {@link AsyncInvoker} over the in-process {@link LocalRuntime}. */
export function runtimeInvoker(runtime: LocalRuntime): AsyncInvoker {
  return {
    invokeAsync: async (key, payload) => {
      const { requestId, done } = runtime.invokeAsync(key, payload)
      return { requestId, settled: done.then((o) => o.condition === 'Success') }
    },
  }
}

/** {@link AsyncInvoker} over the Lambda API: `functionNames` maps keys to deployed names. */
export class LambdaAsyncInvoker implements AsyncInvoker {
  readonly #lambda: LambdaClient
  readonly #names: Record<FunctionKey, string>

  constructor(lambda: LambdaClient, functionNames: Record<FunctionKey, string>) {
    this.#lambda = lambda
    this.#names = functionNames
  }

  async invokeAsync(key: FunctionKey, payload: unknown): Promise<QueuedInvocation> {
    const name = this.#names[key]
    try {
      const out = await this.#lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }))
      if (out.StatusCode !== 202) throw new Error(`status ${out.StatusCode}, expected 202`)
      return { requestId: out.$metadata.requestId ?? '' }
    } catch (e) {
      throw new StorageError(`could not invoke ${name} asynchronously: ${(e as Error).message}; check it is deployed and this principal may lambda:InvokeFunction`, { cause: e })
    }
  }
}
