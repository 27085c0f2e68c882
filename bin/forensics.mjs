#!/usr/bin/env node
// Entry point of the `forensics` command: runs the TypeScript CLI from source through the
// project's loader hooks (scripts/ts-hooks.mjs).
import { register } from 'node:module'
register('../scripts/ts-hooks.mjs', import.meta.url)
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
