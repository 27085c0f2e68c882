/**
 * The two AWS APIs the bundled functions call that the emulator cannot answer, served on
 * loopback in the wire format the SDK speaks, so the bundles run unchanged
 * (`AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CLOUDTRAIL` point at it):
 *
 * - Lambda `Invoke` with `InvocationType: Event` (REST, `POST /2015-03-31/functions/{name}/invocations`):
 *   moto never runs Lambda code, so the event is queued on the local runtime (Lambda's async
 *   contract) and answered `202` with its request id, as Lambda does. Used by the custody
 *   recorder, which chains an inspection hit into an object-versions capture, and by the
 *   deployed drill's own Lambda client (cli/commands/drill-rehearsed.ts). Any other
 *   invocation type, or a payload that is not JSON, is refused (400).
 * - CloudTrail `ListPublicKeys` (JSON 1.1): moto has no CloudTrail digests; the local trail
 *   (forensics/drill/local-trail.ts) signs its digest files and its keys are served here as
 *   CloudTrail serves its own. Every other CloudTrail call (LookupEvents) is refused as
 *   unsupported — the emulator has none either (README "Emulator gaps").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PublicKeySource } from '../cloudtrail/digest-validation.js'

/** What the endpoints answer from. */
export interface LocalServicesOptions {
  /** queues an asynchronous invocation of a function (its bare name, also when the caller named an ARN); returns its request id */
  invokeAsync: (functionName: string, payload: unknown) => string
  /** the trail keys ListPublicKeys returns */
  publicKeys?: PublicKeySource
  /** the region ListPublicKeys is asked about when the client names none (the client's region) */
  region: string
}

/** Running endpoints. */
export interface LocalServices {
  endpoint: string
  /** the variables that point an SDK process at them */
  env(): Record<string, string>
  close(): Promise<void>
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const epochSeconds = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Date.parse(iso) / 1000)

/** Starts the endpoints on a free loopback port. */
export async function startLocalServices(o: LocalServicesOptions): Promise<LocalServices> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    const invoke = INVOKE_PATH.exec(req.url?.split('?')[0] ?? '')
    if (req.method === 'POST' && invoke) {
      const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse')
      // a function ARN (with or without a qualifier) names the function
      const name = (decodeURIComponent(invoke[1]).split(':function:').pop() as string).split(':')[0] as string
      if (type !== 'Event') {
        send(res, 400, { message: `only asynchronous invocations (InvocationType Event) of ${name} run locally, got ${type}` }, { 'x-amzn-errortype': 'InvalidParameterValueException' })
        return
      }
      let payload: unknown = null
      try {
        payload = body ? (JSON.parse(body) as unknown) : null
      } catch {
        send(res, 400, { message: `the payload for ${name} is not JSON` }, { 'x-amzn-errortype': 'InvalidRequestContentException' })
        return
      }
      try {
        const requestId = o.invokeAsync(name, payload)
        send(res, 202, undefined, { 'x-amzn-requestid': requestId })
      } catch (e) {
        send(res, 404, { message: (e as Error).message }, { 'x-amzn-errortype': 'ResourceNotFoundException' })
      }
      return
    }
    const target = String(req.headers['x-amz-target'] ?? '')
    if (req.method === 'POST' && target.endsWith('.ListPublicKeys') && o.publicKeys) {
      const input = (body ? JSON.parse(body) : {}) as { StartTime?: number; EndTime?: number }
      const start = new Date((input.StartTime ?? 0) * 1000)
      const end = new Date(input.EndTime !== undefined ? input.EndTime * 1000 : Date.now())
      const keys = await o.publicKeys.listPublicKeys(o.region, start, end)
      const PublicKeyList = keys.map((k) => ({ Value: k.value.toString('base64'), Fingerprint: k.fingerprint, ValidityStartTime: epochSeconds(k.validityStart), ValidityEndTime: epochSeconds(k.validityEnd) }))
      send(res, 200, { PublicKeyList }, { 'content-type': 'application/x-amz-json-1.1' })
      return
    }
    const what = target || `${req.method} ${req.url}`
    send(res, 400, { __type: 'UnsupportedOperation', message: `${what} is not served locally (the emulator has no CloudTrail ${target.split('.').pop() ?? ''})` }, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'UnsupportedOperation' })
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, { __type: 'InternalFailure', message: (e as Error).message }, { 'x-amzn-errortype': 'InternalFailure' }))
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    endpoint,
    env: () => ({ AWS_ENDPOINT_URL_LAMBDA: endpoint, AWS_ENDPOINT_URL_CLOUDTRAIL: endpoint }),
    close: () => new Promise<void>((res) => {
      server.closeAllConnections()
      server.close(() => res())
    }),
  }
}
