import t from 'tap'
import { createHash } from 'node:crypto'
import { createWriteStream, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { seedCapture, seedSmallCase, testSignerWithPem } from './fixtures/bundle-case.js'
import { cliEnv, runCli, tempDir } from './fixtures/bundle-cli.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { readBundleMembers, type BundleMember } from '../forensics/bundle/bundle-reader.js'
import { verifyBundleFile, verifyBundleMembers } from '../forensics/bundle/verify-bundle.js'
import { DeterministicArchive } from '../forensics/bundle/archive-writer.js'
import { formatSha256Sums, MEMBER, type BundleFormat, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { canonicalJson } from '../forensics/canonical-json.js'
import { CustodyChain } from '../forensics/custody.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const member = (name: string, bytes: Buffer): BundleMember => ({ name, bytes, size: bytes.length, sha256: sha(bytes) })

/** xorshift32: reproducible randomness (the seed is printed on failure). */
function rng(seed: number): { int(n: number): number; pick<T>(a: readonly T[]): T } {
  let x = seed >>> 0 || 1
  const next = (): number => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 0x100000000
  }
  return { int: (n) => Math.floor(next() * n), pick: (a) => a[Math.floor(next() * a.length)] }
}

interface Mutation {
  kind: string
  /** members one of which a finding must name */
  names: string[]
  members: BundleMember[]
}

/** Applies one random single mutation to a member list (bytes of every member known). */
function mutate(base: readonly BundleMember[], r: ReturnType<typeof rng>, i: number): Mutation {
  const members = base.map((m) => ({ ...m }))
  const kind = r.pick(['flip', 'flip', 'flip', 'remove', 'add', 'swap-custody', 'edit-manifest'] as const)
  if (kind === 'flip') {
    const candidates = members.filter((m) => m.size > 0)
    const m = r.pick(candidates)
    const bytes = Buffer.from(m.bytes!)
    bytes[r.int(bytes.length)] ^= 1 + r.int(255)
    Object.assign(m, member(m.name, bytes))
    return { kind, names: [m.name], members }
  }
  if (kind === 'remove') {
    const at = r.int(members.length)
    const [gone] = members.splice(at, 1)
    return { kind, names: [gone.name], members }
  }
  if (kind === 'add') {
    const capture = r.pick(members.filter((m) => m.name.startsWith('manifests/'))).name.split('/')[1]
    const name = r.pick([`artifacts/${capture}/extra-${i}.bin`, `extra-${i}.txt`, `custody/${String(900 + i).padStart(8, '0')}.json`, `manifests/${capture}/note-${i}`, r.pick(members).name])
    members.splice(r.int(members.length + 1), 0, member(name, Buffer.from(`added ${i}`)))
    return { kind, names: [name], members }
  }
  if (kind === 'swap-custody') {
    const custody = members.filter((m) => m.name.startsWith('custody/'))
    const a = r.pick(custody)
    const b = r.pick(custody.filter((c) => c !== a))
    const [ab, bb] = [a.bytes!, b.bytes!]
    Object.assign(a, member(a.name, bb))
    Object.assign(b, member(b.name, ab))
    return { kind, names: [a.name, b.name], members }
  }
  const m = r.pick(members.filter((x) => /^manifests\/[^/]+\/manifest\.json$/.test(x.name)))
  const doc = JSON.parse(m.bytes!.toString()) as { status: string; endedAt: string; artifacts: { sha256: string; size: number; versionId: string }[]; findings: unknown[]; caseId: string }
  const edit = r.int(7)
  if (edit === 0) doc.status = doc.status === 'complete' ? 'partial' : 'complete'
  else if (edit === 1) doc.endedAt = '2030-01-01T00:00:00.000Z'
  else if (edit === 2) r.pick(doc.artifacts).sha256 = sha(Buffer.from(`forged ${i}`))
  else if (edit === 3) r.pick(doc.artifacts).size += 1
  else if (edit === 4) doc.artifacts.splice(r.int(doc.artifacts.length), 1)
  else if (edit === 5) doc.findings = [...doc.findings, { type: 'x', severity: 'low', title: `forged ${i}` }]
  else doc.artifacts[0].versionId = 'forged'
  Object.assign(m, member(m.name, Buffer.from(canonicalJson(doc))))
  return { kind: `edit-manifest-${edit}`, names: [m.name], members }
}

/**
 * The attacker also rewrites the unsigned indexes: bundle.json's file list and SHA256SUMS
 * follow the altered members, so only signatures, manifests, the chain and the
 * re-derived report can tell.
 */
function reindex(members: BundleMember[]): BundleMember[] {
  const idx = members.find((m) => m.name === MEMBER.index)!
  const index = JSON.parse(idx.bytes!.toString()) as BundleIndex
  const byPath = new Map(index.files.map((f) => [f.path, f]))
  index.files = members
    .filter((m) => m.name !== MEMBER.index && m.name !== MEMBER.sums)
    .map((m) => ({ ...(byPath.get(m.name) ?? { path: m.name, kind: 'artifact' as const }), sha256: m.sha256, size: m.size }))
    .sort((a, b) => (a.path < b.path ? -1 : 1))
  const newIdx = member(MEMBER.index, Buffer.from(JSON.stringify(index, null, 2) + '\n'))
  const sums = member(MEMBER.sums, Buffer.from(formatSha256Sums([...index.files, { path: MEMBER.index, sha256: newIdx.sha256 }])))
  return members.map((m) => (m.name === MEMBER.index ? newIdx : m.name === MEMBER.sums ? sums : m))
}

async function writeArchive(file: string, format: BundleFormat, members: readonly BundleMember[]): Promise<void> {
  const out = createWriteStream(file)
  const archive = new DeterministicArchive(format, out)
  for (const m of members) await archive.add(m.name, m.bytes!, { size: m.size })
  await archive.finish()
  await finished(out)
}

t.test('verifier mutation tests', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const { store, s3 } = await lockedStore(emulator)
  t.teardown(() => s3.destroy())
  const { signer, pem } = testSignerWithPem()
  await seedSmallCase(store, signer)
  await seedCapture(store, signer, 'case-1', 'evt-3', [{ path: 'CON' }, { path: 'deep/a/b/c.json', body: '{}' }])
  await new CustodyChain(store, signer, 'case-1').append({ action: 'note', actor: { tool: 'test' }, subject: { note: 'second note' } })
  const dir = tempDir(t)
  const file = join(dir, 'base.zip')
  await buildBundle({ store, signer, caseId: 'case-1', output: { path: file }, recordCustody: false })
  const { members: base } = await readBundleMembers(file, { keepAllBytes: true })
  t.equal(verifyBundleMembers(base).ok, true, 'the unmodified bundle verifies')
  t.ok(base.filter((m) => m.name.startsWith('custody/')).length >= 4, 'enough custody entries to swap')

  t.test('1,200 random single mutations in memory are all detected, naming the member', async (t) => {
    const seed = Number(process.env.MUTATION_SEED ?? 20261129)
    const r = rng(seed)
    const kinds = new Map<string, number>()
    let failures = 0
    for (let i = 0; i < 1200; i++) {
      const m = mutate(base, r, i)
      kinds.set(m.kind.replace(/-\d$/, ''), (kinds.get(m.kind.replace(/-\d$/, '')) ?? 0) + 1)
      const v = verifyBundleMembers(m.members)
      const named = v.findings.some((f) => m.names.includes(f.member))
      if (v.ok || !named) {
        failures++
        if (failures <= 5) t.fail(`seed ${seed} #${i} ${m.kind} of ${m.names.join(', ')} not detected/named: ${JSON.stringify(v.findings.slice(0, 3))}`)
      }
    }
    t.equal(failures, 0, `all 1200 mutations detected and named (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`)
    for (const k of ['flip', 'remove', 'add', 'swap-custody', 'edit-manifest']) t.ok((kinds.get(k) ?? 0) > 50, `${k} exercised`)
  })

  t.test('tampering that also rewrites bundle.json and SHA256SUMS is caught by what is signed', async (t) => {
    const r = rng(7)
    let failures = 0
    let total = 0
    for (let i = 0; i < 400; i++) {
      const m = mutate(base, r, i)
      // the indexes are the attacker's to rewrite; removing a whole capture or the chain's
      // tail is what a --capture subset or an older bundle legitimately looks like
      if (m.names.some((n) => n === MEMBER.index || n === MEMBER.sums)) continue
      if (m.kind === 'remove' && !m.names[0].startsWith('artifacts/') && !/custody\/0000000[0-2]/.test(m.names[0])) continue
      if (m.kind === 'add' && !m.names[0].startsWith('artifacts/') && !m.names[0].startsWith('custody/')) continue
      total++
      const v = verifyBundleMembers(reindex(m.members))
      if (v.ok || !v.findings.some((f) => m.names.includes(f.member))) {
        failures++
        if (failures <= 5) t.fail(`#${i} ${m.kind} of ${m.names.join(', ')}: ${JSON.stringify(v.findings.slice(0, 4))}`)
      }
    }
    t.ok(total > 250, `${total} consistent-index mutations`)
    t.equal(failures, 0, 'all detected, naming the member')
  })

  t.test('mutations through real re-packed archives and the CLI', async (t) => {
    const env = cliEnv(emulator, dir, pem)
    const r = rng(99)
    for (let i = 0; i < 12; i++) {
      const m = mutate(base, r, i)
      const format: BundleFormat = i % 2 ? 'tar.gz' : 'zip'
      const out = join(dir, `m${i}.${format}`)
      await writeArchive(out, format, m.members)
      const v = await verifyBundleFile(out)
      t.notOk(v.ok, `${format} ${m.kind} detected`)
      t.ok(v.findings.some((f) => m.names.includes(f.member)), `names ${m.names.join(', ')}`)
      const cli = await runCli(['verify', out], env)
      t.equal(cli.code, 1, 'verify exits 1 with findings')
      t.match(cli.stdout.toString(), m.names[0])
    }
    // repacked unchanged: still verifies (the reader and the writer agree)
    await writeArchive(join(dir, 'same.tar.gz'), 'tar.gz', base)
    t.equal((await verifyBundleFile(join(dir, 'same.tar.gz'))).ok, true)
    const json = await runCli(['verify', join(dir, 'm0.zip'), '--json'], env)
    t.equal(json.code, 1)
    t.match(JSON.parse(json.stdout.toString()), { ok: false, findings: [{ check: String, member: String, message: String }] })
  })

  t.test('unreadable bundles exit 2; damaged archives name the member', async (t) => {
    const env = cliEnv(emulator, dir, pem)
    writeFileSync(join(dir, 'garbage.zip'), 'not an archive at all')
    const g = await runCli(['verify', join(dir, 'garbage.zip')], env)
    t.equal(g.code, 2)
    t.match(g.stderr, /neither a zip nor a tar.gz/)
    t.equal((await runCli(['verify', join(dir, 'missing.zip')], env)).code, 2)
    writeFileSync(join(dir, 'empty'), '')
    t.equal((await runCli(['verify', join(dir, 'empty')], env)).code, 2)
    writeFileSync(join(dir, 'cut.zip'), Buffer.from('PK\x03\x04' + 'x'.repeat(100)))
    const cut = await runCli(['verify', join(dir, 'cut.zip')], env)
    t.equal(cut.code, 2, 'a zip without a central directory is unreadable')
    writeFileSync(join(dir, 'cut.tar.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]))
    t.equal((await runCli(['verify', join(dir, 'cut.tar.gz')], env)).code, 2)

    // a truncated tar.gz: the member being read when the data ended is named
    const tgz = join(dir, 'full.tar.gz')
    await writeArchive(tgz, 'tar.gz', base)
    const bytes = (await import('node:fs')).readFileSync(tgz)
    writeFileSync(join(dir, 'trunc.tar.gz'), bytes.subarray(0, Math.floor(bytes.length * 0.6)))
    const trunc = await verifyBundleFile(join(dir, 'trunc.tar.gz'))
    t.notOk(trunc.ok)
    t.ok(trunc.findings.some((f) => f.check === 'archive' && /could not be read/.test(f.message)), 'the cut member is named')
  })

  t.test('hostile member names and odd entries are findings, never written', async (t) => {
    const evil = [...base, member('../../etc/passwd', Buffer.from('x')), member('/abs', Buffer.from('y'))]
    const v = verifyBundleMembers(evil)
    t.ok(v.findings.some((f) => f.member === '../../etc/passwd' && f.check === 'archive'))
    t.ok(v.findings.some((f) => f.member === '/abs' && f.check === 'archive'))
    const link = verifyBundleMembers(base.map((m) => (m.name === MEMBER.report ? { ...m, type: 'symlink' } : m)))
    t.ok(link.findings.some((f) => f.member === MEMBER.report && /symlink/.test(f.message)))
    const big = verifyBundleMembers(base.map((m) => (m.name === MEMBER.index ? { ...m, bytes: undefined } : m)))
    t.ok(big.findings.some((f) => f.member === MEMBER.index && /too large/.test(f.message)))
    const badKey = verifyBundleMembers(reindex(base.map((m) => (m.name === MEMBER.publicKey ? member(m.name, Buffer.from('not a key')) : m))))
    t.ok(badKey.findings.some((f) => f.member === MEMBER.publicKey))
    const { signer: other } = testSignerWithPem()
    const otherKey = verifyBundleMembers(reindex(base.map((m) => (m.name === MEMBER.publicKey ? member(m.name, Buffer.from('')) : m))))
    t.notOk(otherKey.ok)
    const wrong = verifyBundleMembers(reindex(base.map((m) => (m.name === MEMBER.publicKey ? { ...m } : m))))
    t.ok(wrong.ok, 'reindexing alone changes nothing')
    const swapped = await other.publicKeyPem()
    const w = verifyBundleMembers(reindex(base.map((m) => (m.name === MEMBER.publicKey ? member(m.name, Buffer.from(swapped)) : m))))
    t.ok(w.findings.some((f) => f.member === MEMBER.publicKey && /verifies none/.test(f.message)), 'a substituted key is named')
  })
})
