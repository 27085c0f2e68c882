/**
 * Validating CloudTrail digest files (forensics/cloudtrail/digest-validation.ts) on the fake
 * trail bucket: signatures, keys, backfill digests, the digest chain, and the verdict on
 * each log file.
 */
import t from 'tap'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { digestFileKey } from '../forensics/cloudtrail/archive-layout.js'
import { publicKeyFromValue, validateDigests, verifyDigestSignature, type DigestDocument, type TrailPublicKey } from '../forensics/cloudtrail/digest-validation.js'
import { KEY, LOC, SCOPE, fakeTrailBucket, keySource, listedOf, makeTrailKey, putDigest, putLog, reader, type FakeTrailBucket } from './fixtures/cloudtrail/fake-trail.js'

const D = (s: string): number => Date.parse(s)

t.test('each log file gets the verdict of the digest listing it; unreadable digests and each signature problem are reported', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const f1 = putLog(s3, h(0) + 300_000, [], 'F1')
  const f2 = putLog(s3, h(1) + 300_000, [], 'F2')
  const d1 = putDigest(s3, { end: h(1), files: [f1] })
  const d2 = putDigest(s3, { end: h(2), files: [f2], prev: d1 })
  const other = makeTrailKey('fp-2')

  const keys = keySource(KEY.pub)
  const v = await validateDigests(listedOf(s3, d1.key, d2.key), reader(s3), keys)
  t.same(v.digests.map((d) => d.status), ['valid', 'valid'])
  t.same(v.chain, [])
  t.equal(keys.calls, 2, 'one key lookup per distinct period')
  t.same([...v.keysUsed.keys()], ['fp-1'])
  t.same(v.judge({ bucket: 'trail', key: f1.key, time: h(0) + 300_000, uncompressedSha256: f1.hash }), { verdict: 'valid', digest: d1.key })
  t.match(v.judge({ bucket: 'trail', key: f1.key, time: h(0) + 300_000, uncompressedSha256: 'beef' }), { verdict: 'hash-mismatch', reason: /the file changed after delivery/ })
  t.match(v.judge({ bucket: 'trail', key: 'x', time: h(1) + 30 * 60_000, uncompressedSha256: 'x' }), { verdict: 'not-covered', digest: d2.key })
  t.match(v.judge({ bucket: 'trail', key: 'x', time: h(5), uncompressedSha256: 'x' }), { verdict: 'digest-missing', reason: /no digest covering the delivery time 2026-11-28T05:00:00.000Z/ })

  // Unreadable: not gzip, not JSON, missing fields. A missing object is skipped.
  s3.put(digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(3)), Buffer.from('plain'))
  s3.put(digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(4)), gzipSync('{"digestStartTime":"x"}'))
  const u = await validateDigests(listedOf(s3, digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(3)), digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(4)), digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(9))), reader(s3), keySource())
  t.same(u.digests.map((d) => d.status), ['unreadable', 'unreadable'])
  t.match(u.digests[0].reason, /cannot be read: /)
  t.match(u.digests[1].reason, /missing field\(s\) digestEndTime, digestS3Bucket/)
  t.equal(u.digests[1].logFiles, 0)
  t.equal(u.objects.size, 2)

  // Each signature problem is reported on its digest and its files become signature-invalid.
  const cases: Array<[string, (s: FakeTrailBucket) => { key: string }, RegExp]> = [
    ['moved', (s) => putDigest(s, { end: h(6), files: [f1] }, { tamper: (d) => (d.digestS3Object = 'elsewhere.json.gz') }), /it has been moved/],
    ['no metadata', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: {} }), /has no x-amz-meta-signature/],
    ['other algorithm', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: { signature: 'ab', 'signature-algorithm': 'SHA1withRSA' } }), /uses signature algorithm SHA1withRSA/],
    ['unknown key', (s) => putDigest(s, { end: h(6), files: [f1] }, { key: other }), /no public key with fingerprint fp-2 in region us-east-1/],
    ['altered', (s) => putDigest(s, { end: h(6), files: [f1] }, { tamper: (d) => (d.awsAccountId = '999999999999') }), /does not verify with key fp-1/],
    ['not hex', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: { signature: 'zz', 'signature-algorithm': 'SHA256withRSA' } }), /does not verify/],
  ]
  for (const [name, put, reason] of cases) {
    const s = fakeTrailBucket('trail')
    const d = put(s)
    const r = await validateDigests(listedOf(s, d.key), reader(s), keySource(KEY.pub))
    t.equal(r.digests[0].status, 'signature-invalid', name)
    t.match(r.digests[0].reason, reason, name)
    t.match(r.judge({ bucket: 'trail', key: f1.key, time: 0, uncompressedSha256: f1.hash }), { verdict: 'signature-invalid', digest: d.key }, name)
  }

  // A key whose value cannot be loaded.
  const sBad = fakeTrailBucket('trail')
  const dBad = putDigest(sBad, { end: h(6), files: [] })
  const rBad = await validateDigests(listedOf(sBad, dBad.key), reader(sBad), keySource({ fingerprint: 'fp-1', value: Buffer.from([0x30, 0x03, 0x02, 0x01]) }))
  t.match(rBad.digests[0].reason, /public key fp-1 cannot be loaded/)

  // A file listed by an invalid digest and a valid one is judged by the valid one.
  const sTwo = fakeTrailBucket('trail')
  const dInvalid = putDigest(sTwo, { end: h(6), files: [f1] }, { metadata: {} })
  const dValid = putDigest(sTwo, { end: h(7), files: [f1] })
  const rTwo = await validateDigests(listedOf(sTwo, dInvalid.key, dValid.key), reader(sTwo), keySource(KEY.pub))
  t.same(rTwo.judge({ bucket: 'trail', key: f1.key, time: 0, uncompressedSha256: f1.hash }), { verdict: 'valid', digest: dValid.key })
})

t.test('backfill digests look up keys by their generation time and are not chained', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const end = D('2026-11-28T02:00:00Z')
  const d = putDigest(s3, { end, files: [], backfill: true }, { metadata: {} })
  // Re-put with the backfill metadata and a valid signature.
  const obj = s3.objects.get(d.key)!
  const doc = JSON.parse(gunzipSync(obj.body).toString()) as DigestDocument
  const hash = createHash('sha256').update(gunzipSync(obj.body)).digest('hex')
  const signature = KEY.sign(`${doc.digestEndTime}\n${doc.digestS3Bucket}/${doc.digestS3Object}\n${hash}\nnull`)
  obj.metadata = { signature, 'signature-algorithm': 'SHA256withRSA', 'backfill-generation-timestamp': '2026-11-29T08:00:00Z' }
  const asked: string[] = []
  const keys = {
    listPublicKeys: async (_r: string, start: Date): Promise<TrailPublicKey[]> => {
      asked.push(start.toISOString())
      return start.getTime() > D('2026-11-29T00:00:00Z') ? [KEY.pub] : []
    },
  }
  const r = await validateDigests(listedOf(s3, d.key), reader(s3), keys)
  t.equal(r.digests[0].status, 'valid')
  t.equal(r.digests[0].backfill, true)
  t.same(asked, ['2026-11-27T02:00:00.000Z', '2026-11-29T07:00:00.000Z'])

  // Without a usable generation timestamp there is no second lookup.
  obj.metadata = { signature, 'signature-algorithm': 'SHA256withRSA' }
  asked.length = 0
  const r2 = await validateDigests(listedOf(s3, d.key), reader(s3), keys)
  t.equal(r2.digests[0].status, 'signature-invalid')
  t.equal(asked.length, 1)
  t.same(r2.chain, [], 'backfill digests are not chained')
})

t.test('a missing, replaced or restarted previous digest is a chain finding', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const f = putLog(s3, h(2) + 300_000, [], 'F')
  const d1 = putDigest(s3, { end: h(1), files: [] })
  const d2 = putDigest(s3, { end: h(2), files: [] , prev: d1 })
  const d3 = putDigest(s3, { end: h(3), files: [f], prev: d2 })
  // Only d3 is listed: d2 is read to check the link.
  const r = await validateDigests(listedOf(s3, d3.key), reader(s3), keySource(KEY.pub))
  t.same(r.chain, [])
  t.ok(r.objects.has(`trail/${d2.key}`), 'the previous digest is kept')

  // The previous digest was deleted.
  s3.objects.delete(d2.key)
  const missing = await validateDigests(listedOf(s3, d3.key), reader(s3), keySource(KEY.pub))
  t.match(missing.chain, [{ kind: 'previous-digest-missing', digest: d3.key, previous: d2.key }])
  t.match(missing.judge({ bucket: 'trail', key: f.key, time: 0, uncompressedSha256: f.hash }), { verdict: 'valid', reason: /chain before this digest is broken/ })

  // The previous digest was replaced (different bytes and signature).
  putDigest(s3, { end: h(2), files: [f], prev: d1 })
  const replaced = await validateDigests(listedOf(s3, d1.key, d2.key, d3.key), reader(s3), keySource(KEY.pub))
  t.same(replaced.chain.map((c) => c.kind), ['previous-digest-hash-mismatch', 'previous-signature-mismatch'])

  // A previous key that does not look like a digest is not read.
  const s4 = fakeTrailBucket('trail')
  const d4 = putDigest(s4, { end: h(3), files: [], prev: { key: 'ct/odd-name', hash: 'x', signature: 'y' } })
  s4.put('ct/odd-name', Buffer.from('x'))
  const odd = await validateDigests(listedOf(s4, d4.key), reader(s4), keySource(KEY.pub))
  t.same(odd.chain.map((c) => c.kind), ['previous-digest-missing'])

  // A previous digest that is not gzip: hash mismatch, not a crash.
  const s5 = fakeTrailBucket('trail')
  const p5 = digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(1))
  s5.put(p5, Buffer.from('not gzip'), { signature: 'sig' })
  const d5 = putDigest(s5, { end: h(2), files: [], prev: { key: p5, hash: 'abc', signature: 'sig' } })
  const r5 = await validateDigests(listedOf(s5, d5.key), reader(s5), keySource(KEY.pub))
  t.match(r5.chain, [{ kind: 'previous-digest-hash-mismatch', message: /hashes to undefined/ }])

  // A chain that starts again after an earlier digest.
  const s6 = fakeTrailBucket('trail')
  const a = putDigest(s6, { end: h(1), files: [] })
  const b = putDigest(s6, { end: h(5), files: [] })
  const r6 = await validateDigests(listedOf(s6, a.key, b.key), reader(s6), keySource(KEY.pub))
  t.match(r6.chain, [{ kind: 'chain-restart', digest: b.key }])
})

t.test('trail public keys load from PKCS#1 or SPKI, DER or base64; an odd-length hex signature does not verify', async (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const pkcs1 = publicKey.export({ format: 'der', type: 'pkcs1' })
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
  for (const v of [pkcs1, spki, Buffer.from(pkcs1.toString('base64')), Buffer.from(spki.toString('base64'))]) {
    t.equal(publicKeyFromValue(v).export({ format: 'pem', type: 'spki' }).toString(), pem)
  }
  t.throws(() => publicKeyFromValue(Buffer.from('????')))
  const doc = { digestEndTime: 'e', digestS3Bucket: 'b', digestS3Object: 'o', previousDigestSignature: null } as unknown as DigestDocument
  t.notOk(verifyDigestSignature(doc, 'h', 'abc', KEY.pub), 'odd-length hex is rejected')
  t.ok(verifyDigestSignature(doc, 'h', KEY.sign('e\nb/o\nh\nnull'), KEY.pub))
})

t.test('a digest whose logFiles is not a list covers no file and fails its signature', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const d = putDigest(s3, { end: D('2026-11-28T01:00:00Z'), files: [] }, { tamper: (doc) => (doc.logFiles = null) })
  const r = await validateDigests(listedOf(s3, d.key), reader(s3), keySource(KEY.pub))
  t.equal(r.digests[0].logFiles, 0)
  t.equal(r.digests[0].status, 'signature-invalid', 'the document was changed after signing')
  t.equal(r.judge({ bucket: 'trail', key: 'x', time: D('2026-11-28T00:30:00Z'), uncompressedSha256: 'x' }).verdict, 'not-covered')
})
