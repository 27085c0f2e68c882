/**
 * Records every AWS API call the toolkit's code makes, for the permission simulation
 * (forensics/permissions): which client and command, with what input, as which principal,
 * from which function, and whether AWS answered or refused. The recording hooks the SDK's
 * own logger middleware (every v3 client runs it once per command, after retries, with the
 * command name and the input), so no handler changes for it and nothing is recorded unless
 * recording is on:
 *
 * - in process: {@link recordAwsCalls} runs a function with a sink; calls made inside it
 *   (async context) go to the sink, attributed to the function named there;
 * - in a child process (a bundled function run from its asset): `FORENSICS_AWS_CALL_LOG`
 *   names a JSON-lines file each call is appended to, attributed to `AWS_LAMBDA_FUNCTION_NAME`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { appendFileSync } from 'node:fs'

/** One AWS API call. */
export interface RecordedCall {
  /** SDK client name, e.g. `S3Client` */
  client: string
  /** SDK command name, e.g. `PutObjectCommand` */
  command: string
  /** the command input, JSON-safe (bodies and binary values left out) */
  input: Record<string, unknown>
  /** identifying fields of the answer (e.g. the key ARN KMS resolved an alias to) */
  output: Record<string, unknown>
  /** the function that made the call */
  function?: string
  /** the role the client acted as, when it was not the function's own (an assumed member role) */
  principal?: string
  outcome: 'ok' | 'error'
  /** the error's name when AWS refused or failed the call */
  error?: string
}

/** Receives recorded calls. */
export type CallSink = (call: RecordedCall) => void

interface Recording {
  sink: CallSink
  function?: string
}

const recording = new AsyncLocalStorage<Recording>()
let inProcess = false

/**
 * Runs `fn` with every AWS call it makes (also in callbacks and timers it starts) handed to
 * `sink`, attributed to `functionName`. Clients must be created with settings from
 * `sdkSettingsFromEnv` after the first call of this function (they then carry the recorder).
 */
export function recordAwsCalls<T>(sink: CallSink, functionName: string | undefined, fn: () => T): T {
  inProcess = true
  return recording.run({ sink, ...(functionName ? { function: functionName } : {}) }, fn)
}

/** True when clients created now should carry the recorder. */
export function callRecordingEnabled(env: NodeJS.ProcessEnv): boolean {
  return inProcess || Boolean(env.FORENSICS_AWS_CALL_LOG)
}

// Keys whose values are payloads, not coordinates: never recorded.
const PAYLOAD_KEYS = new Set(['Body', 'Payload', 'Message', 'MessageBody', 'Policy', 'Signature', 'PublicKey', 'Plaintext', 'CiphertextBlob', 'Detail'])

function jsonSafe(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return value
  if (typeof value === 'string') return value.length > 512 ? `${value.slice(0, 512)}…` : value
  if (value instanceof Date) return value.toISOString()
  if (depth > 4 || typeof value !== 'object' || ArrayBuffer.isView(value)) return undefined
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => jsonSafe(v, depth + 1))
  // streams and other class instances carry no coordinates
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (PAYLOAD_KEYS.has(k)) continue
    const safe = jsonSafe(v, depth + 1)
    if (safe !== undefined) out[k] = safe
  }
  return out
}

const OUTPUT_KEYS = ['KeyId', 'QueueUrl', 'TopicArn', 'SubscriptionArn', 'FunctionArn'] as const

interface LogEntry {
  clientName?: string
  commandName?: string
  input?: unknown
  output?: unknown
  error?: { name?: string }
}

/** An SDK logger (`client config.logger`) that records commands; `principal` names an assumed role. */
export function callRecorderLogger(env: NodeJS.ProcessEnv, principal?: string): {
  debug: () => void
  info: (entry: unknown) => void
  warn: () => void
  error: (entry: unknown) => void
} {
  const file = env.FORENSICS_AWS_CALL_LOG
  const record = (entry: unknown, outcome: RecordedCall['outcome']): void => {
    const e = entry as LogEntry
    if (typeof e !== 'object' || e === null || !e.commandName || !e.clientName) return
    const active = recording.getStore()
    if (!active && !file) return
    const output = (jsonSafe(e.output) ?? {}) as Record<string, unknown>
    const call: RecordedCall = {
      client: e.clientName,
      command: e.commandName,
      input: (jsonSafe(e.input) ?? {}) as Record<string, unknown>,
      output: Object.fromEntries(OUTPUT_KEYS.filter((k) => typeof output[k] === 'string').map((k) => [k, output[k]])),
      outcome,
      ...(outcome === 'error' && e.error?.name ? { error: e.error.name } : {}),
      ...(principal ? { principal } : {}),
    }
    if (active) {
      active.sink({ ...call, ...(active.function ? { function: active.function } : {}) })
    } else if (file) {
      const fn = env.AWS_LAMBDA_FUNCTION_NAME
      appendFileSync(file, JSON.stringify({ ...call, ...(fn ? { function: fn } : {}) }) + '\n')
    }
  }
  return {
    debug: () => undefined,
    info: (entry) => record(entry, 'ok'),
    warn: () => undefined,
    error: (entry) => record(entry, 'error'),
  }
}
