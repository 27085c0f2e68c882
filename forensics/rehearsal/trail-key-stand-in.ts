/**
 * A stand-in for CloudTrail's `ListPublicKeys`, which the emulator lacks (README "Emulator
 * gaps"): a loopback HTTP server answering the CloudTrail JSON protocol (x-amz-json-1.1) with
 * the local trail's key, as AWS documents the answer (`PublicKeyList[]`: base64 DER `Value`,
 * validity in epoch seconds, `Fingerprint`). A deployed cloudtrail-slice function run in the
 * rehearsal reaches it through `AWS_ENDPOINT_URL_CLOUDTRAIL`; every other operation is refused
 * (`UnknownOperationException`), so nothing else is stood in for unnoticed.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LocalTrailKey } from '../drill/local-trail.js'

/** The running stand-in. */
export interface TrailKeyStandIn {
  endpoint: string
  /** operations asked for, in order */
  requests: string[]
  close(): Promise<void>
}

/** Starts the stand-in on a free loopback port. */
export async function startTrailKeyStandIn(key: LocalTrailKey): Promise<TrailKeyStandIn> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      void (async () => {
        const target = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? ''
        requests.push(target)
        const send = (status: number, doc: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `stand-in-${requests.length}` })
          res.end(JSON.stringify(doc))
        }
        if (target !== 'ListPublicKeys') return send(400, { __type: 'UnknownOperationException', message: `the trail-key stand-in answers ListPublicKeys only, not ${target}` })
        const keys = await key.publicKeys.listPublicKeys('', new Date(0), new Date())
        const end = Date.now() / 1000 + 86_400
        send(200, {
          PublicKeyList: keys.map((k) => ({
            Value: k.value.toString('base64'),
            ValidityStartTime: k.validityStart ? Date.parse(k.validityStart) / 1000 : 0,
            ValidityEndTime: k.validityEnd ? Date.parse(k.validityEnd) / 1000 : end,
            Fingerprint: k.fingerprint,
          })),
        })
      })()
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((res) => server.close(() => res())),
  }
}
