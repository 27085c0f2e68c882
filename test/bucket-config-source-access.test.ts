/**
 * Opening the source bucket's clients (forensics/bucket-config/source-access.ts): our own
 * account, a member account's read-only role, and the refusals, against a local endpoint
 * standing in for STS that refuses or answers empty on demand. Assuming a member role on the
 * emulator is in bucket-config.test.ts.
 */
import t from 'tap'
import { openSourceClients } from '../forensics/bucket-config/source-access.js'
import { assumedRole, callerIdentity, endpointEnv, fakeAwsEndpoint, stsError, useEndpointProcessEnv } from './fixtures/aws-endpoint.js'

const OWNER = '123456789012'
const OTHER = '210987654321'

t.test('openSourceClients: own account, member role, refusals', async (t) => {
  await t.rejects(openSourceClients({ accountId: '12345', env: {} }), { name: 'ValidationError', field: 'account', message: /12-digit/ })

  let assumeBody = ''
  let mode: 'deny' | 'empty' | 'ok' = 'deny'
  let stsUp = true
  const endpoint = await fakeAwsEndpoint(t, (action, _req, body) => {
    if (action === 'GetCallerIdentity') return stsUp ? callerIdentity(OWNER) : stsError('InvalidClientTokenId')
    if (action === 'AssumeRole') {
      assumeBody = body
      if (mode === 'deny') return stsError('AccessDenied')
      if (mode === 'empty') return assumedRole('')
      return assumedRole('<Credentials><AccessKeyId>AK</AccessKeyId><SecretAccessKey>SK</SecretAccessKey><SessionToken>ST</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>')
    }
    return { status: 500, body: '' }
  })
  useEndpointProcessEnv(t, endpoint)
  const own = await openSourceClients({ env: endpointEnv(endpoint), region: 'eu-central-1' })
  t.same([own.accountId, own.roleArn, await own.s3.config.region()], [OWNER, undefined, 'eu-central-1'], 'our own account, the requested region')
  const same = await openSourceClients({ accountId: OWNER, env: endpointEnv(endpoint) })
  t.same([same.accountId, same.roleArn], [OWNER, undefined])

  await t.rejects(openSourceClients({ accountId: OTHER, env: endpointEnv(endpoint) }), { name: 'ValidationError', message: `bucket account ${OTHER} is not this account (${OWNER}): set FORENSICS_MEMBER_ROLE_NAME (and FORENSICS_MEMBER_EXTERNAL_ID) to the read-only capture role the member-account stack deployed` })
  const member = endpointEnv(endpoint, { FORENSICS_MEMBER_ROLE_NAME: 'capture', FORENSICS_MEMBER_EXTERNAL_ID: 'ext' })
  await t.rejects(openSourceClients({ accountId: OTHER, env: member }), { name: 'StorageError', message: new RegExp(`^cannot assume arn:aws:iam::${OTHER}:role/capture: AccessDenied: AccessDenied by test; check the member-account stack`) })
  mode = 'empty'
  await t.rejects(openSourceClients({ accountId: OTHER, env: member, sessionName: 's'.repeat(80) }), { name: 'StorageError', message: `assuming arn:aws:iam::${OTHER}:role/capture returned no credentials` })
  mode = 'ok'
  const assumedClients = await openSourceClients({ accountId: OTHER, env: { ...member, AWS_ENDPOINT_URL_S3_CONTROL: `${endpoint}/control` } })
  t.same([assumedClients.accountId, assumedClients.roleArn], [OTHER, `arn:aws:iam::${OTHER}:role/capture`])
  t.match(await assumedClients.s3.config.credentials(), { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' }, 'the S3 client acts with the role’s credentials')
  t.match(decodeURIComponent(assumeBody), /ExternalId=ext/, 'the external id is sent')

  // STS unreachable: our own buckets are still readable, another account's are not
  stsUp = false
  const blind = await openSourceClients({ env: endpointEnv(endpoint) })
  t.equal(blind.accountId, undefined)
  await t.rejects(openSourceClients({ accountId: OTHER, env: endpointEnv(endpoint) }), { message: /is not this account \(unknown\)/ })
})
