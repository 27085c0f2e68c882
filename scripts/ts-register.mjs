// `node --import ./scripts/ts-register.mjs file.ts`: registers scripts/ts-hooks.mjs, in the
// importing thread where Node has `module.registerHooks` (22.15+), else on a hooks thread.
import module from 'node:module'

if (typeof module.registerHooks === 'function') {
  const { resolveSync, loadSync } = await import('./ts-hooks.mjs')
  module.registerHooks({ resolve: resolveSync, load: loadSync })
} else {
  module.register('./ts-hooks.mjs', import.meta.url)
}
