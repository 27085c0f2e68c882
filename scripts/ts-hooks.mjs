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
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
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

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (err) {
    // './x.js' written for NodeNext while only './x.ts' exists
    if ((specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) && /\.(c|m)?js$/.test(specifier) && context.parentURL) {
      const url = new URL(specifier.replace(/js$/, 'ts'), context.parentURL)
      if (existsSync(fileURLToPath(url))) return nextResolve(url.href, context)
    }
    throw err
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !TS.test(new URL(url).pathname)) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const source = await readFile(path, 'utf8')
  const format = path.endsWith('.cts') ? 'commonjs' : 'module'
  const key = cacheKey(path, source)
  const cached = await readFile(CACHE + key + '.js', 'utf8').catch(() => undefined)
  if (cached !== undefined) return { format, source: cached, shortCircuit: true }
  return { format, source: await transpile(path, source, key), shortCircuit: true }
}

const cacheKey = (path, source) => createHash('sha256').update(`${esbuildVersion}\0${process.versions.node}\0${path}\0${source}`).digest('hex')

/** Transpiles one file and stores the output in the cache under `key`. */
async function transpile(path, source, key) {
  const cjs = path.endsWith('.cts')
  esbuild ??= import('esbuild')
  const out = await (await esbuild).transform(source, {
    loader: 'ts',
    format: cjs ? 'cjs' : 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    sourcesContent: true,
    sourcefile: path,
    keepNames: true,
    supported: { 'import-attributes': true, 'import-assertions': true },
  })
  // written whole under a unique name, then renamed: readers never see half a file
  const tmp = `${CACHE}${key}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await mkdir(CACHE, { recursive: true })
    .then(() => writeFile(tmp, out.code))
    .then(() => rename(tmp, CACHE + key + '.js'))
    .catch(() => undefined)
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
