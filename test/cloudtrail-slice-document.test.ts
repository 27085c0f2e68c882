/**
 * The slice document and its event lines (forensics/cloudtrail/slice-document.ts).
 */
import t from 'tap'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { buildSliceDocument, eventLines, publicKeysDocument } from '../forensics/cloudtrail/slice-document.js'
import type { SliceOutcome } from '../forensics/cloudtrail/slice.js'
import { KEY, LOC } from './fixtures/cloudtrail/fake-trail.js'

const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

const outcome = (o: Partial<SliceOutcome>): SliceOutcome => ({ request: { window: W, filters: {} }, events: [], duplicatesDropped: 0, files: [], scopes: [], digests: [], chain: [], digestObjects: [], publicKeys: [], errors: [], ...o })

t.test('counts by event name, principal, source IP and verdict, absent values as (none)', async (t) => {
  const events = [
    { time: 1, id: 'a', json: JSON.stringify({ eventName: 'GetObject', sourceIPAddress: '1.1.1.1', userIdentity: { arn: 'arn:aws:iam::1:user/u' } }) },
    { time: 2, id: 'b', json: JSON.stringify({ userIdentity: { invokedBy: 's3.amazonaws.com' } }) },
    { time: 3, id: 'c', json: JSON.stringify({ userIdentity: { principalId: 'P1', type: 'AWSAccount' } }) },
    { time: 4, id: 'd', json: JSON.stringify({ userIdentity: { principalId: 'P2' } }) },
    { time: 5, id: 'e', json: JSON.stringify({ eventName: 'GetObject', userIdentity: {} }) },
    { time: 6, id: 'f', json: JSON.stringify({ eventName: 'A' }) },
  ]
  const doc = buildSliceDocument(outcome({ events, files: [{ source: 'dir', matched: 1, verdict: 'valid' } as SliceOutcome['files'][number], { source: 'dir', matched: 0 } as SliceOutcome['files'][number]] }))
  t.same(doc.counts.byEventName, { '(none)': 3, A: 1, GetObject: 2 })
  t.same(Object.keys(doc.counts.byEventName), ['(none)', 'A', 'GetObject'], 'sorted')
  t.same(doc.counts.byPrincipal, { '(none)': 2, 'AWSAccount:P1': 1, 'arn:aws:iam::1:user/u': 1, 'principal:P2': 1, 's3.amazonaws.com': 1 })
  t.same(doc.counts.bySourceIp, { '(none)': 5, '1.1.1.1': 1 })
  t.same(doc.counts.byVerdict, { valid: 1 })
  t.equal(doc.counts.filesWithMatches, 1)
  t.equal(doc.sources.archive, undefined)
  t.equal(doc.window.start, '2026-11-28T00:00:00.000Z')
  const withArchive = buildSliceDocument(outcome({ request: { window: W, filters: {}, archive: { location: LOC } }, scopes: [{ root: 'r', account: '1', region: 'x' }], publicKeys: [{ ...KEY.pub }] }))
  t.same(withArchive.sources.archive, { bucket: 'trail', prefix: 'ct', scopes: [{ account: '1', orgId: undefined, region: 'x' }] })
  t.same(withArchive.publicKeys, [{ fingerprint: 'fp-1', validityStart: '2020-01-01T00:00:00.000Z', validityEnd: undefined }])
  const pk = publicKeysDocument(outcome({ publicKeys: [KEY.pub] }), (v) => `PEM ${v.length}`)
  t.same(pk, [{ fingerprint: 'fp-1', validityStart: '2020-01-01T00:00:00.000Z', validityEnd: undefined, valueBase64: KEY.pub.value.toString('base64'), pem: `PEM ${KEY.pub.value.length}` }])
  let text = ''
  for await (const c of eventLines(events.slice(0, 2))) text += String(c)
  t.equal(text, events[0].json + '\n' + events[1].json + '\n')
})
