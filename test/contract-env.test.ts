/** The environment contract (forensics/contract/env.ts): the stack renders through it, the handlers check it at cold start. */
import t from 'tap'
import { checkFunctionEnv, ENV_FUNCTION_KEYS, ENV_VARS, FUNCTION_ENV, functionEnvNames, renderFunctionEnv } from '../forensics/contract/env.js'
import { FUNCTION_KEYS } from '../forensics/routing.js'

const evidence = { FORENSICS_EVIDENCE_BUCKET: 'ev', FORENSICS_SIGNING_KEY: 'kms:alias/x' }

t.test('every function has a schema of known variables; every variable is read by some function', async (t) => {
  t.same(Object.keys(FUNCTION_ENV).sort(), [...FUNCTION_KEYS, 'containment'].sort(), 'the capture functions and containment')
  t.same([...ENV_FUNCTION_KEYS].sort(), Object.keys(FUNCTION_ENV).sort())
  const used = new Set(ENV_FUNCTION_KEYS.flatMap((k) => functionEnvNames(k)))
  t.same(Object.keys(ENV_VARS).filter((n) => !used.has(n as never)), [], 'no variable nobody reads')
  // every function but the inspector writes evidence (the inspector returns a verdict; the capture it chains into writes)
  for (const k of ENV_FUNCTION_KEYS.filter((k) => k !== 'inspector')) t.same(functionEnvNames(k).slice(0, 2), ['FORENSICS_EVIDENCE_BUCKET', 'FORENSICS_SIGNING_KEY'], `${k} writes evidence`)
  t.same(functionEnvNames('inspector'), ['FORENSICS_INSPECTION'], 'the inspector reads its inspection section only')
  for (const gone of ['FORENSICS_REGIONS', 'FORENSICS_ORGANIZATION_ID', 'FORENSICS_CLOUDTRAIL_ARCHIVE', 'FORENSICS_FUNCTION', 'FORENSICS_FUNCTION_PREFIX']) t.notOk(gone in ENV_VARS, `${gone}: nothing reads it`)
})

t.test('renderFunctionEnv: what the stack writes, refused naming the function and variable', async (t) => {
  t.same(renderFunctionEnv('cloudtrail-slice', { ...evidence, FORENSICS_TRAIL_ARCHIVE: 's3://trail/p', FORENSICS_RETENTION_DAYS: undefined, FORENSICS_CASE_ID_TEMPLATE: '' }), { ...evidence, FORENSICS_TRAIL_ARCHIVE: 's3://trail/p' }, 'optional values without a value are left out')
  t.throws(() => renderFunctionEnv('cloudtrail-slice', evidence), { name: 'ValidationError', field: 'cloudtrail-slice.FORENSICS_TRAIL_ARCHIVE', message: /the cloudtrail-slice function needs FORENSICS_TRAIL_ARCHIVE \(`s3:\/\/BUCKET\/PREFIX` of the CloudTrail archive\) and the stack has no value/ })
  t.throws(() => renderFunctionEnv('cloudtrail-slice', { ...evidence, FORENSICS_TRAIL_ARCHIVE: 'trail/p' }), { name: 'ValidationError', field: 'cloudtrail-slice.FORENSICS_TRAIL_ARCHIVE', message: /must be s3:\/\/BUCKET\[\/PREFIX\], got "trail\/p"/ })
  t.throws(() => renderFunctionEnv('bucket-config', { ...evidence, FORENSICS_REGIONS: 'us-east-1' } as never), { name: 'ValidationError', field: 'bucket-config.FORENSICS_REGIONS', message: /not in its environment schema .*nothing there reads it/ })
  t.throws(() => renderFunctionEnv('bucket-config', { ...evidence, FORENSICS_RETENTION_MODE: 'LOOSE' }), { field: 'bucket-config.FORENSICS_RETENTION_MODE', message: /must be COMPLIANCE or GOVERNANCE/ })
  const token = '${TfToken[TOKEN.1]}'
  t.same(renderFunctionEnv('object-versions', { ...evidence, FORENSICS_FANOUT_QUEUE_URL: token, FORENSICS_FANOUT_THRESHOLD: token }, { isUnresolved: (v) => v.startsWith('${') }), { ...evidence, FORENSICS_FANOUT_QUEUE_URL: token, FORENSICS_FANOUT_THRESHOLD: token }, 'deploy-time references are present, not checkable')
})

t.test('checkFunctionEnv: a cold start with a missing or invalid variable fails naming it', async (t) => {
  const drill = { ...evidence, FORENSICS_SIEM_EVENT_BUS: 'b', FORENSICS_SIEM_TOPIC_ARN: 't', FORENSICS_CAPTURE_FUNCTIONS: '{"drill":"x"}', FORENSICS_DLQ_URL: 'q', FORENSICS_TRAIL_ARCHIVE: 's3://trail' }
  t.doesNotThrow(() => checkFunctionEnv('drill', drill))
  t.throws(() => checkFunctionEnv('drill', { ...drill, FORENSICS_DLQ_URL: '' }), { name: 'ValidationError', field: 'FORENSICS_DLQ_URL', message: /environment variable FORENSICS_DLQ_URL is not set on drill: the forensics stack writes it/ })
  t.throws(() => checkFunctionEnv('drill', { ...drill, FORENSICS_CAPTURE_FUNCTIONS: '[1]' }), { field: 'FORENSICS_CAPTURE_FUNCTIONS', message: /must be a JSON object of function names/ })
  t.throws(() => checkFunctionEnv('drill', { ...drill, FORENSICS_CAPTURE_FUNCTIONS: '{' }), { name: 'ValidationError', field: 'FORENSICS_CAPTURE_FUNCTIONS' })
  t.throws(() => checkFunctionEnv('object-versions', { ...evidence, FORENSICS_FANOUT_QUEUE_URL: 'q', FORENSICS_COPY_CONCURRENCY: '0' }), { field: 'FORENSICS_COPY_CONCURRENCY', message: /FORENSICS_COPY_CONCURRENCY of object-versions must be a whole number ≥ 1, got "0"/ })
  t.throws(() => checkFunctionEnv('bucket-config', { ...evidence, FORENSICS_SIGNING_KEY: 'alias/x' }), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY' })
  t.throws(() => checkFunctionEnv('custody-recorder', { ...evidence, FORENSICS_SIEM_EVENT_BUS: ' ', FORENSICS_SIEM_TOPIC_ARN: 't' }), { field: 'FORENSICS_SIEM_EVENT_BUS', message: /must not be empty/ })
  t.doesNotThrow(() => checkFunctionEnv('object-versions', { ...evidence, FORENSICS_FANOUT_QUEUE_URL: 'q', FORENSICS_OBJECT_VERSIONS_PREFIX: '' }), 'a variable without a check')
  // containment: its settings are required and a JSON object
  t.doesNotThrow(() => checkFunctionEnv('containment', { ...evidence, FORENSICS_CONTAINMENT_SETTINGS: '{"dryRun":true}' }))
  t.throws(() => checkFunctionEnv('containment', evidence), { name: 'ValidationError', field: 'FORENSICS_CONTAINMENT_SETTINGS', message: /FORENSICS_CONTAINMENT_SETTINGS is not set on containment/ })
  t.throws(() => checkFunctionEnv('containment', { ...evidence, FORENSICS_CONTAINMENT_SETTINGS: '[]' }), { field: 'FORENSICS_CONTAINMENT_SETTINGS', message: /must be a JSON object, got "\[\]"/ })
  t.throws(() => checkFunctionEnv('containment', { ...evidence, FORENSICS_CONTAINMENT_SETTINGS: '{' }), { field: 'FORENSICS_CONTAINMENT_SETTINGS', message: /must be a JSON object/ })
  t.throws(() => renderFunctionEnv('containment', { ...evidence, FORENSICS_FANOUT_QUEUE_URL: 'q' }), { field: 'containment.FORENSICS_FANOUT_QUEUE_URL', message: /not in its environment schema/ })
})
