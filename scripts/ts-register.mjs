// `node --import ./scripts/ts-register.mjs file.ts`: registers scripts/ts-hooks.mjs.
import { register } from 'node:module'
register('./ts-hooks.mjs', import.meta.url)
