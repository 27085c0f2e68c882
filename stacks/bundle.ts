/**
 * Lambda asset bundling: every handler in `collectors/` is bundled by one esbuild call
 * (node22, ESM, everything inlined) and written, with a deterministic ZIP of it, to a
 * directory named after the SHA-256 of the bundle. Same source, same bytes, same
 * CodeSha256: an unchanged handler is never redeployed.
 *
 * Bundling is skipped when nothing changed: the last build's inputs (esbuild's metafile)
 * are remembered with their size and mtime in `cache.json`; repeated synths in one process
 * (tests) reuse the result from memory.
 */
import { buildSync, version as esbuildVersion, type BuildOptions } from 'esbuild'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { zipFiles } from './zip.js'
import { FUNCTION_KEYS } from '../forensics/routing.js'

/** Every bundled handler: the routed functions plus containment (deployed only with `containment.enabled`). */
export const BUNDLE_KEYS = [...FUNCTION_KEYS, 'containment'] as const
/** One of {@link BUNDLE_KEYS}. */
export type BundleKey = (typeof BUNDLE_KEYS)[number]

/** Repository root (one level above `stacks/`). */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** One bundled handler. */
export interface HandlerBundle {
  key: BundleKey
  /** Directory holding `index.mjs` (handler `index.handler`) and the code ZIP. */
  dir: string
  /** The deployable ZIP holding `index.mjs` (and the function's assets). */
  zipPath: string
  /** SHA-256 (hex) of `index.mjs` (of every file, named, for a function with assets). */
  sha256: string
  /** Base64 SHA-256 of the ZIP: what Lambda reports as CodeSha256 (`source_code_hash`). */
  codeSha256: string
  bytes: number
}

/** Options for {@link bundleHandlers}. */
export interface BundleOptions {
  /** Repository root the entries are relative to. Default: this repository. */
  root?: string
  /** Entry file per function, relative to `root`. Default: `collectors/<key>.ts`. */
  entries?: Partial<Record<BundleKey, string>>
  /** Where bundles are written. Default: `<root>/.forensics/build/lambda`. */
  outDir?: string
}

interface CacheFile {
  key: string
  inputs: Record<string, string>
  bundles: Record<BundleKey, HandlerBundle>
}

/**
 * Files a function needs beside `index.mjs`: extra esbuild entry points (worker threads)
 * and files copied as they are (WebAssembly), by their name in the ZIP.
 */
const EXTRA_ENTRIES: Partial<Record<BundleKey, Record<string, string>>> = {
  inspector: { 'inspection-worker': 'forensics/inspection/scan-worker.ts' },
  'cloudtrail-slice': { 'cloudtrail-scan-worker': 'forensics/cloudtrail/scan-worker.ts' },
}
const EXTRA_FILES: Partial<Record<BundleKey, Record<string, string>>> = {
  inspector: { 'yara_x_js_bg.wasm': 'node_modules/@virustotal/yara-x/pkg/yara_x_js_bg.wasm' },
}

const memo = new Map<string, Record<BundleKey, HandlerBundle>>()

/** Bump when the bundle layout or ZIP writer changes: invalidates cached bundles. */
const BUNDLE_FORMAT = 4

// ESM bundles of CommonJS dependencies (the AWS SDK) still call `require` for Node
// built-ins; give them one.
const REQUIRE_SHIM = "import { createRequire as __forensicsCreateRequire } from 'node:module';\nconst require = __forensicsCreateRequire(import.meta.url);"

const fingerprint = (path: string): string => {
  try {
    const s = statSync(path)
    return `${s.size}:${s.mtimeMs}`
  } catch {
    return 'missing'
  }
}

function readCache(path: string, key: string): Record<BundleKey, HandlerBundle> | undefined {
  try {
    const cache = JSON.parse(readFileSync(path, 'utf8')) as CacheFile
    if (cache.key !== key) return undefined
    if (!Object.entries(cache.inputs).every(([p, f]) => fingerprint(p) === f)) return undefined
    if (!BUNDLE_KEYS.every((k) => existsSync(cache.bundles[k]?.zipPath ?? ''))) return undefined
    return cache.bundles
  } catch {
    return undefined
  }
}

/** Writes `files` into `dir` atomically (write then rename); a concurrent writer of the same content wins harmlessly. */
function writeDirOnce(dir: string, files: Record<string, Uint8Array>): void {
  if (existsSync(dir)) return
  const tmp = `${dir}.tmp-${process.pid}`
  mkdirSync(tmp, { recursive: true })
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content)
  try {
    renameSync(tmp, dir)
  } catch /* c8 ignore start */ {
    rmSync(tmp, { recursive: true, force: true })
  } /* c8 ignore stop */
}

/**
 * Bundles every function's handler (once per process, and only when an input changed) and
 * returns where each bundle is. Throws when an entry file is missing, naming the file.
 */
export function bundleHandlers(options: BundleOptions = {}): Record<BundleKey, HandlerBundle> {
  const root = resolve(options.root ?? repositoryRoot)
  const entries = Object.fromEntries(BUNDLE_KEYS.map((k) => [k, resolve(root, options.entries?.[k] ?? `collectors/${k}.ts`)])) as Record<BundleKey, string>
  const outDir = resolve(options.outDir ?? join(root, '.forensics', 'build', 'lambda'))
  const memoKey = JSON.stringify([entries, outDir])
  const remembered = memo.get(memoKey)
  if (remembered) return remembered

  const missing = BUNDLE_KEYS.filter((k) => !existsSync(entries[k]))
  if (missing.length > 0) {
    throw new Error(`cannot bundle the Lambda handlers: missing ${missing.map((k) => entries[k]).join(', ')}; each must export \`handler\``)
  }
  const buildOptions: BuildOptions & { write: false; metafile: true } = {
    entryPoints: Object.fromEntries(BUNDLE_KEYS.flatMap((k) => [
      [`${k}/index`, entries[k]],
      ...Object.entries(EXTRA_ENTRIES[k] ?? {}).map(([name, file]) => [`${k}/${name}`, resolve(root, file)]),
    ])),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outdir: join(outDir, '.staging'),
    outExtension: { '.js': '.mjs' },
    banner: { js: REQUIRE_SHIM },
    write: false,
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
    sourcemap: false,
    absWorkingDir: root,
  }
  const cacheKey = createHash('sha256').update(JSON.stringify([esbuildVersion, BUNDLE_FORMAT, buildOptions])).digest('hex')
  const cachePath = join(outDir, 'cache.json')
  const cached = readCache(cachePath, cacheKey)
  if (cached) {
    memo.set(memoKey, cached)
    return cached
  }

  const result = buildSync(buildOptions)
  const bundles = {} as Record<BundleKey, HandlerBundle>
  for (const key of BUNDLE_KEYS) {
    const outPath = join(outDir, '.staging', key, 'index.mjs')
    const file = result.outputFiles.find((f) => f.path === outPath)
    const meta = Object.entries(result.metafile.outputs).find(([p]) => resolve(root, p) === outPath)?.[1]
    /* c8 ignore next */
    if (!file || !meta) throw new Error(`esbuild produced no bundle for ${entries[key]}`)
    if (!meta.exports.includes('handler')) throw new Error(`${entries[key]} does not export \`handler\`: Lambda would fail to start ${key}`)
    const files: { name: string; content: Uint8Array }[] = [{ name: 'index.mjs', content: file.contents }]
    for (const name of Object.keys(EXTRA_ENTRIES[key] ?? {})) {
      const extra = result.outputFiles.find((f) => f.path === join(outDir, '.staging', key, `${name}.mjs`))
      /* c8 ignore next */
      if (!extra) throw new Error(`esbuild produced no ${name}.mjs for ${key}`)
      files.push({ name: `${name}.mjs`, content: extra.contents })
    }
    for (const [name, from] of Object.entries(EXTRA_FILES[key] ?? {})) files.push({ name, content: readFileSync(resolve(root, from)) })
    // the directory and the hash cover every file of the function
    const hash = createHash('sha256')
    for (const f of files) hash.update(f.name).update('\0').update(f.content)
    const sha256 = files.length === 1 ? createHash('sha256').update(file.contents).digest('hex') : hash.digest('hex')
    const dir = join(outDir, `${key}-${sha256.slice(0, 16)}`)
    const zipPath = join(dir, `${key}.zip`)
    writeDirOnce(dir, { ...Object.fromEntries(files.map((f) => [f.name, f.content])), [`${key}.zip`]: zipFiles(files) })
    bundles[key] = {
      key, dir, sha256, zipPath,
      // Hash the ZIP on disk: an existing directory may hold one written by an earlier version.
      codeSha256: createHash('sha256').update(readFileSync(zipPath)).digest('base64'),
      bytes: files.reduce((n, f) => n + f.content.length, 0),
    }
  }
  const copied = FUNCTION_KEYS.flatMap((k) => Object.values(EXTRA_FILES[k] ?? {}))
  const inputs = Object.fromEntries([...Object.keys(result.metafile.inputs), ...copied].map((p) => {
    const abs = resolve(root, p)
    return [abs, fingerprint(abs)]
  }))
  writeFileSync(cachePath, JSON.stringify({ key: cacheKey, inputs, bundles } satisfies CacheFile))
  memo.set(memoKey, bundles)
  return bundles
}
