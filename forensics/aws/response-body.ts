/**
 * S3 response bodies that are read later than they arrive.
 *
 * A connection cut after the response headers makes the SDK's body stream emit an error. If
 * nothing listens for errors yet (the caller is still awaiting other I/O before it reads: the
 * evidence store checks the bucket's lock first), Node 22 (the Lambda runtime) throws that
 * error as an uncaught exception, which ends the whole invocation, although the read would
 * have been retried. Node 20 let it pass unheard. Every body the toolkit takes from a
 * GetObject goes through {@link holdBody} the moment the SDK hands it over: the error stays
 * on the stream, and the reader's first read throws it (a transient ECONNRESET, retried like
 * any body cut mid-stream).
 */
const unheard = (): void => undefined

/** Keeps `body`'s errors for its reader (see above); returns it unchanged. */
export function holdBody<T>(body: T): T {
  // the listener stays for the stream's life: an error after its reader stopped listening
  // (a consumer that gave up on the body) is not a crash either
  const stream = body as { on?: (event: 'error', listener: () => void) => unknown } | undefined
  if (typeof stream?.on === 'function') stream.on('error', unheard)
  return body
}
