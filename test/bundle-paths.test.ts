import t from 'tap'
import { encodeArchivePath, isSafeMemberName, mapArchivePaths, MAX_PATH } from '../forensics/bundle/archive-paths.js'
import { formatSha256Sums, parseBundleIndex, parseSha256Sums, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { shouldDeflate } from '../forensics/bundle/archive-writer.js'
import { HOSTILE } from './fixtures/bundle-hostile-keys.js'

t.test('every hostile key maps to a safe, unique, portable path', async (t) => {
  const map = mapArchivePaths(HOSTILE)
  t.equal(map.size, HOSTILE.length)
  const lower = new Set<string>()
  const paths = [...map.values()]
  for (const [key, path] of map) {
    t.ok(isSafeMemberName(path), `${JSON.stringify(key.slice(0, 40))} -> ${path} is safe`)
    t.ok(path.length <= MAX_PATH + 12, `${path} is short (${path.length})`)
    t.notOk(lower.has(path.toLowerCase()), `${path} is unique ignoring case`)
    lower.add(path.toLowerCase())
    t.match(path, /^[A-Za-z0-9._%~/-]+$/, 'plain ASCII')
  }
  // no path is also a directory of another (file/dir clash on unpack)
  for (const p of paths) t.notOk(paths.some((q) => q.toLowerCase().startsWith(p.toLowerCase() + '/')), `${p} is not a directory of another path`)
  t.equal(map.get('../../etc/passwd'), '%2E%2E/%2E%2E/etc/passwd')
  t.equal(map.get('/abs'), '_/abs')
  t.equal(map.get('C:\\x'), 'C%3A/x')
  t.equal(map.get('CON'), '_CON')
  t.equal(map.get('nul.tar.gz'), '_nul.tar.gz')
  t.equal(map.get('.hidden'), '%2Ehidden')
  t.equal(map.get('trailing.'), 'trailing%2E')
  t.equal(map.get('ünïcödé/日本語.txt'), '%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt')
  const once = mapArchivePaths(['versions/reports%2Fq1.csv/v1', 'versions/100%25 sure/v1', 'literal%zz%4', 'lower%2fhex'])
  t.equal(once.get('versions/reports%2Fq1.csv/v1'), 'versions/reports%2Fq1.csv/v1', 'a key percent-encoded by keys.ts is encoded once, not %252F')
  t.equal(once.get('versions/100%25 sure/v1'), 'versions/100%25%20sure/v1', 'escapes kept, the rest encoded')
  t.equal(once.get('literal%zz%4'), 'literal%25zz%254', 'a percent that starts no escape is encoded')
  t.equal(once.get('lower%2fhex'), 'lower%252fhex', 'only uppercase escapes (what keys.ts writes) are kept')
  t.not(map.get('u\u0065\u0301'), map.get('u\u00e9'), 'unicode normal forms stay distinct')
  t.match(map.get('a'.repeat(1000))!, /^a{60}~[0-9a-f]{16}$/)
  t.match(map.get(('ab/'.repeat(400)) + 'end')!, /^~long\/[0-9a-f]{32}-end$/)
  t.equal(map.get('REPORT.JSON'), 'REPORT.JSON', 'the first in sort order keeps its name')
  t.match(map.get('report.json')!, /^report~[0-9a-f]{12}\.json$/, 'case clash resolved by a suffix, extension kept')
  t.match(map.get('x')!, /^x~[0-9a-f]{12}$/, 'file/dir clash resolved by a suffix')
})

t.test('the mapping depends only on the set of names', async (t) => {
  const a = mapArchivePaths(HOSTILE)
  const b = mapArchivePaths([...HOSTILE].reverse())
  t.same([...a.entries()].sort(), [...b.entries()].sort())
  t.equal(encodeArchivePath('plain/path.json'), 'plain/path.json', 'ordinary paths stay readable')
})

t.test('collisions of suffixed names are resolved too', async (t) => {
  const names = ['a', 'A', 'a~' + 'x'.repeat(3)]
  const map = mapArchivePaths(names)
  t.equal(new Set([...map.values()].map((p) => p.toLowerCase())).size, 3)
})

t.test('isSafeMemberName rejects what an unpacker could misuse', async (t) => {
  for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', 'C:x', 'a\\b', 'CON', 'dir/nul.txt', 'x.', 'caf\u00e9', 'sp ace', 'x'.repeat(256)]) {
    t.notOk(isSafeMemberName(bad), JSON.stringify(bad))
  }
  t.ok(isSafeMemberName('artifacts/c-0123/x%2Fy.json'))
})

t.test('SHA256SUMS: coreutils format both ways', async (t) => {
  const h = 'a'.repeat(64)
  const text = formatSha256Sums([{ path: 'b', sha256: h }, { path: 'a', sha256: h }])
  t.equal(text, `${h}  a\n${h}  b\n`)
  const parsed = parseSha256Sums(`${text}${h} *c\nnot a line\n${h}  a\n`)
  t.same([...parsed.entries.keys()], ['a', 'b', 'c'])
  t.same(parsed.invalidLines, [4])
  t.same(parsed.duplicates, ['a'])
})

t.test('bundle.json parsing names what is wrong', async (t) => {
  t.throws(() => parseBundleIndex(Buffer.from('{')), /not JSON/)
  t.throws(() => parseBundleIndex(Buffer.from('{"schema":"x"}')), /not a forensics.bundle\/v2/)
  t.throws(() => parseBundleIndex(Buffer.from('{"schema":"forensics.bundle/v2"}')), /lacks/)
  t.throws(() => parseBundleIndex(Buffer.from('{"schema":"forensics.bundle/v1","caseId":"c","captures":[],"files":[],"custodyHead":null}')), /earlier cdktf-forensics.*sha256sum -c SHA256SUMS/, 'a v1 bundle is refused by name, with what still checks it')
  const base = { schema: 'forensics.bundle/v2', caseId: 'c', captures: [], files: [], custodyHead: null }
  t.throws(() => parseBundleIndex(Buffer.from(JSON.stringify({ ...base, files: [{ path: 'x' }] }))), /files\[0\]/)
  t.throws(() => parseBundleIndex(Buffer.from(JSON.stringify({ ...base, captures: [{}] }))), /captures\[0\]/)
  t.throws(() => parseBundleIndex(Buffer.from(JSON.stringify({ ...base, custodyHead: { seq: 'x' } }))), /custodyHead/)
  t.equal(parseBundleIndex(Buffer.from(JSON.stringify(base))).caseId, 'c')
  const parse = (doc: unknown): unknown => parseBundleIndex(Buffer.from(JSON.stringify(doc)))
  t.throws(() => parse([1]), { message: /is not a forensics.bundle\/v2 index/ })
  t.throws(() => parse({ ...base, schema: 'other' }), { message: /is not a forensics.bundle\/v2 index/ })
  t.throws(() => parse({ ...base, caseId: 7 }), { message: /lacks caseId, captures or files/ })
  t.throws(() => parse({ ...base, captures: {} }), { message: /lacks caseId, captures or files/ })
  t.throws(() => parse({ ...base, captures: [{ captureId: 'x' }, null] }), { message: /captures\[1\] needs a captureId/ })
  t.throws(() => parse({ ...base, custodyHead: { seq: 0, hash: 'nothex' } }), { message: /custodyHead must be null or \{seq, hash\}/ })
  t.throws(() => parse({ ...base, custodyHead: 'head' }), { message: /custodyHead must be null/ })
  t.throws(() => parse({ ...base, custodyHead: { seq: '0', hash: 'a'.repeat(64) } }), { message: /custodyHead must be null/ })
  t.same((parse({ ...base, custodyHead: { seq: 0, hash: 'a'.repeat(64) } }) as BundleIndex).custodyHead, { seq: 0, hash: 'a'.repeat(64) })
})

t.test('archive paths: forbidden characters, and a name given twice', async (t) => {
  for (const bad of ['a:b', 'a|b', 'x/y?z', 'q"', 'lt<', 'gt>', 'star*']) t.notOk(isSafeMemberName(bad), bad)
  t.ok(isSafeMemberName('a%3Ab'))
  const m = mapArchivePaths(['b', 'a', 'b', 'A'])
  t.equal(m.size, 3, 'a name given twice maps once')
  t.equal(m.get('A'), 'A')
  t.match(m.get('a'), /^a~[0-9a-f]{12}$/, 'a case clash gets a hash suffix')
})

t.test('zip members are deflated only when they are text', async (t) => {
  t.ok(shouldDeflate('SHA256SUMS'))
  t.ok(shouldDeflate('a/b.json'))
  t.ok(shouldDeflate('a/b.bin', 'application/json'))
  t.notOk(shouldDeflate('a/trail.json.gz'))
  t.notOk(shouldDeflate('manifests/x/manifest.json.sig'))
})
