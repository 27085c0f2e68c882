/** Reading CloudTrail events that trigger a bucket-config capture (forensics/bucket-config/trigger-event.ts). */
import t from 'tap'
import { caseIdFromTemplate, isCloudTrailEvent, parseCloudTrailEvent, type CloudTrailTrigger } from '../forensics/bucket-config/trigger-event.js'

const OWNER = '123456789012'
const ct = (detail: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ 'detail-type': 'AWS API Call via CloudTrail', detail: { eventName: 'PutBucketAcl', requestParameters: { bucketName: 'bkt' }, eventID: 'e1', ...detail }, ...top })

t.test('CloudTrail events are recognised, fall back to the envelope, and are refused when they do not trigger; case ids from the template', async (t) => {
  t.equal(isCloudTrailEvent(null), false)
  t.equal(isCloudTrailEvent({ 'detail-type': 'AWS API Call via CloudTrail', detail: 'x' }), false)
  t.equal(isCloudTrailEvent({ 'detail-type': 'Object Created', detail: {} }), false)
  t.equal(isCloudTrailEvent(ct({})), true)
  // the envelope's id, time, account and region stand in for the record's
  t.same(parseCloudTrailEvent(ct({ eventID: '', userIdentity: 'x' }, { id: 'eb-1', time: '2026-05-05T01:02:03Z', account: OWNER, region: 'ap-south-1' }), ['PutBucketAcl']), {
    eventId: 'eb-1',
    eventName: 'PutBucketAcl',
    eventTime: '2026-05-05T01:02:03Z',
    bucket: 'bkt',
    key: undefined,
    account: OWNER,
    region: 'ap-south-1',
    principalArn: undefined,
    requestId: undefined,
  })
  t.match(parseCloudTrailEvent(ct({}), ['PutBucketAcl']), { eventTime: '1970-01-01T00:00:00.000Z', account: '', region: '' }, 'nothing to fall back to')
  t.throws(() => parseCloudTrailEvent(ct({ eventName: undefined }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.eventName', message: /^CloudTrail event null does not trigger/ })
  t.throws(() => parseCloudTrailEvent(ct({ eventName: 'GetObject' }), ['PutBucketAcl', 'PutBucketPolicy']), { message: /"GetObject" does not trigger this collector; expected one of PutBucketAcl, PutBucketPolicy/ })
  t.throws(() => parseCloudTrailEvent(ct({ requestParameters: null }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.requestParameters.bucketName' })
  t.throws(() => parseCloudTrailEvent(ct({ eventID: undefined }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.eventID', message: /neither detail.eventID nor id/ })

  const trig: CloudTrailTrigger = { eventId: 'e/1', eventName: 'PutBucketAcl', eventTime: '2026-11-29T10:00:00Z', bucket: 'b.k.t', account: OWNER, region: 'us-east-1' }
  t.equal(caseIdFromTemplate('{region}-{bucket}-{date}', trig), 'us-east-1-b.k.t-2026-11-29')
  t.equal(caseIdFromTemplate('x'.repeat(70), trig), 'x'.repeat(64), 'cut to 64 characters')
  t.equal(caseIdFromTemplate('{eventId}', { ...trig, eventId: '..' }), 'case', 'a case id of dots only becomes "case"')
  t.throws(() => caseIdFromTemplate('ct-{user}', trig), { name: 'ValidationError', field: 'FORENSICS_CASE_ID_TEMPLATE', message: /uses \{user\}; known placeholders: \{account\} \{region\} \{bucket\} \{eventName\} \{date\} \{eventId\}/ })
})
