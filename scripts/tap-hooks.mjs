#!/usr/bin/env node
// tap's @tapjs/processinfo (3.1.x) records every module a test process loads (for coverage)
// through module hooks. It registers them in-thread (`module.registerHooks`) only from Node
// 24.13.1 and otherwise on a loader thread (`module.register`): every import and require of
// every test process then crosses threads, twice, with the file's source. On the Node the
// suite runs on (the Lambda runtime's, 22.23) that cost ~0.6 s of CPU per test process
// (issue 11), and in-thread hooks work there: the project's own
// TypeScript hooks use them (scripts/ts-register.mjs) and the suite's coverage is the same
// either way. So its version gate, in the copy under node_modules, also admits Node 22.22+.
//
// Run after every install (`postinstall`) and by scripts/bootstrap.mjs before the suite;
// idempotent. A processinfo whose gate reads otherwise is left alone: the suite then only
// runs slower, and this says so.
//
//   node scripts/tap-hooks.mjs     widen the gate in node_modules (exit 0 either way)
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The last line of processinfo 3.1's gate, and what it becomes. */
const GATE_END = '(version[0] === 24 && version[1] >= 13));'
const WIDENED = '(version[0] === 24 && version[1] >= 13) ||\n        /* widened by cdktf-forensics scripts/tap-hooks.mjs */ (version[0] === 22 && version[1] >= 22));'

/**
 * The source of processinfo's `import.mjs` with the gate widened: `changed` false when it
 * already was, `reason` set (and the text unchanged) when the gate is not the known one.
 */
export function widenGate(source) {
  if (source.includes(WIDENED)) return { source, changed: false }
  const at = source.indexOf(GATE_END)
  if (at < 0 || source.indexOf(GATE_END, at + 1) >= 0 || !source.includes('const useSyncHooks')) {
    return { source, changed: false, reason: 'its version gate is not the one of @tapjs/processinfo 3.1' }
  }
  return { source: source.slice(0, at) + WIDENED + source.slice(at + GATE_END.length), changed: true }
}

/** Widens the gate of the processinfo installed under `root`; returns what happened, in words. */
export function useInThreadTapHooks(root) {
  const file = join(root, 'node_modules', '@tapjs', 'processinfo', 'dist', 'esm', 'import.mjs')
  if (!existsSync(file)) return `tap's processinfo is not installed (${file}): nothing to widen`
  const r = widenGate(readFileSync(file, 'utf8'))
  if (r.reason) return `left ${file} alone: ${r.reason}; test processes keep tap's module hooks on a loader thread (slower, same results)`
  if (!r.changed) return "tap's module hooks run in-thread on Node 22.22+ (already set)"
  writeFileSync(file, r.source)
  return "tap's module hooks now run in-thread on Node 22.22+ (node_modules/@tapjs/processinfo/dist/esm/import.mjs)"
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stderr.write(`[tap-hooks] ${useInThreadTapHooks(join(dirname(fileURLToPath(import.meta.url)), '..'))}\n`)
}
