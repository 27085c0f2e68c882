import t from 'tap'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { main } from '../cli/main.js'
import { LocalSigner } from '../forensics/signer.js'
import { runCapture } from '../forensics/capture.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import { custodyKey } from '../forensics/keys.js'
import { renderTable } from '../cli/commands/cases.js'

const sink = (tty = false): { stream: Writable; text: () => string } => {
  const chunks: Buffer[] = []
  const stream = new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) })
  if (tty) Object.assign(stream, { isTTY: true })
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

t.test('forensics cases and forensics custody', async (t) => {
  const emulator = await useEmulator(t)
  const dir = t.testdir({})
  const keyFile = join(dir, 'key.pem')
  const { signer } = LocalSigner.fromFile(keyFile, { create: true })
  // the SDK's credential chain reads process.env, whatever env the CLI is handed
  const saved = { ...process.env }
  Object.assign(process.env, emulator.env())
  t.teardown(() => {
    process.env = saved
  })
  const env = { ...process.env, ...emulator.env(), FORENSICS_EVIDENCE_BUCKET: 'evidence', FORENSICS_SIGNING_KEY: `file:${keyFile}`, FORENSICS_RETENTION_DAYS: '1' }
  const run = async (argv: string[], tty = false): Promise<{ code: number; out: string; err: string }> => {
    const out = sink(tty)
    const err = sink()
    const code = await main(argv, env, out.stream, err.stream)
    return { code, out: out.text(), err: err.text() }
  }
  const seal = async (store: Awaited<ReturnType<typeof lockedStore>>['store'], caseId: string, id: string, custody = true) => {
    const c = await runCapture({ store, signer }, { caseId, collector: { name: 'bucket-config', version: '1' }, trigger: { source: 'test', id }, target: { bucket: 'b' } }, async (ctx) => {
      await ctx.addArtifact('x.json', Buffer.from('{}'))
    })
    if (custody) await recordCaptured(new CustodyChain(store, signer, caseId), { ...c, captureId: c.manifest.captureId }, { tool: 'test' })
    return c
  }

  t.test('cases: JSON when piped, a table on a terminal', async (t) => {
    const { store } = await lockedStore(emulator)
    const empty = await run(['cases'], true)
    t.match(empty, { code: 0, out: /no cases in s3:\/\/evidence/ }, empty.err)
    await seal(store, 'case-a', 'e1')
    await seal(store, 'case-a', 'e2')
    await seal(store, 'case-b', 'e1')
    const json = await run(['cases'])
    t.equal(json.code, 0)
    const doc = JSON.parse(json.out) as { bucket: string; cases: unknown[] }
    t.equal(doc.bucket, 'evidence')
    t.match(doc.cases, [
      { caseId: 'case-a', captures: 2, custodyEntries: 2, lastAction: 'captured' },
      { caseId: 'case-b', captures: 1, custodyEntries: 1, lastAction: 'captured' },
    ])
    t.same(JSON.parse((await run(['cases', '--json'], true)).out), doc, '--json on a terminal')
    const table = await run(['cases'], true)
    const lines = table.out.trim().split('\n')
    t.match(lines[0], /^CASE\s+CAPTURES\s+CUSTODY\s+LAST ACTION\s+LAST TIME\s+DIGEST VERDICTS$/)
    t.match(lines[2], /^case-a\s+2\s+2\s+captured\s+\d{4}-/)
    t.match(lines[3], /^case-b\s+1\s+1\s+captured/)
  })

  t.test('custody: a timeline with the chain verified; exit 1 when it does not verify', async (t) => {
    const { store } = await lockedStore(emulator)
    const c = await seal(store, 'case-c', 'e1')
    await new CustodyChain(store, signer, 'case-c').append({ action: 'note', actor: { tool: 'test' }, subject: { note: 'looked at it' } })
    const json = await run(['custody', 'case-c'])
    t.equal(json.code, 0)
    const doc = JSON.parse(json.out) as { valid: boolean; entries: { seq: number; action: string }[]; findings: unknown[] }
    t.equal(doc.valid, true)
    t.same(doc.entries.map((e) => [e.seq, e.action]), [[0, 'captured'], [1, 'note']])
    const table = await run(['custody', 'case-c'], true)
    t.match(table.out, /^SEQ\s+TIME\s+ACTION\s+ACTOR\s+SUBJECT\s+HASH/)
    t.match(table.out, new RegExp(`0\\s+\\S+\\s+captured\\s+test\\s+${c.manifest.captureId}`))
    t.match(table.out, /1\s+\S+\s+note\s+test\s+looked at it/)
    t.match(table.out, /chain valid: 2 entries/)
    // finding 6: an unknown case is a usage error, not an empty valid chain
    t.match(await run(['custody', 'nobody'], true), { code: 2 })
    // a case with evidence but no custody entry at all does not verify
    await seal(store, 'case-uncustodied', 'e9', false)
    const bare = await run(['custody', 'case-uncustodied'], true)
    t.equal(bare.code, 1)
    t.match(bare.out, /holds evidence but no custody entries/)

    // an entry that is not JSON (written around the chain) breaks it
    await store.put({ key: custodyKey('case-c', 2), body: Buffer.from('not json') })
    const broken = await run(['custody', 'case-c'], true)
    t.equal(broken.code, 1)
    t.match(broken.out, /chain INVALID/)
    t.match(broken.out, /custody\/00000002\.json.*\[unparseable\]/)
    t.equal((await run(['custody', 'case-c'])).code, 1)
    // and `cases` says the last entry is unreadable
    t.match(JSON.parse((await run(['cases'])).out), { cases: [{ caseId: 'case-c', custodyEntries: 3, lastAction: '(unreadable)' }] })
  })

  t.test('cases skip stray keys, sort by id and mark an unreadable latest entry', async (t) => {
    const { store } = await lockedStore(emulator)
    await store.put({ key: 'cases/stray-object', body: Buffer.from('x') })
    const chain = new CustodyChain(store, signer, 'zz-case')
    await chain.append({ action: 'note', actor: { principalArn: 'arn:aws:iam::1:user/alice' }, subject: { key: 'some/key' } })
    await chain.append({ action: 'note', actor: {}, subject: {} })
    await store.put({ key: custodyKey('aa-case', 0), body: Buffer.from('not json') })
    // listed after zz-case ('-' sorts before '/'), reported before it
    await new CustodyChain(store, signer, 'zz').append({ action: 'note', actor: { tool: 'test' }, subject: { note: 'n' } })
    await store.put({ key: 'cases/bare-case/notes.txt', body: Buffer.from('no custody yet') })
    const r = await run(['cases', '--json'])
    t.equal(r.code, 0, r.err)
    const doc = JSON.parse(r.out) as { cases: { caseId: string; custodyEntries: number; lastAction?: string; lastTime?: string }[] }
    t.same(doc.cases.map((c) => c.caseId), ['aa-case', 'bare-case', 'zz', 'zz-case'], 'sorted by case id, and no case for the stray key')
    t.match(doc.cases[0], { custodyEntries: 1, lastAction: '(unreadable)' })
    t.equal(doc.cases[0].lastTime, undefined)
    t.same(doc.cases[1], { caseId: 'bare-case', captures: 0, custodyEntries: 0 })
    t.match(doc.cases[3], { custodyEntries: 2, lastAction: 'note' })
    const table = await run(['cases'], true)
    t.match(table.out, /aa-case +0 +1 +\(unreadable\)\n/)
    t.match(table.out, /bare-case +0 +0\n/, 'no custody: empty action and time cells')

    // the custody timeline shows a principal, a key, and blanks
    const timeline = await run(['custody', 'zz-case'], true)
    t.equal(timeline.code, 0, timeline.err)
    t.match(timeline.out, /0 +\S+ +note +arn:aws:iam::1:user\/alice +some\/key +[0-9a-f]{16}/)
    t.match(timeline.out, /\n1 +\S+ +note +[0-9a-f]{16}\n/, 'no actor, no subject: empty cells')
    t.match(timeline.out, /chain valid: 2 entries/)
  })

  t.test('usage errors', async (t) => {
    await lockedStore(emulator)
    t.match(await run(['custody']), { code: 2, err: /name exactly one case/ })
    t.match(await run(['custody', 'bad/case']), { code: 2, err: /invalid case id/ })
  })
})

t.test('renderTable pads columns', async (t) => {
  t.same(renderTable(['A', 'BB'], [['xyz', '1']]), ['A    BB', '---  --', 'xyz  1'])
  t.same(renderTable(['A', 'BB', 'C'], [['x'], ['yyy', 'z', 'w']]), ['A    BB  C', '---  --  -', 'x', 'yyy  z   w'], 'rows shorter than the headers')
})
