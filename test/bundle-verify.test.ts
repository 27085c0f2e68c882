/**
 * Offline verification of a bundle's members (forensics/bundle/verify-bundle.ts and
 * bundle-checks.ts): the less common findings, a REPORT.md that cannot be re-derived, and a
 * check that crashes.
 */
import t from 'tap'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { MEMBER } from '../forensics/bundle/bundle-layout.js'
import { readBundleMembers, type BundleMember } from '../forensics/bundle/bundle-reader.js'
import { verifyBundleMembers } from '../forensics/bundle/verify-bundle.js'
import { seededMemoryCase } from './fixtures/bundle-case.js'
import { tempDir } from './fixtures/bundle-cli.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('each tampered member is a finding: unreadable report, bad or RSA public key, junk SHA256SUMS line, bundle.json not JSON, missing signature or custody head', async (t) => {
  const { store, signer } = await seededMemoryCase()
  const sink = new PassThrough()
  const chunks: Buffer[] = []
  sink.on('data', (c: Buffer) => chunks.push(c))
  await buildBundle({ store, signer, caseId: 'case-b', output: { stream: sink }, recordCustody: false })
  const dir = tempDir(t)
  const file = join(dir, 'b.zip')
  writeFileSync(file, Buffer.concat(chunks))
  const { members } = await readBundleMembers(file, { keepAllBytes: true })
  t.ok(verifyBundleMembers(members).ok, 'the unmodified bundle verifies')
  const byName = (ms: BundleMember[], n: string): BundleMember => ms.find((m) => m.name === n)!
  const edit = (fn: (ms: BundleMember[]) => void): ReturnType<typeof verifyBundleMembers> => {
    const ms = members.map((m) => ({ ...m }))
    fn(ms)
    return verifyBundleMembers(ms)
  }
  const set = (m: BundleMember, bytes: Buffer): void => {
    Object.assign(m, { bytes, size: bytes.length, sha256: sha(bytes) })
  }

  const tooBig = edit((ms) => {
    byName(ms, MEMBER.report).bytes = undefined
  })
  t.ok(tooBig.findings.some((f) => f.check === 'required' && /REPORT.md is too large/.test(f.message)))

  const badKey = edit((ms) => set(byName(ms, MEMBER.publicKey), Buffer.from('not a pem')))
  t.ok(badKey.findings.some((f) => f.check === 'public-key' && /not an EC P-256 public key/.test(f.message)))

  const rsa = edit((ms) => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    set(byName(ms, MEMBER.publicKey), Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()))
  })
  t.ok(rsa.findings.some((f) => f.check === 'public-key' && /not an EC P-256 key/.test(f.message)))

  const sums = edit((ms) => set(byName(ms, MEMBER.sums), Buffer.from(byName(ms, MEMBER.sums).bytes!.toString() + 'garbage line\n')))
  t.ok(sums.findings.some((f) => f.check === 'sha256sums' && /line \d+ is not/.test(f.message)))

  const idx = edit((ms) => set(byName(ms, MEMBER.index), Buffer.from('{')))
  t.ok(idx.findings.some((f) => f.check === 'index' && /is not JSON/.test(f.message)))
  t.equal(idx.caseId, undefined)
  t.equal(idx.custodyHead, undefined)

  const sigGone = edit((ms) => {
    const i = ms.findIndex((m) => m.name.endsWith('manifest.json.sig'))
    ms.splice(i, 1)
  })
  t.ok(sigGone.findings.some((f) => f.check === 'manifests' && /is missing/.test(f.message)))

  const headGone = edit((ms) => {
    const i = ms.findIndex((m) => m.name.startsWith('custody/'))
    ms.splice(i, 1)
  })
  t.ok(headGone.findings.some((f) => f.check === 'custody' && /the custody head in bundle.json\) is missing/.test(f.message)))
})

t.test('verifier: a report that cannot be re-derived and a check that crashes are findings', async (t) => {
  const { store, signer } = await seededMemoryCase()
  const chunks: Buffer[] = []
  const sink = new PassThrough()
  sink.on('data', (c: Buffer) => chunks.push(c))
  await buildBundle({ store, signer, caseId: 'case-b', format: 'tar.gz', output: { stream: sink }, recordCustody: false })
  const dir = tempDir(t)
  const file = join(dir, 'b.tar.gz')
  writeFileSync(file, Buffer.concat(chunks))
  const { format, members } = await readBundleMembers(file, { keepAllBytes: true })
  t.equal(format, 'tar.gz')
  const set = (ms: BundleMember[], name: string, bytes: Buffer): BundleMember[] =>
    ms.map((m) => (m.name === name ? { ...m, bytes, size: bytes.length, sha256: sha(bytes) } : m))

  // bundle.json without its publicKey block: REPORT.md cannot be rendered from it
  const index = JSON.parse(members.find((m) => m.name === MEMBER.index)!.bytes!.toString()) as Record<string, unknown>
  delete index.publicKey
  const noKey = verifyBundleMembers(set(members, MEMBER.index, Buffer.from(JSON.stringify(index))))
  t.ok(noKey.findings.some((f) => f.check === 'report' && f.member === MEMBER.report && /cannot be re-derived from the bundled evidence/.test(f.message)))

  // a custody entry with a number JSON parses but canonical JSON cannot encode
  const custodyName = members.find((m) => m.name.startsWith('custody/'))!.name
  const crash = verifyBundleMembers(set(members, custodyName, Buffer.from('{"seq":1e400}')))
  t.notOk(crash.ok)
  t.ok(crash.findings.some((f) => f.check === 'custody' && f.member === MEMBER.index && /check custody could not complete: canonical JSON cannot encode Infinity/.test(f.message)))
  t.ok(crash.findings.some((f) => f.check === 'report'), 'the later checks still run')
})
