import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync, gunzipSync } from 'node:zlib'
import { DeleteObjectCommand, PutObjectCommand, S3Client, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { useEmulator } from './fixtures/emulator.js'
import { DATASETS, buildArchive, generateEvents, loadDataset, makeTrailKey, uploadArchive, writeArchive, type ScopeSpec } from './fixtures/cloudtrail/archive.js'
import { startCloudTrailServer } from './fixtures/cloudtrail/cloudtrail-server.js'
import { runSlice, sliceDirectory, dedupeAndSort } from '../forensics/cloudtrail/slice.js'
import { buildSliceDocument, eventLinesGz, publicKeysDocument } from '../forensics/cloudtrail/slice-document.js'
import { makeWindow, type SliceFilters } from '../forensics/cloudtrail/filters.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'
import { chooseLookupAttribute, lookupEvents } from '../forensics/cloudtrail/lookup-source.js'

const ORG = 'o-abcdefghij'
const D = (s: string): number => Date.parse(s)

function ctClient(endpoint: string, region = 'us-east-1'): CloudTrailClient {
  return new CloudTrailClient({ endpoint, region, maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
}

/** Independent reference: zcat + jq over the same files, deduplicated by eventID and sorted. */
function jqSlice(files: string[], start: string, end: string, expr: string): string[] {
  const prog = `.Records[] | select((.eventTime // .["@timestamp"]) as $t | $t >= "${start}" and $t < "${end}") | select(${expr}) | [(.eventTime // .["@timestamp"]), .eventID] | @tsv`
  const r = spawnSync('bash', ['-c', 'zcat "$@" | jq -r \'' + prog.replace(/'/g, "'\\''") + '\'', 'jq', ...files], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(r.stderr)
  const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string])
  const ms = rows.map(([ts, id]) => ({ time: Date.parse(ts), id, json: '' }))
  return dedupeAndSort(ms).events.map((e) => e.id)
}

const tmp = mkdtempSync(join(tmpdir(), 'ct-test-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

t.test('archive slices match jq over the same files, by every filter kind', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const s3 = new S3Client(emulator.clientConfig())
  const key = makeTrailKey()
  const server = await startCloudTrailServer({ publicKeys: [{ der: key.der, fingerprint: key.fingerprint, start: D('2020-01-01T00:00:00Z'), end: D('2030-01-01T00:00:00Z') }] })
  t.teardown(() => server.close())
  const start = D('2026-11-28T00:00:00Z')
  const end = D('2026-11-30T00:00:00Z')
  const a = generateEvents('111111111111', 'us-east-1', start, end, 700, 1)
  const scopes: ScopeSpec[] = [
    { account: '111111111111', orgId: ORG, region: 'us-east-1', trailName: 'org-trail', events: a },
    { account: '111111111111', orgId: ORG, region: 'eu-west-1', trailName: 'org-trail', events: generateEvents('111111111111', 'eu-west-1', start, end, 400, 2) },
    { account: '222222222222', orgId: ORG, region: 'us-east-1', trailName: 'org-trail', events: generateEvents('222222222222', 'us-east-1', start, end, 400, 3) },
    // An account trail in the same archive that also saw some of the org trail's events.
    { account: '333333333333', region: 'us-east-1', trailName: 'acct-trail', events: [...generateEvents('333333333333', 'us-east-1', start, end, 300, 4), ...a.slice(0, 40)] },
    { account: '123456789123', region: 'us-east-1', trailName: 'lab', events: loadDataset('otrf-ec2-proxy-s3-exfiltration') },
    { account: '591511147606', region: 'us-west-2', trailName: 'lab', events: loadDataset('splunk-s3-open-bucket') },
  ]
  const location = parseArchiveUrl('s3://trail-archive/org')
  const archive = buildArchive(location, scopes, key, { fileEveryMs: 3600_000 })
  const paths = writeArchive(tmp, archive)
  await uploadArchive(s3, archive)
  const logFiles = archive.logKeys.map((k) => paths.get(k)!)
  // Worker threads scan with the same compiled filter as this thread; the S3 path runs with
  // the default pool (the first case and the unfiltered run, where worker and thread results
  // are merged), the rest on this thread: each pool started from source is a thread that
  // loads the TypeScript loader again (about a second of CPU), which proves nothing more.
  const pooled = { s3, cloudTrailFor: (r: string) => ctClient(server.endpoint, r) }
  const deps = { ...pooled, workers: 0 }

  const ws = '2026-11-28T06:00:00Z'
  const we = '2026-11-29T18:00:00Z'
  const cases: Array<[string, SliceFilters, string]> = [
    ['principal (IAM user)', { principals: ['arn:aws:iam::111111111111:user/alice'] }, '.userIdentity.arn == "arn:aws:iam::111111111111:user/alice"'],
    ['principal (role, via session issuer)', { principals: ['arn:aws:iam::222222222222:role/Exfil'] }, '.userIdentity.sessionContext.sessionIssuer.arn == "arn:aws:iam::222222222222:role/Exfil"'],
    ['access key', { accessKeyIds: ['ASIADEPLOYER0000003', 'AKIABOB00000000000002'] }, '.userIdentity.accessKeyId == "ASIADEPLOYER0000003" or .userIdentity.accessKeyId == "AKIABOB00000000000002"'],
    ['source IPv4 CIDR', { sourceIps: ['203.0.113.0/24'] }, '(.sourceIPAddress // "") | startswith("203.0.113.")'],
    ['source IPv6 CIDR + exact IPv4', { sourceIps: ['2001:db8::/32', '10.1.2.3'] }, '.sourceIPAddress == "2001:db8::42" or .sourceIPAddress == "10.1.2.3"'],
    ['event name', { eventNames: ['PutBucketPolicy', 'DeleteObject'] }, '.eventName == "PutBucketPolicy" or .eventName == "DeleteObject"'],
    ['event source', { eventSources: ['sts.amazonaws.com'] }, '.eventSource == "sts.amazonaws.com"'],
    ['bucket', { buckets: ['payroll-data'] }, '.requestParameters.bucketName == "payroll-data"'],
    ['object key', { keys: ['exports/file-7.csv'] }, '.requestParameters.key == "exports/file-7.csv"'],
    ['key prefix + bucket', { keyPrefixes: ['reports/'], buckets: ['public-site'] }, '((.requestParameters.key // "") | startswith("reports/")) and .requestParameters.bucketName == "public-site"'],
    ['resource ARN', { resourceArns: ['arn:aws:s3:::logs-archive/tmp/file-3.csv'] }, '[.resources[]?.ARN] | index("arn:aws:s3:::logs-archive/tmp/file-3.csv") != null'],
    ['error any', { errorCode: 'any' }, '.errorCode != null'],
    ['error none + read-only', { errorCode: 'none', readOnly: true }, '.errorCode == null and .readOnly == true'],
    ['error code list + write', { errorCode: ['AccessDenied'], readOnly: false }, '.errorCode == "AccessDenied" and .readOnly == false'],
  ]
  // The filters are judged against jq over the archive's files as a folder (the same files, no
  // S3 round trips: each archive run costs the emulator every GetObject again); the S3 path
  // with a filter is the first case, and the unfiltered run below.
  const archiveDir = join(tmp, location.bucket)
  for (const [i, [name, filters, expr]] of cases.entries()) {
    const o = i === 0 ? await runSlice({ window: makeWindow(ws, we), filters, archive: { location } }, pooled) : await sliceDirectory(archiveDir, makeWindow(ws, we), filters, { workers: 0 })
    const ref = jqSlice(logFiles, ws, we, expr)
    t.ok(ref.length > 0, `${name}: the reference finds events`)
    t.same(o.events.map((e) => e.id), ref, `${name}: ${o.events.length} events, same as jq, same order`)
  }

  const o = await runSlice({ window: makeWindow(ws, we), filters: {}, archive: { location } }, pooled)
  const doc = buildSliceDocument(o)
  t.same(doc.sources.archive?.scopes.map((s) => `${s.orgId ?? '-'}/${s.account}/${s.region}`).sort(), ['-/123456789123/us-east-1', '-/333333333333/us-east-1', '-/591511147606/us-west-2', `${ORG}/111111111111/eu-west-1`, `${ORG}/111111111111/us-east-1`, `${ORG}/222222222222/us-east-1`], 'accounts, org ids and regions discovered')
  t.ok(o.duplicatesDropped >= 1, `duplicates across trails dropped (${o.duplicatesDropped})`)
  t.equal(doc.counts.byVerdict.valid, o.files.length, `all ${o.files.length} scanned files are valid against signed digests`)
  t.same(doc.counts.byVerdict, { valid: o.files.length })
  t.equal(doc.publicKeys[0].fingerprint, key.fingerprint, 'public key matched by fingerprint')
  t.ok(o.files.every((f) => f.sha256 && f.uncompressedSha256 && f.etag), 'files carry SHA-256 and ETag')
  const total = Object.values(doc.counts.byEventName).reduce((x, y) => x + y, 0)
  t.equal(total, o.events.length, 'counts by event name add up')
  const lines = gunzipSync(await streamToBuffer(eventLinesGz(o.events))).toString().trim().split('\n')
  t.equal(lines.length, o.events.length, 'events.jsonl.gz has one line per event')
  t.ok(publicKeysDocument(o, (v) => v.toString('base64'))[0].valueBase64)

  t.test('restricting accounts and regions; the dataset scopes', async (t) => {
    const r = await runSlice({ window: makeWindow('2020-09-14T00:00:00Z', '2020-09-15T00:00:00Z'), filters: { eventNames: ['GetObject'] }, archive: { location, accounts: ['123456789123'], regions: ['us-east-1'] } }, deps)
    t.equal(r.scopes.length, 1)
    const ref = jqSlice(logFiles, '2020-09-14T00:00:00Z', '2020-09-15T00:00:00Z', '.eventName == "GetObject"')
    t.ok(ref.length > 0)
    t.same(r.events.map((e) => e.id), ref, 'otrf events without eventTime sliced by @timestamp')
    const sp = await runSlice({ window: makeWindow('2025-02-11T00:00:00Z', '2025-02-12T00:00:00Z'), filters: {}, archive: { location, accounts: ['591511147606'] } }, deps)
    t.equal(sp.events.length, 9, 'splunk export: 12 rows, 9 distinct events')
    t.equal(sp.duplicatesDropped, 3)
  })

  t.test('LookupEvents and archive together deduplicate', async (t) => {
    server.state.events = a.filter((e) => e.eventName === 'PutBucketPolicy')
    const r = await runSlice({ window: makeWindow(ws, we), filters: { eventNames: ['PutBucketPolicy'] }, archive: { location, accounts: ['111111111111'], regions: ['us-east-1'] }, lookup: { regions: ['us-east-1'] } }, { ...deps, lookupOptions: { rps: 50 } })
    const archiveOnly = await runSlice({ window: makeWindow(ws, we), filters: { eventNames: ['PutBucketPolicy'] }, archive: { location, accounts: ['111111111111'], regions: ['us-east-1'] } }, deps)
    t.same(r.events.map((e) => e.id), archiveOnly.events.map((e) => e.id))
    t.equal(r.lookup?.attribute?.key, 'EventName')
    t.ok(r.duplicatesDropped > 0)
  })

  t.test('tampering is detected', async (t) => {
    const tl = parseArchiveUrl('s3://tamper-archive')
    const ev = generateEvents('444444444444', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T06:00:00Z'), 120, 9)
    const small = buildArchive(tl, [{ account: '444444444444', region: 'us-east-1', trailName: 't', events: ev }], key, { fileEveryMs: 3600_000 })
    await uploadArchive(s3, small)
    const [f0, f1, , f3] = small.logKeys
    // One byte changed after delivery.
    const plain = gunzipSync(small.objects.find((o) => o.key === f0)!.body)
    plain[plain.indexOf('aws-cli')] = 'b'.charCodeAt(0)
    await s3.send(new PutObjectCommand({ Bucket: tl.bucket, Key: f0, Body: gzipSync(plain) }))
    // The digest listing f1 removed: the chain breaks.
    const digestOf = (k: string): string => small.digestKeys.find((d) => (JSON.parse(gunzipSync(small.objects.find((o) => o.key === d)!.body).toString()) as { logFiles: Array<{ s3Object: string }> }).logFiles.some((l) => l.s3Object === k))!
    const removed = digestOf(f1)
    await s3.send(new DeleteObjectCommand({ Bucket: tl.bucket, Key: removed }))
    // The digest listing f3 re-signed with a forged signature.
    const forged = digestOf(f3)
    const fo = small.objects.find((o) => o.key === forged)!
    await s3.send(new PutObjectCommand({ Bucket: tl.bucket, Key: forged, Body: fo.body, Metadata: { ...fo.metadata, signature: 'ab'.repeat(256) } }))
    // A file CloudTrail never delivered.
    const injected = f3.replace(/_[A-Za-z0-9]+\.json\.gz$/, '_INJECTED0000000.json.gz')
    await s3.send(new PutObjectCommand({ Bucket: tl.bucket, Key: injected, Body: gzipSync(JSON.stringify({ Records: [] })) }))

    const r = await runSlice({ window: makeWindow('2026-11-28T00:00:00Z', '2026-11-28T06:00:00Z'), filters: {}, archive: { location: tl } }, deps)
    const verdict = (k: string): string | undefined => r.files.find((f) => f.key === k)?.verdict
    t.equal(verdict(f0), 'hash-mismatch', 'one byte changed → hash-mismatch')
    t.equal(verdict(f1), 'digest-missing', 'file of the removed digest → digest-missing')
    t.equal(verdict(f3), 'signature-invalid', 'forged digest signature → signature-invalid')
    t.equal(verdict(injected), 'not-covered', 'file no digest lists → not-covered')
    t.ok(r.chain.some((c) => c.kind === 'previous-digest-missing' && c.previous === removed), 'the broken chain names the removed digest')
    t.ok(r.errors.some((e) => e.code === 'previous-digest-missing'))
    t.match(r.digests.find((d) => d.key === forged), { status: 'signature-invalid', reason: /does not verify/ })
    t.ok(r.files.filter((f) => ![f0, f1, f3, injected].includes(f.key!)).every((f) => f.verdict === 'valid'), 'the other files stay valid')
    // The digest metadata carries the signature as S3 stores it.
    const head = await s3.send(new HeadObjectCommand({ Bucket: tl.bucket, Key: small.digestKeys[0] }))
    t.equal(head.Metadata?.['signature-algorithm'], 'SHA256withRSA')
    const g = await s3.send(new GetObjectCommand({ Bucket: tl.bucket, Key: f0 }))
    t.ok(g.ETag)
  })
})

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of s) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

t.test('robust to real data: each bad file is recorded, the rest processed', async (t) => {
  const dir = join(tmp, 'messy')
  mkdirSync(join(dir, 'sub'), { recursive: true })
  const ev = generateEvents('555555555555', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T01:00:00Z'), 200, 11)
  const doc = gzipSync(JSON.stringify({ Records: ev.slice(0, 100) }))
  writeFileSync(join(dir, 'good.json.gz'), doc)
  writeFileSync(join(dir, 'truncated.json.gz'), doc.subarray(0, Math.floor(doc.length / 2)))
  const lines = ev.slice(100, 150).map((e) => JSON.stringify(e))
  lines.splice(10, 0, 'this is not json', '{"broken": ', '[1,2]')
  writeFileSync(join(dir, 'sub', 'export.jsonl'), lines.join('\n') + '\n')
  writeFileSync(join(dir, 'dupes.json'), JSON.stringify({ Records: [...ev.slice(150, 200), ...ev.slice(150, 160)] }, null, 2))
  writeFileSync(join(dir, 'undated.jsonl.gz'), gzipSync(readFileSync(join(DATASETS, 'otrf-ec2-proxy-s3-exfiltration', 'events.jsonl')).toString().replace(/"@timestamp":"[^"]*",?/g, '')))
  writeFileSync(join(dir, 'empty.json.gz'), gzipSync(''))
  writeFileSync(join(dir, 'garbage.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7]))
  const w = makeWindow('2026-11-28T00:00:00Z', '2026-11-28T02:00:00Z')
  for (const workers of [0, 2]) {
    const r = await sliceDirectory(dir, w, {}, { workers })
    const byName = (n: string) => r.files.find((f) => f.path!.endsWith(n))!
    t.equal(byName('good.json.gz').matched, 100, `good file fully read (workers=${workers})`)
    t.match(byName('truncated.json.gz').error, /truncated|unexpected end/, 'truncated gzip recorded')
    t.ok(byName('truncated.json.gz').matched > 0, 'records before the truncation kept')
    t.equal(byName('export.jsonl').badRecords, 3, 'non-JSON lines counted')
    t.match(byName('export.jsonl').problems[0], /^line 11:/)
    t.equal(byName('export.jsonl').matched, 50)
    t.equal(byName('undated.jsonl.gz').undated, 103, 'events without eventTime counted, not sliced')
    t.equal(byName('empty.json.gz').records, 0)
    t.match(byName('garbage.gz').error, /gzip/)
    t.ok(r.errors.some((e) => e.code === 'BadLogFile' && e.what.endsWith('truncated.json.gz')))
    t.ok(r.errors.some((e) => e.code === 'BadRecords' && e.what.endsWith('export.jsonl')))
    const dupes = byName('dupes.json')
    t.equal(dupes.matched, 60)
    const good = new Set(r.events.map((e) => e.id))
    t.equal(good.size, r.events.length, 'no duplicate eventIDs in the output')
    t.ok(r.duplicatesDropped >= 10)
    t.ok(r.events.every((e, i) => i === 0 || r.events[i - 1].time <= e.time), 'sorted by eventTime')
  }

  t.test('a huge file streams with bounded memory', async (t) => {
    const big = join(tmp, 'big')
    mkdirSync(big)
    const many = generateEvents('666666666666', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T01:00:00Z'), 150_000, 12)
    const plain = Buffer.from(JSON.stringify({ Records: many }))
    writeFileSync(join(big, 'huge.json.gz'), gzipSync(plain, { level: 1 }))
    const before = process.memoryUsage().rss
    const r = await sliceDirectory(big, makeWindow('2026-11-28T00:00:00Z', '2026-11-28T01:00:00Z'), { eventNames: ['AssumeRole'], sourceIps: ['10.1.2.3'] }, { workers: 0 })
    t.ok(plain.length > 100e6, `file is ${(plain.length / 1e6).toFixed(0)} MB uncompressed`)
    t.equal(r.files[0].records, 150_000)
    t.equal(r.events.length, many.filter((e) => e.eventName === 'AssumeRole' && e.sourceIPAddress === '10.1.2.3').length)
    t.ok(process.memoryUsage().rss - before < 200e6, 'memory grew by much less than the file size')
  })
})

t.test('LookupEvents against a recorded-response server', async (t) => {
  const events = generateEvents('777777777777', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-29T00:00:00Z'), 240, 21)
  const server = await startCloudTrailServer({ events, pageSize: 10 })
  t.teardown(() => server.close())
  const w = makeWindow('2026-11-28T03:00:00Z', '2026-11-28T21:00:00Z')
  const expected = (pred: (e: Record<string, unknown>) => boolean): string[] =>
    dedupeAndSort(events.filter((e) => Date.parse(String(e.eventTime)) >= w.start && Date.parse(String(e.eventTime)) < w.end && pred(e)).map((e) => ({ time: Date.parse(String(e.eventTime)), id: String(e.eventID), json: '' }))).events.map((e) => e.id)

  t.test('one attribute per call, the most selective; the rest client-side; paging', async (t) => {
    server.requests.length = 0
    const filters: SliceFilters = { eventNames: ['GetObject'], sourceIps: ['203.0.113.0/24'], accessKeyIds: ['AKIAALICE0000000001'] }
    const r = await lookupEvents(filters, w, { regions: ['us-east-1'], clientFor: (rg) => ctClient(server.endpoint, rg), rps: 100 })
    t.same(r.attribute, { key: 'AccessKeyId', values: ['AKIAALICE0000000001'] })
    t.ok(server.requests.every((q) => ((q.body.LookupAttributes as unknown[] | undefined) ?? []).length <= 1), 'never more than one lookup attribute')
    t.ok(r.calls > 1, `paged through ${r.calls} pages`)
    const ids = dedupeAndSort(r.events).events.map((e) => e.id)
    t.same(ids, expected((e) => e.eventName === 'GetObject' && String(e.sourceIPAddress).startsWith('203.0.113.') && (e.userIdentity as { accessKeyId: string }).accessKeyId === 'AKIAALICE0000000001'))
    t.ok(ids.length > 0)
  })

  t.test('attribute choice', async (t) => {
    t.equal(chooseLookupAttribute({ principals: ['arn:aws:sts::1:assumed-role/R/s'] }), null, 'malformed ARN gives no Username')
    t.same(chooseLookupAttribute({ principals: ['arn:aws:sts::123456789012:assumed-role/R/sess'], eventNames: ['X'] }), { key: 'Username', values: ['sess'] })
    t.same(chooseLookupAttribute({ principals: ['arn:aws:iam::123456789012:role/R'], buckets: ['b'] }), { key: 'ResourceName', values: ['b'] }, 'a role ARN has no user name: next best')
    t.same(chooseLookupAttribute({ eventNames: ['a', 'b', 'c', 'd'], eventSources: ['s3.amazonaws.com'] }), { key: 'EventSource', values: ['s3.amazonaws.com'] })
    t.same(chooseLookupAttribute({ eventNames: ['a', 'b', 'c', 'd'] }), { key: 'EventName', values: ['a', 'b', 'c', 'd'] })
    t.same(chooseLookupAttribute({ readOnly: false }), { key: 'ReadOnly', values: ['false'] })
    t.equal(chooseLookupAttribute({ sourceIps: ['10.0.0.0/8'] }), null)
  })

  t.test('ThrottlingException is retried with backoff', async (t) => {
    server.requests.length = 0
    server.state.throttle = new Set([1, 2, 4])
    const r = await lookupEvents({ eventNames: ['PutBucketPolicy'] }, w, { regions: ['us-east-1'], clientFor: (rg) => ctClient(server.endpoint, rg), rps: 100, baseDelayMs: 20 })
    t.equal(r.throttled, 3)
    t.same(dedupeAndSort(r.events).events.map((e) => e.id), expected((e) => e.eventName === 'PutBucketPolicy'), 'nothing lost to throttling')
    const gap = server.requests[1].at - server.requests[0].at
    t.ok(gap >= 9, `backed off ${gap} ms before retrying`)
    server.state.throttle = new Set(Array.from({ length: 100 }, (_, i) => i + 1))
    await t.rejects(lookupEvents({ eventNames: ['PutBucketPolicy'] }, w, { regions: ['us-east-1'], clientFor: (rg) => ctClient(server.endpoint, rg), maxAttempts: 3, baseDelayMs: 1 }), { name: 'StorageError', message: /still throttled after 3 attempts/ })
    server.state.throttle = new Set()
  })

  t.test('2 requests per second per region by default', async (t) => {
    // the gate's spacing on an injected clock: sleeping advances it exactly, so the test
    // measures the gate, not how late the event loop of a loaded machine wakes up
    server.state.pageSize = 40
    let clock = 1_000_000
    const sent: Array<{ region: string; at: number }> = []
    const slept: number[] = []
    const clientFor = (rg: string): CloudTrailClient => {
      const c = ctClient(server.endpoint, rg)
      c.middlewareStack.add((next) => async (args) => {
        sent.push({ region: rg, at: clock })
        return next(args)
      }, { step: 'initialize' })
      return c
    }
    const r = await lookupEvents({ readOnly: false }, w, { regions: ['us-east-1', 'eu-west-1'], clientFor, now: () => clock, sleep: async (ms) => { slept.push(ms); clock += ms } })
    for (const rg of ['us-east-1', 'eu-west-1']) {
      const at = sent.filter((q) => q.region === rg).map((q) => q.at)
      t.ok(at.length >= 3, `${rg}: ${at.length} calls`)
      t.same(at.slice(1).map((a, i) => a - at[i]), at.slice(1).map(() => 500), `${rg}: each call 500 ms after the previous (2/s)`)
    }
    const first = sent.findIndex((q) => q.region === 'eu-west-1')
    t.equal(sent[first].at, sent[first - 1].at, 'each region has its own limit: the first call in eu-west-1 does not wait for us-east-1\'s')
    t.ok(slept.every((ms) => ms === 500), 'the gate sleeps only to space calls')
    t.ok(r.events.length > 0)
    server.state.pageSize = 10
  })

  t.test('errors name the fix', async (t) => {
    const bad = ctClient('http://127.0.0.1:1')
    await t.rejects(lookupEvents({}, w, { regions: ['us-east-1'], clientFor: () => bad }), { name: 'StorageError', message: /LookupEvents in us-east-1 failed/ })
  })
})
