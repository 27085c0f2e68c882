/**
 * The loopback stand-ins for the two APIs the emulator cannot answer (forensics/runtime/local-services.ts),
 * called through the real SDK clients as the bundled functions call them.
 */
import t from 'tap'
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail'
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { startLocalServices } from '../forensics/runtime/local-services.js'
import { createLocalTrailKey } from '../forensics/drill/local-trail.js'
import { cloudTrailPublicKeys } from '../forensics/cloudtrail/lookup-source.js'
import { LambdaAsyncInvoker } from '../forensics/drill/invoker.js'
import { FUNCTION_KEYS, type FunctionKey } from '../forensics/routing.js'

t.test('Lambda async Invoke is queued on the runtime; ListPublicKeys serves the local trail key; the rest is refused', async (t) => {
  const trail = createLocalTrailKey(new Date('2026-11-30T00:00:00Z'))
  const invoked: [string, unknown][] = []
  const services = await startLocalServices({
    invokeAsync: (name, payload) => {
      if (name === 'unknown') throw new Error('no function "unknown" in the routing table')
      invoked.push([name, payload])
      return `req-${invoked.length}`
    },
    publicKeys: trail.publicKeys,
    region: 'eu-west-1',
  })
  t.teardown(() => services.close())
  const env = services.env()
  t.same(env, { AWS_ENDPOINT_URL_LAMBDA: services.endpoint, AWS_ENDPOINT_URL_CLOUDTRAIL: services.endpoint })
  const settings = { region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }
  const lambda = new LambdaClient({ ...settings, endpoint: env.AWS_ENDPOINT_URL_LAMBDA })
  const cloudtrail = new CloudTrailClient({ ...settings, endpoint: env.AWS_ENDPOINT_URL_CLOUDTRAIL })
  t.teardown(() => {
    lambda.destroy()
    cloudtrail.destroy()
  })

  // the custody recorder's invoker, unchanged
  const names = Object.fromEntries(FUNCTION_KEYS.map((k) => [k, `p-${k}`])) as Record<FunctionKey, string>
  const queued = await new LambdaAsyncInvoker(lambda, names).invokeAsync('object-versions', { caseId: 'c' })
  t.equal(queued.requestId, 'req-1')
  t.same(invoked, [['p-object-versions', { caseId: 'c' }]])
  await t.rejects(lambda.send(new InvokeCommand({ FunctionName: 'p-drill', Payload: Buffer.from('{}') })), { name: 'InvalidParameterValueException', message: /only asynchronous invocations \(InvocationType Event\) of p-drill run locally, got RequestResponse/ })
  await t.rejects(lambda.send(new InvokeCommand({ FunctionName: 'unknown', InvocationType: 'Event' })), { name: 'ResourceNotFoundException', message: /no function "unknown"/ })
  // the deployed drill's Lambda client names functions by ARN
  const byArn = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:eu-west-1:111111111111:function:p-bucket-config:$LATEST', InvocationType: 'Event', Payload: Buffer.from('{"caseId":"d"}') }))
  t.equal(byArn.StatusCode, 202)
  t.same(invoked[1], ['p-bucket-config', { caseId: 'd' }], 'an ARN (with a qualifier) names the function')
  await t.rejects(lambda.send(new InvokeCommand({ FunctionName: 'p-drill', InvocationType: 'Event', Payload: Buffer.from('not json') })), { name: 'InvalidRequestContentException', message: /the payload for p-drill is not JSON/ })
  t.equal(invoked.length, 2, 'nothing queued for a refused payload')

  const keys = await cloudTrailPublicKeys(() => cloudtrail).listPublicKeys('eu-west-1', new Date('2026-11-30T00:00:00Z'), new Date('2026-11-30T01:00:00Z'))
  t.equal(keys.length, 1)
  t.equal(keys[0].fingerprint, trail.fingerprint)
  t.equal(keys[0].validityStart, '2026-11-29T00:00:00.000Z')
  t.equal(keys[0].validityEnd, undefined)
  t.ok(keys[0].value.equals((await trail.publicKeys.listPublicKeys('eu-west-1', new Date(), new Date()))[0].value), 'the DER value, byte for byte')
  await t.rejects(cloudtrail.send(new LookupEventsCommand({})), { name: 'UnsupportedOperation', message: /LookupEvents is not served locally/ })
})
