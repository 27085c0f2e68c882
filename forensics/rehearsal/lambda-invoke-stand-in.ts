/**
 * A stand-in for Lambda's asynchronous `Invoke`, which the emulator answers without running
 * anything (README "Emulator gaps"): a loopback server for the REST call
 * `POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type: Event` that
 * hands the event to the local runtime (Lambda's async contract, as deployed) and answers
 * `202` with the request id, as Lambda does. The deployed drill's own Lambda client reaches it
 * through `AWS_ENDPOINT_URL_LAMBDA`, so its invocations are real SDK calls, recorded and
 * simulated against its role like every other call. Any other request is refused.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Queues an asynchronous invocation (the local runtime's `invokeAsync`); returns its request id. */
export type AsyncInvoke = (functionName: string, payload: unknown) => string

/** The running stand-in. */
export interface LambdaInvokeStandIn {
  endpoint: string
  /** function names invoked, in order */
  invoked: string[]
  close(): Promise<void>
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/

/** Starts the stand-in on a free loopback port; `invoke` is asked for the target function (bare name). */
export async function startLambdaInvokeStandIn(invoke: AsyncInvoke): Promise<LambdaInvokeStandIn> {
  const invoked: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const refuse = (status: number, type: string, message: string): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type })
        res.end(JSON.stringify({ message }))
      }
      const m = req.method === 'POST' ? INVOKE_PATH.exec((req.url ?? '').split('?')[0] as string) : null
      if (!m) return refuse(404, 'UnknownOperationException', `the Lambda stand-in answers asynchronous Invoke only, not ${req.method} ${req.url}`)
      const name = (decodeURIComponent(m[1] as string).split(':function:').pop() as string).split(':')[0] as string
      const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse')
      if (type !== 'Event') return refuse(400, 'InvalidParameterValueException', `only asynchronous invocations (InvocationType Event) of ${name} run in the rehearsal, got ${type}`)
      let payload: unknown
      try {
        payload = body ? (JSON.parse(body) as unknown) : {}
      } catch {
        return refuse(400, 'InvalidRequestContentException', `the payload for ${name} is not JSON`)
      }
      let requestId: string
      try {
        requestId = invoke(name, payload)
      } catch (e) {
        return refuse(404, 'ResourceNotFoundException', (e as Error).message)
      }
      invoked.push(name)
      res.writeHead(202, { 'x-amzn-requestid': requestId })
      res.end()
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const { port } = server.address() as AddressInfo
  return { endpoint: `http://127.0.0.1:${port}`, invoked, close: () => new Promise<void>((res) => server.close(() => res())) }
}
