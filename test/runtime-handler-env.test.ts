/**
 * The Lambda handlers' environment (forensics/runtime/handler-env.ts): required settings,
 * the signer spec, the SIEM publisher, and the evidence store opened once per setting.
 */
import t from 'tap'
import { join } from 'node:path'
import { KmsSigner, LocalSigner } from '../forensics/signer.js'
import { evidenceFromEnv, requireEnv, signerFromSpec, siemFromEnv } from '../forensics/runtime/handler-env.js'
import { AwsSiemPublisher } from '../forensics/siem/siem-publisher.js'
import { signingKeyFile } from './fixtures/collectors.js'
import { endpointEnv, fakeAwsEndpoint, useEndpointProcessEnv } from './fixtures/aws-endpoint.js'

t.test('requireEnv names the missing variable', async (t) => {
  t.equal(requireEnv({ X: 'y' }, 'X'), 'y')
  t.throws(() => requireEnv({ X: '' }, 'X'), { name: 'ValidationError', field: 'X', message: /environment variable X is not set/ })
})

t.test('signerFromSpec: file:, kms: and anything else', async (t) => {
  const dir = t.testdir({})
  const keyFile = join(dir, 'key.pem')
  const { signer: made } = LocalSigner.fromFile(keyFile, { create: true })
  const signer = signerFromSpec(`file:${keyFile}`)
  t.type(signer, LocalSigner)
  t.equal(await signer.publicKeyPem(), await made.publicKeyPem(), 'the same key as the file')
  t.type(signerFromSpec('kms:alias/forensics-signing', { AWS_REGION: 'eu-west-1' }), KmsSigner)
  t.throws(() => signerFromSpec('vault:secret/key'), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /must be kms:<key id> or file:<pem path>, got "vault:secret\/key"/ })
})

t.test('siemFromEnv needs the bus and the topic', async (t) => {
  t.throws(() => siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t' }), { name: 'ValidationError', field: 'FORENSICS_SIEM_EVENT_BUS' })
  t.throws(() => siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_EVENT_BUS: 'bus' }), { name: 'ValidationError', field: 'FORENSICS_SIEM_TOPIC_ARN' })
  t.type(siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_EVENT_BUS: 'bus', FORENSICS_SIEM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t' }), AwsSiemPublisher)
})

t.test('evidenceFromEnv: required settings, retention, the signer, failures not cached', async (t) => {
  t.throws(() => evidenceFromEnv({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' })
  t.throws(() => evidenceFromEnv({ FORENSICS_EVIDENCE_BUCKET: 'ev' }), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /got null/ })
  t.throws(() => evidenceFromEnv({ FORENSICS_EVIDENCE_BUCKET: 'ev', FORENSICS_SIGNING_KEY: 'arn:aws:kms:x' }), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /got "arn:aws:kms:x"/ })
  const key = signingKeyFile()
  let versioningCalls = 0
  const endpoint = await fakeAwsEndpoint(t, (action) => {
    if (/versioning/.test(action)) versioningCalls++
    return { status: 404, body: '<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>' }
  })
  useEndpointProcessEnv(t, endpoint)
  const base = endpointEnv(endpoint, { FORENSICS_EVIDENCE_BUCKET: 'ev-missing', FORENSICS_SIGNING_KEY: `file:${key.path}` })
  for (const [days, mode] of [['0', undefined], ['1.5', undefined], ['x', undefined], ['3', 'LEGAL']] as const) {
    t.throws(() => evidenceFromEnv({ ...base, FORENSICS_RETENTION_DAYS: days, ...(mode ? { FORENSICS_RETENTION_MODE: mode } : {}) }), { name: 'ValidationError', field: 'FORENSICS_RETENTION_DAYS', message: new RegExp(`got ${days.replace('.', '\\.')}/${mode ?? 'COMPLIANCE'}`) })
  }
  const env = { ...base, FORENSICS_RETENTION_DAYS: '3', FORENSICS_RETENTION_MODE: 'GOVERNANCE' }
  const p1 = evidenceFromEnv(env)
  t.equal(evidenceFromEnv({ ...env }), p1, 'the same settings share one opening')
  await t.rejects(p1, { name: 'EvidenceBucketError', message: /s3:\/\/ev-missing does not exist/ })
  const p2 = evidenceFromEnv(env)
  t.not(p2, p1, 'a failed opening is not cached')
  await t.rejects(p2, { name: 'EvidenceBucketError' })
  t.equal(versioningCalls, 2)
  // kms: signer, default retention read from the bucket (which is missing here)
  const kms = evidenceFromEnv({ ...base, FORENSICS_SIGNING_KEY: 'kms:alias/forensics' })
  await t.rejects(kms, { name: 'EvidenceBucketError' })
})
