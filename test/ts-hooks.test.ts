/**
 * scripts/ts-hooks.mjs, the loader every test process runs TypeScript with: `warmCache`
 * (called by `npm test` before tap starts) fills the same cache the loader reads, so a
 * process whose modules were warmed never transpiles.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const hooks = join(root, 'scripts', 'ts-hooks.mjs')
const cache = join(root, 'node_modules', '.cache', 'ts-hooks')
const cached = (): Set<string> => new Set(readdirSync(cache).filter((f) => f.endsWith('.js')))

const warm = (dirs: string[]): { files: number; transpiled: number } =>
  JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', `const { warmCache } = await import(${JSON.stringify(hooks)}); console.log(JSON.stringify(await warmCache(${JSON.stringify(dirs)})))`], { encoding: 'utf8' })) as { files: number; transpiled: number }

t.test('warmCache transpiles each TypeScript file once, into the cache the loader then reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-hooks-'))
  // a unique marker makes the sources new to the cache on every run
  const marker = `${process.pid}-${Date.now()}`
  writeFileSync(join(dir, 'a.ts'), `export const marker: string = '${marker}'\n`)
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'b.ts'), `import { marker } from '../a.js'\nconst n: number = marker.length\nconsole.log(marker, n)\n`)
  writeFileSync(join(dir, 'types.d.ts'), 'export type X = string\n')
  for (const skipped of ['node_modules', '.hidden']) {
    mkdirSync(join(dir, skipped))
    writeFileSync(join(dir, skipped, 'c.ts'), 'export const c = 1\n')
  }

  t.same(warm([dir, join(dir, 'missing')]), { files: 2, transpiled: 2 }, 'a.ts and sub/b.ts; declarations, node_modules and dot folders are skipped, a missing folder is no error')
  t.same(warm([dir]), { files: 2, transpiled: 0 }, 'a second warm-up finds both in the cache')

  const before = cached()
  const out = execFileSync(process.execPath, ['--import', join(root, 'scripts', 'ts-register.mjs'), join(dir, 'sub', 'b.ts')], { encoding: 'utf8' })
  t.equal(out.trim(), `${marker} ${marker.length}`, 'the warmed modules run')
  t.same([...cached()].filter((f) => !before.has(f)), [], 'loading them wrote nothing new: the loader found what warmCache stored')

  writeFileSync(join(dir, 'a.ts'), `export const marker: string = '${marker}-changed'\n`)
  t.same(warm([dir]), { files: 2, transpiled: 1 }, 'a changed source is transpiled again')
})

t.test('the loader transpiles what is not cached, stores it, and resolves ./x.js to ./x.ts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-hooks-'))
  const marker = `${process.pid}-${Date.now()}-miss`
  writeFileSync(join(dir, 'a.ts'), `export const marker: string = '${marker}'\n`)
  writeFileSync(join(dir, 'main.ts'), `import { marker } from './a.js'\nconst n: number = marker.length\nconsole.log(marker, n)\n`)
  const before = cached()
  const run = (): string => execFileSync(process.execPath, ['--import', join(root, 'scripts', 'ts-register.mjs'), join(dir, 'main.ts')], { encoding: 'utf8' }).trim()
  t.equal(run(), `${marker} ${marker.length}`, 'new modules run')
  t.equal([...cached()].filter((f) => !before.has(f)).length, 2, 'both were transpiled into the cache')
  const after = cached()
  t.equal(run(), `${marker} ${marker.length}`, 'and run again')
  t.same([...cached()].filter((f) => !after.has(f)), [], 'from the cache')
  t.throws(() => execFileSync(process.execPath, ['--import', join(root, 'scripts', 'ts-register.mjs'), join(dir, 'missing.ts')], { stdio: 'pipe' }), 'a missing module is still an error')
})
