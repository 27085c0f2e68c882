// Module-customization hooks that run the project's TypeScript directly on Node 20+:
// `.ts` files are transpiled with esbuild (types are only checked by `npm run check`), and
// NodeNext-style `./x.js` specifiers resolve to `./x.ts` when only the source exists.
//
// Unlike tsx, the output keeps the source's line structure (no whitespace minification)
// and carries an inline source map with the original text, so V8 coverage maps back to
// the right TypeScript lines — tap's coverage check depends on that.
//
// Transpiled output is cached under node_modules/.cache/ts-hooks/, keyed by the SHA-256 of
// the source, its path and the esbuild and Node versions: a process (the CLI, a test, a
// scan worker thread) whose modules are all cached never starts esbuild, which is most of
// its start-up time. Same input, same output: a cache hit is byte-identical to a transform.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const CACHE = fileURLToPath(new URL('../node_modules/.cache/ts-hooks/', import.meta.url))
// esbuild itself is loaded on the first cache miss only (importing it costs a quarter second)
let esbuild
const esbuildVersion = await (async () => {
  try {
    return JSON.parse(readFileSync(new URL('../node_modules/esbuild/package.json', import.meta.url), 'utf8')).version
  } catch {
    esbuild = import('esbuild')
    return (await esbuild).version
  }
})()

const TS = /\.(c|m)?ts$/

// Two sets of the same hooks: `resolve`/`load` for `module.register` (Node 20: they run on a
// hooks thread of their own, every import a round trip to it) and `resolveSync`/`loadSync` for
// `module.registerHooks` (Node 22.15+: in the importing thread; a one-assertion test process
// takes 0.45 s of CPU instead of 0.72 s). scripts/ts-register.mjs picks the one Node has.

/** './x.js' written for NodeNext while only './x.ts' exists: the URL of './x.ts', else undefined */
function typeScriptTwin(specifier, context) {
  if (!(specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) || !/\.(c|m)?js$/.test(specifier) || !context.parentURL) return undefined
  const url = new URL(specifier.replace(/js$/, 'ts'), context.parentURL)
  return existsSync(fileURLToPath(url)) ? url.href : undefined
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (err) {
    const twin = typeScriptTwin(specifier, context)
    if (twin) return nextResolve(twin, context)
    throw err
  }
}

export function resolveSync(specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context)
  } catch (err) {
    const twin = typeScriptTwin(specifier, context)
    if (twin) return nextResolve(twin, context)
    throw err
  }
}

const isTypeScript = (url) => url.startsWith('file:') && TS.test(new URL(url).pathname)
const formatOf = (path) => (path.endsWith('.cts') ? 'commonjs' : 'module')

export async function load(url, context, nextLoad) {
  if (!isTypeScript(url)) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const source = await readFile(path, 'utf8')
  const key = cacheKey(path, source)
  const cached = await readFile(CACHE + key + '.js', 'utf8').catch(() => undefined)
  return { format: formatOf(path), source: cached ?? (await transpile(path, source, key)), shortCircuit: true }
}

export function loadSync(url, context, nextLoad) {
  if (!isTypeScript(url)) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const source = readFileSync(path, 'utf8')
  const key = cacheKey(path, source)
  let code
  try {
    code = readFileSync(CACHE + key + '.js', 'utf8')
  } catch {
    code = transpileSync(path, source, key)
  }
  return { format: formatOf(path), source: code, shortCircuit: true }
}

const cacheKey = (path, source) => createHash('sha256').update(`${esbuildVersion}\0${process.versions.node}\0${path}\0${source}`).digest('hex')

const transformOptions = (path) => ({
  loader: 'ts',
  format: path.endsWith('.cts') ? 'cjs' : 'esm',
  target: `node${process.versions.node.split('.')[0]}`,
  sourcemap: 'inline',
  sourcesContent: true,
  sourcefile: path,
  keepNames: true,
  supported: { 'import-attributes': true, 'import-assertions': true },
})

// written whole under a unique name, then renamed: readers never see half a file
const tempName = (key) => `${CACHE}${key}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`

/** Transpiles one file and stores the output in the cache under `key`. */
async function transpile(path, source, key) {
  esbuild ??= import('esbuild')
  const out = await (await esbuild).transform(source, transformOptions(path))
  const tmp = tempName(key)
  await mkdir(CACHE, { recursive: true })
    .then(() => writeFile(tmp, out.code))
    .then(() => rename(tmp, CACHE + key + '.js'))
    .catch(() => undefined)
  return out.code
}

/** {@link transpile} for the in-thread hooks, which cannot wait for a promise. */
function transpileSync(path, source, key) {
  const out = createRequire(import.meta.url)('esbuild').transformSync(source, transformOptions(path))
  const tmp = tempName(key)
  try {
    mkdirSync(CACHE, { recursive: true })
    writeFileSync(tmp, out.code)
    renameSync(tmp, CACHE + key + '.js')
  } catch {
    // an unwritable cache only costs the next process a transpile
  }
  return out.code
}

/**
 * Fills the cache for every TypeScript file under `dirs` (skipping node_modules and dot
 * folders) in this one process, so that the processes of a test run never start esbuild:
 * `npm test` calls it before tap starts ~100 test processes (on a fresh clone each of them
 * would otherwise load esbuild and transpile the modules it imports). The output is the one
 * `load` would produce for the same file. Returns how many files were looked at and how many
 * had to be transpiled.
 */
export async function warmCache(dirs) {
  const files = []
  const walk = (dir) => {
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (TS.test(e.name) && !e.name.endsWith('.d.ts')) files.push(p)
    }
  }
  for (const d of dirs) walk(d)
  let transpiled = 0
  await Promise.all(files.map(async (path) => {
    const source = await readFile(path, 'utf8')
    const key = cacheKey(path, source)
    if (existsSync(CACHE + key + '.js')) return
    await transpile(path, source, key)
    transpiled++
  }))
  if (esbuild) await (await esbuild).stop?.()
  return { files: files.length, transpiled }
}
