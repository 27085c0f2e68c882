/** The events the drill sends its collectors, and how it recognises its SIEM finding (forensics/drill/drill-events.ts). */
import t from 'tap'
import { defaultDrillEvents, isPublicGrantFinding } from '../forensics/drill/drill-events.js'
import { FINDING_SCHEMA } from '../forensics/siem/siem-finding.js'

t.test('the documented collector event shapes', async (t) => {
  const start = new Date('2026-11-29T10:00:00Z')
  const end = new Date('2026-11-29T10:10:00Z')
  t.same(defaultDrillEvents.bucketConfig('c', 'b', 'id-1'), { caseId: 'c', bucket: 'b', id: 'id-1' })
  t.same(defaultDrillEvents.objectVersions('c', 'b', 'p/', 'id-1'), { caseId: 'c', bucket: 'b', prefix: 'p/', id: 'id-1' })
  t.same(defaultDrillEvents.cloudTrailSlice('c', 'b', start, end, 'id-1'), { caseId: 'c', start: start.toISOString(), end: end.toISOString(), filters: { buckets: ['b'] }, triggerId: 'id-1' }, 'no archive key without an archive')
  t.match(defaultDrillEvents.cloudTrailSlice('c', 'b', start, end, 'id-1', 's3://trail/p'), { archive: 's3://trail/p' })
  t.equal(defaultDrillEvents.badBucket('d-1'), 'NOT A BUCKET d-1')
})

t.test('isPublicGrantFinding accepts only a public grant on the bucket', async (t) => {
  const doc = (over: Record<string, unknown>): Record<string, unknown> => ({ schema: FINDING_SCHEMA, finding_info: { types: ['public-grant-added'] }, resources: [{ name: 'canary' }], ...over })
  t.equal(isPublicGrantFinding(doc({}), 'canary'), true, 'by resource name')
  t.equal(isPublicGrantFinding(doc({ resources: [{ uid: 'arn:aws:s3:::canary' }] }), 'canary'), true, 'by resource ARN')
  t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['public-grant-present'] } }), 'canary'), true)
  t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['public-grant-removed'] } }), 'canary'), false, 'a removal is not a grant')
  t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['encryption-off'] } }), 'canary'), false, 'not a public type')
  t.equal(isPublicGrantFinding(doc({}), 'other'), false, 'another bucket')
  t.equal(isPublicGrantFinding(doc({ resources: 'canary' }), 'canary'), false, 'resources not a list')
  t.equal(isPublicGrantFinding(doc({ resources: [null, 'canary'] }), 'canary'), false, 'resources not objects')
  t.equal(isPublicGrantFinding(doc({ finding_info: 'x' }), 'canary'), false, 'finding_info not an object')
  t.equal(isPublicGrantFinding(doc({ finding_info: { types: 'public' } }), 'canary'), false, 'types not a list')
  t.equal(isPublicGrantFinding(doc({ schema: 'other/v1' }), 'canary'), false, 'another schema')
  t.equal(isPublicGrantFinding(null, 'canary'), false)
  t.equal(isPublicGrantFinding([doc({})], 'canary'), false, 'an array is not a document')
  t.equal(isPublicGrantFinding('public-grant-added canary', 'canary'), false)
})
