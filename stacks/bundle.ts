/**
 * Lambda asset bundling: every handler in `collectors/` is bundled by one esbuild call
 * (node22, ESM, everything inlined) and written to a directory named after the SHA-256 of
 * its output, which becomes a Terraform asset. Same source, same directory, same asset hash:
 * an unchanged handler is never redeployed, and repeated synths in one process (tests)
 * bundle only once.
 */
import { buildSync } from 'esbuild'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FUNCTION_KEYS, type FunctionKey } from '../forensics/routing.js'

/** Repository root (one level above `stacks/`). */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** One bundled handler. */
export interface HandlerBundle {
  key: FunctionKey
  /** Directory holding `index.mjs`; the Lambda handler is `index.handler`. */
  dir: string
  /** SHA-256 (hex) of `index.mjs`. */
  sha256: string
  bytes: number
}

/** Options for {@link bundleHandlers}. */
export interface BundleOptions {
  /** Repository root the entries are relative to. Default: this repository. */
  root?: string
  /** Entry file per function, relative to `root`. Default: `collectors/<key>.ts`. */
  entries?: Partial<Record<FunctionKey, string>>
  /** Where bundles are written. Default: `<root>/.forensics/build/lambda`. */
  outDir?: string
}

const memo = new Map<string, Record<FunctionKey, HandlerBundle>>()

// ESM bundles of CommonJS dependencies (the AWS SDK) still call `require` for Node
// built-ins; give them one.
const REQUIRE_SHIM = "import { createRequire as __forensicsCreateRequire } from 'node:module';\nconst require = __forensicsCreateRequire(import.meta.url);"

/**
 * Bundles every function's handler once per process and returns where each bundle is.
 * Throws when an entry file is missing, naming the file.
 */
export function bundleHandlers(options: BundleOptions = {}): Record<FunctionKey, HandlerBundle> {
  const root = resolve(options.root ?? repositoryRoot)
  const entries = Object.fromEntries(FUNCTION_KEYS.map((k) => [k, resolve(root, options.entries?.[k] ?? `collectors/${k}.ts`)])) as Record<FunctionKey, string>
  const outDir = resolve(options.outDir ?? join(root, '.forensics', 'build', 'lambda'))
  const memoKey = JSON.stringify([entries, outDir])
  const cached = memo.get(memoKey)
  if (cached) return cached

  const missing = FUNCTION_KEYS.filter((k) => !existsSync(entries[k]))
  if (missing.length > 0) {
    throw new Error(`cannot bundle the Lambda handlers: missing ${missing.map((k) => entries[k]).join(', ')}; each must export \`handler\``)
  }
  const result = buildSync({
    entryPoints: Object.fromEntries(FUNCTION_KEYS.map((k) => [`${k}/index`, entries[k]])),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outdir: join(outDir, '.staging'),
    outExtension: { '.js': '.mjs' },
    banner: { js: REQUIRE_SHIM },
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    // Reproducible output: no absolute paths, no timestamps.
    sourcemap: false,
    absWorkingDir: root,
  })
  const bundles = {} as Record<FunctionKey, HandlerBundle>
  for (const key of FUNCTION_KEYS) {
    const file = result.outputFiles.find((f) => f.path === join(outDir, '.staging', key, 'index.mjs'))
    /* c8 ignore next */
    if (!file) throw new Error(`esbuild produced no bundle for ${entries[key]}`)
    const sha256 = createHash('sha256').update(file.contents).digest('hex')
    const dir = join(outDir, `${key}-${sha256.slice(0, 16)}`)
    if (!existsSync(join(dir, 'index.mjs'))) {
      // Write then rename, so a concurrent synth never sees a half-written bundle.
      const tmp = `${dir}.tmp-${process.pid}`
      mkdirSync(tmp, { recursive: true })
      writeFileSync(join(tmp, 'index.mjs'), file.contents)
      try {
        renameSync(tmp, dir)
      } catch /* c8 ignore start */ {
        // Another process won the race with identical content.
        rmSync(tmp, { recursive: true, force: true })
      } /* c8 ignore stop */
    }
    bundles[key] = { key, dir, sha256, bytes: file.contents.length }
  }
  memo.set(memoKey, bundles)
  return bundles
}
