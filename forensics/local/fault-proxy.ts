/**
 * A loopback HTTP proxy between the AWS SDK and the emulator that makes the emulator behave
 * like a remote, imperfect AWS: S3-like latency to first byte, latency spikes, and injected
 * faults. The benchmarks use it for latency (concurrency-bound numbers), the stress tests
 * for faults (tests/fault-suite). Deterministic for a seed.
 *
 * Fault kinds, each with its own rate (0–1), drawn once per request:
 *
 * | kind          | what the client sees                                   | did the request take effect? |
 * |---------------|--------------------------------------------------------|------------------------------|
 * | `slowDown`    | 503 SlowDown (S3) / ThrottlingException (JSON/query)   | no                           |
 * | `throttle`    | 400 ThrottlingException / 503 SlowDown for S3          | no                           |
 * | `lostResponse`| 500 InternalError                                      | **yes** (the response is lost)|
 * | `reset`       | connection reset before any response byte              | no                           |
 * | `resetMidBody`| headers and part of the body, then a reset              | yes                          |
 * | `truncated`   | full headers, half the body, then the socket closes     | yes                          |
 *
 * Point clients at `proxy.endpoint` (e.g. `AWS_ENDPOINT_URL`) instead of the emulator's.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** The injectable fault kinds. */
export const FAULT_KINDS = ['slowDown', 'throttle', 'lostResponse', 'reset', 'resetMidBody', 'truncated'] as const

/** One of {@link FAULT_KINDS}. */
export type FaultKind = (typeof FAULT_KINDS)[number]

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** where requests go, e.g. the emulator's endpoint `http://127.0.0.1:PORT` */
  target: string
  /** added before forwarding each request (time to first byte), ms; default 0 */
  latencyMs?: number
  /** probability of a latency spike per request, and its length in ms (default 0 / 1000) */
  spikeRate?: number
  spikeMs?: number
  /** per-kind fault rates (probabilities per request) */
  faults?: Partial<Record<FaultKind, number>>
  /** only requests for which this returns true can fault (default: all) */
  eligible?: (req: { method: string; url: string; headers: IncomingMessage['headers'] }) => boolean
  /** PRNG seed (default 1) */
  seed?: number
}

/** What the proxy did, for reports. */
export interface FaultProxyStats {
  requests: number
  /** requests by operation (see {@link operationOf}), e.g. `PutObject`, `ListObjectsV2` */
  byOperation: Record<string, number>
  forwarded: number
  spikes: number
  faults: Record<FaultKind, number>
}

/** A running proxy. */
export interface FaultProxy {
  readonly endpoint: string
  readonly stats: FaultProxyStats
  /** changes rates while running (e.g. no faults during set-up) */
  configure(opts: Partial<Pick<FaultProxyOptions, 'latencyMs' | 'spikeRate' | 'spikeMs' | 'faults' | 'eligible'>>): void
  close(): Promise<void>
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Protocol = 's3' | 'json' | 'query'

/** The AWS protocol of a request: JSON (x-amz-target), query (form Action=…) or S3 REST. */
function protocolOf(req: IncomingMessage): Protocol {
  if (req.headers['x-amz-target']) return 'json'
  if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return 'query'
  return 's3'
}

/** S3 bucket sub-resources that name a read (GET) or write (PUT) operation. */
const S3_SUBRESOURCES: Record<string, string> = {
  versioning: 'BucketVersioning',
  'object-lock': 'ObjectLockConfiguration',
  policy: 'BucketPolicy',
  policyStatus: 'BucketPolicyStatus',
  acl: 'BucketAcl',
  publicAccessBlock: 'PublicAccessBlock',
  ownershipControls: 'BucketOwnershipControls',
  encryption: 'BucketEncryption',
  logging: 'BucketLogging',
  lifecycle: 'BucketLifecycleConfiguration',
  replication: 'BucketReplication',
  cors: 'BucketCors',
  website: 'BucketWebsite',
  tagging: 'BucketTagging',
  notification: 'BucketNotificationConfiguration',
  location: 'BucketLocation',
  retention: 'ObjectRetention',
  'legal-hold': 'ObjectLegalHold',
}

/**
 * The AWS operation of a request, for counts: the `x-amz-target` of JSON protocols, the
 * SDK's `x-id` query parameter, or an S3 REST request's method and sub-resource (a path
 * with one segment is a bucket, more is an object). Query-protocol requests (the Action is
 * in the body) are counted as `query`.
 */
export function operationOf(req: { method?: string; url?: string; headers: IncomingMessage['headers'] }): string {
  const target = req.headers['x-amz-target']
  if (target) return String(target).split('.').pop() ?? String(target)
  const url = new URL(req.url ?? '/', 'http://x')
  const xId = url.searchParams.get('x-id')
  if (xId) return xId
  const method = req.method ?? 'GET'
  if (method === 'POST' && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return 'query'
  const q = url.searchParams
  if (q.has('list-type')) return 'ListObjectsV2'
  if (q.has('versions')) return 'ListObjectVersions'
  if (q.has('uploads')) return method === 'POST' ? 'CreateMultipartUpload' : 'ListMultipartUploads'
  if (q.has('uploadId')) return method === 'PUT' ? 'UploadPart' : method === 'POST' ? 'CompleteMultipartUpload' : method === 'DELETE' ? 'AbortMultipartUpload' : 'ListParts'
  for (const [sub, name] of Object.entries(S3_SUBRESOURCES)) {
    if (q.has(sub)) return `${method === 'GET' ? 'Get' : method === 'PUT' ? 'Put' : method === 'DELETE' ? 'Delete' : method}${name}`
  }
  const onObject = url.pathname.split('/').filter(Boolean).length > 1
  const verb = { GET: 'Get', PUT: 'Put', HEAD: 'Head', DELETE: 'Delete' }[method] ?? method
  if (!onObject) return verb === 'Get' ? 'ListObjects' : `${verb}Bucket`
  return `${verb}Object`
}

/** Writes an AWS-shaped error response for the protocol. */
function sendError(res: ServerResponse, protocol: Protocol, status: number, code: string, message: string): void {
  const requestId = `fault-${Math.random().toString(16).slice(2, 10)}`
  if (protocol === 'json') {
    const body = JSON.stringify({ __type: code, message })
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  const body = protocol === 'query'
    ? `<?xml version="1.0"?><ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
    : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** Drops the client connection with a TCP reset. */
function resetSocket(socket: Socket): void {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Starts the proxy on a free loopback port. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target)
  const settings = { latencyMs: 0, spikeRate: 0, spikeMs: 1000, faults: {} as Partial<Record<FaultKind, number>>, eligible: opts.eligible, ...opts }
  const random = prng(opts.seed ?? 1)
  const stats: FaultProxyStats = { requests: 0, byOperation: {}, forwarded: 0, spikes: 0, faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number> }
  const sockets = new Set<Socket>()

  /** Draws at most one fault for a request, by the configured rates. */
  const draw = (req: IncomingMessage): FaultKind | undefined => {
    if (settings.eligible && !settings.eligible({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers })) return undefined
    let x = random()
    for (const kind of FAULT_KINDS) {
      const rate = settings.faults[kind] ?? 0
      if (x < rate) return kind
      x -= rate
    }
    return undefined
  }

  /** Forwards the request; resolves with the upstream response (body not yet read). */
  const forward = (req: IncomingMessage): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      stats.forwarded++
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, resolve)
      up.on('error', reject)
      req.pipe(up)
    })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++
    const operation = operationOf(req)
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1
    const fault = draw(req)
    const protocol = protocolOf(req)
    let delay = settings.latencyMs
    if (settings.spikeRate > 0 && random() < settings.spikeRate) {
      stats.spikes++
      delay += settings.spikeMs
    }
    if (delay > 0) await sleep(delay)
    if (fault) stats.faults[fault]++
    if (fault === 'slowDown' || fault === 'throttle' || fault === 'reset') {
      // refused before the request reaches the emulator: drain what the client sends
      req.resume()
      await new Promise((r) => (req.complete ? r(undefined) : req.once('end', r)))
      if (fault === 'reset') return resetSocket(req.socket)
      if (fault === 'slowDown') return sendError(res, protocol, 503, protocol === 's3' ? 'SlowDown' : 'ThrottlingException', 'Please reduce your request rate. (injected)')
      return protocol === 's3'
        ? sendError(res, protocol, 503, 'SlowDown', 'Please reduce your request rate. (injected throttle)')
        : sendError(res, protocol, 400, protocol === 'query' ? 'Throttling' : 'ThrottlingException', 'Rate exceeded (injected)')
    }
    let upstream: IncomingMessage
    try {
      upstream = await forward(req)
    } catch {
      return resetSocket(req.socket)
    }
    if (fault === 'lostResponse') {
      // the emulator did the work; the client never learns it
      upstream.resume()
      await new Promise((r) => upstream.once('end', r))
      return sendError(res, protocol, 500, protocol === 's3' ? 'InternalError' : 'InternalFailure', 'We encountered an internal error. Please try again. (injected after the request took effect)')
    }
    if (fault === 'resetMidBody' || fault === 'truncated') {
      const chunks: Buffer[] = []
      for await (const c of upstream) chunks.push(c as Buffer)
      const body = Buffer.concat(chunks)
      const headers = { ...upstream.headers, 'content-length': String(body.length) }
      delete headers['transfer-encoding']
      res.writeHead(upstream.statusCode ?? 502, headers)
      // flush the head and half the body, then cut the connection
      res.write(body.subarray(0, Math.floor(body.length / 2)))
      await sleep(5)
      if (fault === 'truncated') return void req.socket.end()
      return resetSocket(req.socket)
    }
    res.writeHead(upstream.statusCode ?? 502, upstream.headers)
    upstream.pipe(res)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => resetSocket(req.socket))
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    configure(next) {
      Object.assign(settings, next)
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
