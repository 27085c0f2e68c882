/**
 * Lambda's asynchronous invocation contract, in process. The emulator never runs Lambda
 * code, so locally the handlers run here, with what AWS does around an `InvocationType:
 * Event` invoke reproduced from the same routing table the stacks synthesize
 * (forensics/routing.ts):
 *
 * - an internal queue: `invokeAsync` returns at once with a request id;
 * - up to `maximumRetryAttempts` retries (0–2) after a failed attempt, with back-off
 *   (AWS waits about 1 and 2 minutes; locally the delays are configurable);
 * - `maximumEventAgeInSeconds`: an event still queued past that age is not run again and
 *   goes to OnFailure with condition `EventAgeExceeded`;
 * - then the OnSuccess / OnFailure destination gets AWS's destination record: a Lambda
 *   destination registered here is invoked asynchronously (so it has its own retries and
 *   destinations), a queue / topic / bus gets the record through a {@link DestinationSender}
 *   on the emulator.
 */
import { randomUUID } from 'node:crypto'
import type { AsyncInvokeRoute, FunctionKey } from '../routing.js'
import { ValidationError } from '../errors.js'
import { errorPayload, functionArn, type DestinationCondition, type DestinationRecord } from './destination-record.js'
import type { Destination, DestinationSender } from './destination-sender.js'

/** What a handler is told about its invocation (a subset of Lambda's context). */
export interface InvocationContext {
  awsRequestId: string
  functionName: string
  invokedFunctionArn: string
  /** 1 for the first attempt, 2 and 3 for retries */
  attempt: number
}

/** A handler as Lambda calls it. */
export type AsyncHandler = (event: unknown, context: InvocationContext) => Promise<unknown>

/** How an invocation ended and where its record went. */
export interface InvocationOutcome {
  key: FunctionKey
  functionName: string
  requestId: string
  condition: DestinationCondition
  attempts: number
  record: DestinationRecord
  destination: Destination
  /** set when the record could not be delivered */
  deliveryError?: string
}

/** Options of {@link LocalRuntime}. */
export interface LocalRuntimeOptions {
  routes: readonly AsyncInvokeRoute[]
  handlers: Partial<Record<FunctionKey, AsyncHandler>>
  sender: DestinationSender
  region: string
  accountId: string
  /** wait before retry 1 and retry 2, in ms (default 1000 and 2000; AWS: ~60 s and ~120 s) */
  retryDelaysMs?: readonly number[]
  /** handler invocations running at once (default 4) */
  concurrency?: number
  /** clock in ms (tests) */
  now?: () => number
  /** progress lines */
  log?: (line: string) => void
}

interface QueuedEvent {
  route: AsyncInvokeRoute
  payload: unknown
  requestId: string
  enqueuedAt: number
  attempts: number
  resolve: (o: InvocationOutcome) => void
}

/** Runs handlers with Lambda's asynchronous contract; see the module comment. */
export class LocalRuntime {
  /** every finished invocation, in the order they finished */
  readonly outcomes: InvocationOutcome[] = []
  readonly #routes: Map<string, AsyncInvokeRoute>
  readonly #opts: LocalRuntimeOptions
  readonly #now: () => number
  readonly #queue: QueuedEvent[] = []
  #running = 0
  #pending = 0
  readonly #timers = new Set<NodeJS.Timeout>()
  #idleWaiters: (() => void)[] = []

  constructor(opts: LocalRuntimeOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
    this.#routes = new Map()
    for (const r of opts.routes) {
      this.#routes.set(r.key, r)
      this.#routes.set(r.functionName, r)
    }
  }

  /** The route of a function key or name. */
  route(target: FunctionKey | string): AsyncInvokeRoute {
    const route = this.#routes.get(target)
    if (!route) throw new ValidationError(`no function ${JSON.stringify(target)} in the routing table (known: ${[...new Set([...this.#routes.values()].map((r) => r.functionName))].join(', ')})`, { field: 'functionName' })
    return route
  }

  /**
   * Queues an asynchronous invocation (`InvocationType: Event`) and returns at once.
   * `done` resolves once the destination record has been delivered. `enqueuedAt` backdates
   * the event (to exercise the maximum event age).
   */
  invokeAsync(target: FunctionKey | string, payload: unknown, opts: { enqueuedAt?: number } = {}): { requestId: string; done: Promise<InvocationOutcome> } {
    const route = this.route(target)
    const requestId = randomUUID()
    // Lambda serializes the event: the handler sees a JSON copy, never the caller's object
    const copy = payload === undefined ? null : JSON.parse(JSON.stringify(payload))
    this.#pending++
    const done = new Promise<InvocationOutcome>((resolve) => {
      this.#queue.push({ route, payload: copy, requestId, enqueuedAt: opts.enqueuedAt ?? this.#now(), attempts: 0, resolve })
    })
    this.#pump()
    return { requestId, done }
  }

  /** Resolves when nothing is queued, running, waiting for a retry or being delivered. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve()
    return new Promise((res) => this.#idleWaiters.push(res))
  }

  /** Cancels pending retries (their events are dropped without a record). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  #pump(): void {
    const limit = this.#opts.concurrency ?? 4
    while (this.#running < limit && this.#queue.length > 0) {
      const item = this.#queue.shift() as QueuedEvent
      this.#running++
      void this.#attempt(item).finally(() => {
        this.#running--
        this.#pump()
      })
    }
  }

  async #attempt(item: QueuedEvent): Promise<void> {
    const { route } = item
    const arn = functionArn(this.#opts.region, this.#opts.accountId, route.functionName)
    if (this.#now() - item.enqueuedAt > route.maximumEventAgeInSeconds * 1000) {
      this.#log(`${route.functionName} ${item.requestId}: event older than ${route.maximumEventAgeInSeconds} s, dropped to OnFailure`)
      return this.#finish(item, {
        version: '1.0',
        timestamp: new Date(this.#now()).toISOString(),
        requestContext: { requestId: item.requestId, functionArn: arn, condition: 'EventAgeExceeded', approximateInvokeCount: item.attempts },
        requestPayload: item.payload,
      })
    }
    item.attempts++
    const handler = this.#opts.handlers[route.key]
    let result: unknown
    let failure: unknown
    try {
      if (!handler) throw new ValidationError(`function ${route.functionName} has no handler in the local runtime`)
      result = await handler(JSON.parse(JSON.stringify(item.payload)), { awsRequestId: item.requestId, functionName: route.functionName, invokedFunctionArn: arn, attempt: item.attempts })
    } catch (e) {
      failure = e ?? new Error('handler threw undefined')
    }
    if (failure === undefined) {
      return this.#finish(item, {
        version: '1.0',
        timestamp: new Date(this.#now()).toISOString(),
        requestContext: { requestId: item.requestId, functionArn: arn, condition: 'Success', approximateInvokeCount: item.attempts },
        requestPayload: item.payload,
        responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        responsePayload: result === undefined ? null : JSON.parse(JSON.stringify(result)),
      })
    }
    const err = errorPayload(failure)
    if (item.attempts <= route.maximumRetryAttempts) {
      const delays = this.#opts.retryDelaysMs ?? [1000, 2000]
      const wait = delays[Math.min(item.attempts - 1, delays.length - 1)] ?? 0
      this.#log(`${route.functionName} ${item.requestId}: attempt ${item.attempts} failed (${err.errorType}: ${err.errorMessage}); retrying in ${wait} ms`)
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        this.#queue.push(item)
        this.#pump()
      }, wait)
      this.#timers.add(timer)
      return
    }
    this.#log(`${route.functionName} ${item.requestId}: failed ${item.attempts} time(s) (${err.errorType}: ${err.errorMessage}); retries exhausted`)
    return this.#finish(item, {
      version: '1.0',
      timestamp: new Date(this.#now()).toISOString(),
      requestContext: { requestId: item.requestId, functionArn: arn, condition: 'RetriesExhausted', approximateInvokeCount: item.attempts },
      requestPayload: item.payload,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: err,
    })
  }

  async #finish(item: QueuedEvent, record: DestinationRecord): Promise<void> {
    const { route } = item
    const destination = record.requestContext.condition === 'Success' ? route.onSuccess : route.onFailure
    const outcome: InvocationOutcome = { key: route.key, functionName: route.functionName, requestId: item.requestId, condition: record.requestContext.condition, attempts: item.attempts, record, destination }
    try {
      if (destination.type === 'lambda') {
        // a destination function is itself invoked asynchronously with the record as event
        this.invokeAsync(destination.functionName, record)
      } else {
        await this.#opts.sender.send(destination, record)
      }
    } catch (e) {
      outcome.deliveryError = (e as Error).message
      this.#log(`${route.functionName} ${item.requestId}: destination record not delivered: ${outcome.deliveryError}`)
    }
    this.outcomes.push(outcome)
    item.resolve(outcome)
    if (--this.#pending === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  #log(line: string): void {
    this.#opts.log?.(`[runtime] ${line}`)
  }
}
