// Module-customization hooks that run the project's TypeScript directly on Node 20+:
// `.ts` files are transpiled with esbuild (types are only checked by `npm run check`), and
// NodeNext-style `./x.js` specifiers resolve to `./x.ts` when only the source exists.
//
// Unlike tsx, the output keeps the source's line structure (no whitespace minification)
// and carries an inline source map with the original text, so V8 coverage maps back to
// the right TypeScript lines — tap's coverage check depends on that.
import { transform } from 'esbuild'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

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
  const cjs = path.endsWith('.cts')
  const out = await transform(source, {
    loader: 'ts',
    format: cjs ? 'cjs' : 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    sourcesContent: true,
    sourcefile: path,
    keepNames: true,
    supported: { 'import-attributes': true, 'import-assertions': true },
  })
  return { format: cjs ? 'commonjs' : 'module', source: out.code, shortCircuit: true }
}
