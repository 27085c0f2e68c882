import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { useInThreadTapHooks, widenGate } from '../scripts/tap-hooks.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The gate as @tapjs/processinfo 3.1.12 ships it in dist/esm/import.mjs. */
const shipped = [
  "const useSyncHooks = typeof MODULE.registerHooks === 'function' &&",
  '    (!MODULE.register ||',
  '        version[0] > 25 ||',
  '        (version[0] === 25 && version[1] >= 1) ||',
  '        (version[0] === 24 && version[1] >= 13));',
  'if (useSyncHooks) {',
].join('\n')

/** Evaluates a gate for a Node version with or without `module.register`. */
const decide = (source: string, node: string, register = true): boolean => {
  const version = node.split('.').map(Number)
  const MODULE = { registerHooks: () => {}, register: register ? () => {} : undefined }
  const gate = source.slice(0, source.indexOf('if (useSyncHooks)')).replace('const useSyncHooks =', 'return')
  return new Function('MODULE', 'version', gate)(MODULE, version) as boolean
}

t.test('the gate admits Node 22.22+ besides what processinfo admits, once', async (t) => {
  const r = widenGate(shipped)
  t.ok(r.changed)
  t.notOk(r.reason)
  for (const v of ['22.22.0', '22.23.5', '24.13.1', '25.1.0', '26.0.0']) t.ok(decide(r.source, v), `in-thread on ${v}`)
  for (const v of ['22.21.9', '22.15.0', '23.11.0', '24.12.0']) t.notOk(decide(r.source, v), `on a loader thread on ${v}, as before`)
  t.notOk(decide(shipped, '22.23.5'), 'as shipped, 22.23 gets a loader thread')
  t.ok(decide(r.source, '20.19.0', false), 'without module.register: in-thread, as before')
  t.same(widenGate(r.source), { source: r.source, changed: false }, 'a second run changes nothing')
})

t.test('a gate that reads otherwise is left alone, with the reason', async (t) => {
  for (const other of ['export const x = 1', shipped.replace('>= 13', '>= 14'), shipped + '\n' + shipped]) {
    const r = widenGate(other)
    t.equal(r.source, other)
    t.notOk(r.changed)
    t.match(r.reason, /not the one of @tapjs\/processinfo 3\.1/)
  }
})

t.test('useInThreadTapHooks rewrites the installed copy once and names what it did', async (t) => {
  const dir = t.testdir({})
  t.match(useInThreadTapHooks(dir), /is not installed/)
  const esm = join(dir, 'node_modules', '@tapjs', 'processinfo', 'dist', 'esm')
  mkdirSync(esm, { recursive: true })
  writeFileSync(join(esm, 'import.mjs'), shipped)
  t.match(useInThreadTapHooks(dir), /now run in-thread/)
  t.ok(decide(readFileSync(join(esm, 'import.mjs'), 'utf8'), '22.23.5'))
  t.match(useInThreadTapHooks(dir), /already set/)
  writeFileSync(join(esm, 'import.mjs'), 'export {}')
  t.match(useInThreadTapHooks(dir), /left .* alone: .* loader thread \(slower, same results\)/)
  t.equal(readFileSync(join(esm, 'import.mjs'), 'utf8'), 'export {}')
})

t.test('`node scripts/tap-hooks.mjs` (the postinstall step) says what it did and exits 0', async (t) => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'tap-hooks.mjs')], { encoding: 'utf8' })
  t.equal(r.status, 0)
  t.match(r.stderr, /^\[tap-hooks\] tap's module hooks run in-thread on Node 22\.22\+ \(already set\)\n$/)
})

t.test("on this Node, tap's processinfo registers in-thread hooks and no loader thread", async (t) => {
  // what every test process starts with (tap's --import), watched by a preload that runs first
  const watch = join(t.testdir({ 'watch.cjs': "const M = require('node:module'); const seen = []; for (const k of ['register', 'registerHooks']) { const f = M[k]; M[k] = (...a) => (seen.push(k), f.apply(M, a)) }; process.on('exit', () => console.log(JSON.stringify(seen)))" }), 'watch.cjs')
  const processinfo = join(root, 'node_modules', '@tapjs', 'processinfo', 'dist', 'esm', 'import.mjs')
  const r = spawnSync(process.execPath, ['--require', watch, '--import', new URL(`file://${processinfo}`).href, '-e', ''], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  t.equal(r.status, 0, r.stderr)
  t.same(JSON.parse(r.stdout.trim()), ['registerHooks'], `Node ${process.versions.node}: module.registerHooks only`)
})
