/**
 * Writing and reading bundle archives: the deterministic archive writer
 * (forensics/bundle/archive-writer.ts) and the zip / tar.gz reader (bundle-reader.ts),
 * including entries a hostile or broken archive may hold, and how the verifier reports them.
 */
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip, deflateRawSync } from 'node:zlib'
import tar from 'tar-stream'
import { DeterministicArchive } from '../forensics/bundle/archive-writer.js'
import { readBundleMembers, readTarGzMembers, readZipMembers } from '../forensics/bundle/bundle-reader.js'
import { verifyBundleFile } from '../forensics/bundle/verify-bundle.js'
import { tempDir } from './fixtures/bundle-cli.js'
import { rawZip, writeArchive } from './fixtures/raw-zip.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('the archive writer counts what it wrote and, once failed, rejects the pending and every later entry', async (t) => {
  const sink = new PassThrough()
  sink.resume()
  const a = new DeterministicArchive('zip', sink)
  t.equal(a.pointer, 0)
  await a.add('a.txt', Buffer.from('hello'), { size: 5 })
  t.ok(a.pointer > 5, 'the pointer counts the local header and data')
  a.fail(new Error('disk full'))
  a.fail(new Error('second failure is ignored'))
  await t.rejects(a.add('b.txt', Buffer.from('x'), { size: 1 }), { message: 'disk full' })
  await t.rejects(a.finish(), { message: 'disk full' })
  a.abort()

  // a failure while an entry is pending rejects that entry
  const slow = new PassThrough()
  const b = new DeterministicArchive('tar.gz', slow)
  const src = new PassThrough()
  const pending = b.add('big.bin', src, { size: 10 })
  b.fail(new Error('output gone'))
  await t.rejects(pending, { message: 'output gone' })
  b.abort()
  src.destroy()
})

t.test('large zip members are hashed while streaming, a size the directory lies about is reported, tar directories are skipped', async (t) => {
  const dir = tempDir(t)
  // 1.5 MiB of random JSON-named bytes: deflated, compressed size above the one-read limit
  const big = randomBytes(1536 * 1024)
  const small = Buffer.from('{"ok":true}')
  const zip = join(dir, 'big.zip')
  await writeArchive(zip, 'zip', [{ name: 'artifacts/c/big.json', bytes: big }, { name: 'doc.json', bytes: small }])
  const read = await readZipMembers(zip, { keepAllBytes: true })
  t.same(read.map((m) => [m.name, m.size, m.sha256, m.readError]), [['artifacts/c/big.json', big.length, sha(big), undefined], ['doc.json', small.length, sha(small), undefined]])
  t.ok(read[0].bytes?.equals(big), 'kept with keepAllBytes')
  const plain = await readZipMembers(zip)
  t.equal(plain[0].bytes, undefined, 'artifacts are not kept by default')
  t.ok(plain[1].bytes?.equals(small))

  // the central directory claims one byte more than the data inflates to
  const bytes = readFileSync(zip)
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
  t.ok(cd > 0)
  bytes.writeUInt32LE(bytes.readUInt32LE(cd + 24) + 1, cd + 24)
  const lying = join(dir, 'lying.zip')
  writeFileSync(lying, bytes)
  const lied = await readZipMembers(lying)
  t.equal(lied[0].readError, `${big.length} bytes, the zip directory says ${big.length + 1}`)
  t.equal(lied[1].readError, undefined)
  const v = await verifyBundleFile(lying)
  t.ok(v.findings.some((f) => f.check === 'archive' && f.member === 'artifacts/c/big.json' && /could not be read/.test(f.message)))

  // tar.gz with a directory entry and a symlink: the directory is skipped
  const pack = tar.pack()
  pack.entry({ name: 'manifests/', type: 'directory' })
  pack.entry({ name: 'manifests/x.txt' }, 'hi')
  pack.entry({ name: 'link', type: 'symlink', linkname: '/etc/passwd' })
  pack.finalize()
  const tgz = join(dir, 'dirs.tar.gz')
  await pipeline(pack, createGzip(), createWriteStream(tgz))
  const members = await readTarGzMembers(tgz)
  t.same(members.map((m) => [m.name, m.type, m.size]), [['manifests/x.txt', undefined, 2], ['link', 'symlink', 0]])
  const both = await readBundleMembers(tgz)
  t.equal(both.format, 'tar.gz')
})

t.test('zip reader: entries archiver never writes', async (t) => {
  const dir = tempDir(t)
  const big = randomBytes(1100 * 1024)
  const file = join(dir, 'raw.zip')
  writeFileSync(
    file,
    rawZip([
      { name: 'dir/' },
      { name: 'd2', mode: 0o040755 },
      { name: Buffer.from('ünï.txt', 'utf8'), flags: 0x800, data: Buffer.from('abc') },
      { name: Buffer.from([0x63, 0xe9]), data: Buffer.from('latin1') },
      { name: 'link', mode: 0o120777, data: Buffer.from('/etc/passwd') },
      { name: 'fifo', mode: 0o010644 },
      { name: 'no-mode', mode: 0, data: Buffer.from('x') },
      { name: 'enc.bin', flags: 0x1, data: Buffer.alloc(18), uncompressedSize: 6 }, // 12 bytes of encryption header
      { name: 'bz.bin', method: 12, data: Buffer.from('BZh') },
      { name: 'nohdr.bin', data: Buffer.from('zz'), localOffset: 1 },
      { name: 'empty.txt', data: Buffer.alloc(0) },
      { name: 'lie.txt', method: 8, data: deflateRawSync(Buffer.from('hello')), uncompressedSize: 6 },
      { name: 'big.bin', data: big },
      { name: 'huge.bin', method: 8, data: Buffer.alloc(0), uncompressedSize: 40 * 1024 * 1024 },
      { name: 'cut.bin', data: Buffer.from('0123456789'), compressedSize: 100, uncompressedSize: 100, afterDirectory: true },
    ]),
  )
  const ms = await readZipMembers(file, { keepAllBytes: true })
  const by = new Map(ms.map((m) => [m.name, m]))
  t.same(ms.map((m) => m.name), ['ünï.txt', 'c\u00e9', 'link', 'fifo', 'no-mode', 'enc.bin', 'bz.bin', 'nohdr.bin', 'empty.txt', 'lie.txt', 'big.bin', 'huge.bin', 'cut.bin'], 'directories skipped; names utf8 or latin1 by the flag')
  t.equal(by.get('ünï.txt')?.bytes?.toString(), 'abc')
  t.equal(by.get('c\u00e9')?.bytes?.toString(), 'latin1')
  t.equal(by.get('link')?.type, 'symlink')
  t.equal(by.get('fifo')?.type, 'mode 10000')
  t.equal(by.get('no-mode')?.type, undefined, 'no unix mode is a regular file')
  t.equal(by.get('enc.bin')?.readError, 'encrypted')
  t.equal(by.get('bz.bin')?.readError, 'compression method 12 is not supported')
  t.equal(by.get('nohdr.bin')?.readError, 'local file header missing')
  t.same([by.get('empty.txt')?.size, by.get('empty.txt')?.sha256, by.get('empty.txt')?.readError], [0, sha(Buffer.alloc(0)), undefined])
  t.equal(by.get('lie.txt')?.readError, '5 bytes, the zip directory says 6')
  t.same([by.get('big.bin')?.size, by.get('big.bin')?.sha256, by.get('big.bin')?.readError], [big.length, sha(big), undefined], 'a large stored member is hashed while streaming')
  t.equal(by.get('huge.bin')?.readError, `0 bytes, the zip directory says ${40 * 1024 * 1024}`)
  t.equal(by.get('cut.bin')?.readError, 'member data cut short')

  // the verifier turns each into a finding naming the member
  const v = await verifyBundleFile(file)
  for (const name of ['link', 'fifo', 'enc.bin', 'bz.bin', 'nohdr.bin', 'lie.txt', 'huge.bin', 'cut.bin']) {
    t.ok(v.findings.some((f) => f.check === 'archive' && f.member === name), `${name} is an archive finding`)
  }
})
