/**
 * The report's view of a CloudTrail slice capture (forensics/report/slice-view.ts): who,
 * what, from where, errors; unreadable, huge or missing inputs are named, deterministically.
 */
import t from 'tap'
import { gzipSync } from 'node:zlib'
import { trailEvent } from './fixtures/report-case.js'
import { eventView, MAX_EVENTS_TEXT_BYTES, readSliceView } from '../forensics/report/slice-view.js'

t.test('slice view: who, what, from where, errors; unreadable inputs are named', async (t) => {
  const v = eventView('cap', {
    eventID: 'e1',
    '@timestamp': '2020-09-14T01:02:34.000Z',
    eventName: 'GetObject',
    eventSource: 's3.amazonaws.com',
    userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/R/i-1', accessKeyId: 'ASIA1', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/R' } } },
    resources: [{ ARN: 'arn:aws:s3:::b/k' }, { ARN: 'arn:aws:s3:::b' }, 'junk'],
    errorCode: 'AccessDenied',
    errorMessage: { nested: true },
  })
  t.match(v, { ms: Date.parse('2020-09-14T01:02:34Z'), who: 'arn:aws:sts::1:assumed-role/R/i-1', issuer: 'arn:aws:iam::1:role/R', target: 'arn:aws:s3:::b/k, arn:aws:s3:::b', errorCode: 'AccessDenied', errorMessage: '{"nested":true}', readOnly: undefined })
  t.equal(eventView('c', { userIdentity: { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' } }).who, 'ec2.amazonaws.com')
  t.equal(eventView('c', { userIdentity: { principalId: 'P1' } }).who, 'principal:P1')
  t.equal(eventView('c', { userIdentity: { type: 'Root' } }).who, 'Root')
  t.match(eventView('c', { requestParameters: { bucketName: 'b' } }), { target: 'b', ms: NaN, time: '' })

  const lines = [JSON.stringify(trailEvent('a', '2026-11-28T01:00:00Z')), '', 'not json', '[1]', JSON.stringify(trailEvent('b', '2026-11-28T02:00:00Z'))].join('\n') + '\n'
  const full = readSliceView('cap', { events: gzipSync(lines) }, { events: true, slice: false })
  t.equal(full.events.length, 2)
  t.equal(full.badLines, 2, 'lines that are not JSON objects are counted')
  t.equal(full.eventLines, 4, 'blank lines are not events')
  t.same(full.notes, ['the capture has no slice.json'])
  const capped = readSliceView('cap', { events: gzipSync(lines) }, { events: true, slice: true }, 1)
  t.equal(capped.events.length, 1, 'only the first events are parsed')
  t.equal(capped.eventLines, 4, 'the rest are counted')
  t.match(capped.notes, ['slice.json is too large to be read for this report'])

  t.match(readSliceView('cap', { events: Buffer.from('plain text') }, { events: true, slice: false }).notes, [/no slice.json/, /not readable gzip/])
  t.match(readSliceView('cap', undefined, { events: true, slice: false }).notes, [/no slice.json/, /events.jsonl.gz is too large/])
  t.match(readSliceView('cap', undefined, { events: false, slice: false }).notes, [/no slice.json/, /has no events.jsonl.gz/])
  t.match(readSliceView('cap', { slice: Buffer.from('[]') }, { events: false, slice: true }).notes, [/slice.json is not a JSON object/])
  const doc = readSliceView('cap', { slice: Buffer.from(JSON.stringify({ window: { start: 's', end: 'e' }, counts: { events: 7 }, chain: [{}], files: [{ bucket: 'b', key: 'k', verdict: 'valid', matched: 2 }, { path: '/x.json.gz', verdict: 'hash-mismatch', verdictReason: 'edited' }, { source: 'lookup' }, { source: 'archive', key: 'k2' }, 'junk'] })) }, { events: false, slice: true })
  t.same(doc.verdicts, { 'hash-mismatch': 1, lookup: 1, 'no verdict': 1, valid: 1 }, 'verdicts counted in a stable order')
  t.match(doc, { window: { start: 's', end: 'e' }, eventsInSlice: 7, chainFindings: 1 })
  t.match(doc.files, [{ where: 's3://b/k', matched: 2 }, { where: '/x.json.gz', reason: 'edited' }, { where: '' }, { where: 'k2' }])

  // a file inflating beyond the limit: its first events are still read, deterministically
  const one = JSON.stringify(trailEvent('x', '2026-11-28T01:00:00Z', { userAgent: 'x'.repeat(900) })) + '\n'
  const huge = gzipSync(Buffer.from(one.repeat(Math.ceil((MAX_EVENTS_TEXT_BYTES + 1) / one.length))))
  const big = readSliceView('cap', { events: huge }, { events: true, slice: false }, 50)
  t.equal(big.events.length, 50, 'the first events of a huge file are shown')
  t.equal(big.eventLines, undefined, 'its line count is not known')
  t.match(big.notes, [/no slice.json/, /inflates to more than 64 MiB: only its first events/])
  t.same(readSliceView('cap', { events: huge }, { events: true, slice: false }, 50), big, 'same bytes, same view')
})
