/**
 * Operation-level retries, on top of the AWS SDK's own per-request retries: exponential
 * backoff with full jitter, bounded in attempts and in time. The SDK retries one request;
 * these retry one *operation* — a write and its read-back, a streamed copy whose source
 * body was cut mid-stream, a custody append, a listing page — when what failed is
 * transient.
 *
 * Transient is decided from an error's name, HTTP status or network error code, never from
 * its message text. Our own verdicts are never retried: an existing key, failed integrity,
 * bad input or a refusal stays what it is.
 */
import { ForensicsError, IntegrityError, StorageError, ValidationError } from './errors.js'

/** How long and how often to retry. */
export interface RetryPolicy {
  /** attempts in all, the first included (default 6) */
  maxAttempts: number
  /** backoff base: attempt n waits a random time in [0, min(cap, base × 2^(n-1))) (default 100 ms) */
  baseDelayMs: number
  /** the longest single wait (default 5 s) */
  maxDelayMs: number
  /** no new attempt starts after this much time since the first (default 60 s) */
  budgetMs: number
}

/** The policy used where none is given: fits inside a Lambda timeout with room for the rest. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000, budgetMs: 60_000 }

/** Counts what the retry layer did (process-wide; the fault suite reports it). */
export const retryStats = { retries: 0, exhausted: 0 }

/** Error names AWS and the SDK use for throttling and server-side trouble. */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'TransactionInProgressException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'KMSInternalException',
  'DependencyTimeoutException',
])

/** Status codes worth another try. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504])

/** Network error codes (Node and the SDK's HTTP handler) of a dropped or cut connection. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'])

/** Refusals: retrying them only repeats the refusal. */
const PERMANENT_NAMES = new Set(['AccessDenied', 'AccessDeniedException', 'Forbidden', 'EvidenceExistsError', 'PreconditionFailed', 'InvalidAccessKeyId', 'ExpiredToken', 'SignatureDoesNotMatch'])

interface ErrorShape {
  name?: unknown
  code?: unknown
  $metadata?: { httpStatusCode?: number }
  $retryable?: unknown
  cause?: unknown
}

/** Thrown when an operation still failed transiently when its attempts or time ran out. */
export class RetriesExhaustedError extends StorageError {
  /** attempts made */
  readonly attempts: number
  constructor(operation: string, attempts: number, elapsedMs: number, cause: unknown) {
    const e = cause as ErrorShape
    const why = [typeof e?.name === 'string' ? e.name : 'Error', typeof e?.code === 'string' ? e.code : '', e?.$metadata?.httpStatusCode ? `HTTP ${e.$metadata.httpStatusCode}` : ''].filter(Boolean).join(' ')
    super(`${operation} still failed after ${attempts} attempt(s) over ${(elapsedMs / 1000).toFixed(1)} s (${why}): AWS or the network is failing; try again later`, { cause })
    this.name = 'RetriesExhaustedError'
    this.attempts = attempts
  }
}

/**
 * Whether `e` is worth another attempt: a throttling or server error by name or status, a
 * dropped connection by code, or one of our StorageErrors wrapping such an error. Never
 * our own verdicts (existing evidence, integrity, validation), never a refusal, never an
 * operation that already ran out of retries.
 */
export function isTransientError(e: unknown, depth = 0): boolean {
  if (e === null || typeof e !== 'object' || depth > 5) return false
  if (e instanceof RetriesExhaustedError || e instanceof IntegrityError || e instanceof ValidationError) return false
  const err = e as ErrorShape
  const name = typeof err.name === 'string' ? err.name : ''
  if (PERMANENT_NAMES.has(name)) return false
  const status = err.$metadata?.httpStatusCode
  if (status === 403 || status === 412) return false
  if (e instanceof StorageError) return isTransientError(err.cause, depth + 1)
  if (e instanceof ForensicsError) return false
  if (TRANSIENT_NAMES.has(name)) return true
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return true
  if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true
  // the SDK's own flag for errors it would retry (e.g. a reset socket without a code)
  if (err.$retryable !== undefined && err.$retryable !== null && typeof err.$retryable === 'object') return true
  return false
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Options of one {@link withRetry} call. */
export interface RetryOptions {
  /** overrides of the default policy */
  policy?: Partial<RetryPolicy>
  /** decides what is transient (default {@link isTransientError}) */
  isTransient?: (e: unknown) => boolean
  /** called before each retry (logging, tests) */
  onRetry?: (info: { operation: string; attempt: number; error: unknown; delayMs: number }) => void
}

/**
 * Runs `fn` until it succeeds, fails permanently, or the policy runs out; then throws the
 * permanent error as it is, or a {@link RetriesExhaustedError} naming `operation`.
 * `fn` gets the attempt number (1-based) and must be safe to repeat.
 */
export async function withRetry<T>(operation: string, fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...retryOverride, ...opts.policy }
  const transient = opts.isTransient ?? isTransientError
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (e) {
      if (!transient(e)) throw e
      const elapsed = Date.now() - started
      const delayMs = Math.floor(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)))
      if (attempt >= policy.maxAttempts || elapsed + delayMs > policy.budgetMs) {
        retryStats.exhausted++
        throw new RetriesExhaustedError(operation, attempt, elapsed, e)
      }
      retryStats.retries++
      opts.onRetry?.({ operation, attempt, error: e, delayMs })
      await sleep(delayMs)
    }
  }
}

let retryOverride: Partial<RetryPolicy> = {}

/**
 * Changes the policy of every later {@link withRetry} call in this process (tests and
 * benchmarks shorten the waits; `{}` restores the defaults). Returns the previous override.
 */
export function setRetryPolicy(override: Partial<RetryPolicy>): Partial<RetryPolicy> {
  const previous = retryOverride
  retryOverride = { ...override }
  return previous
}
