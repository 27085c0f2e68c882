/**
 * Runs a function's bundled asset — the ZIP a deploy uploads — on one event, in a child
 * process with exactly the environment given (the plan's, resolved), as Lambda would: the
 * bundle's `index.mjs` is imported and its `handler` called. A module missing from the
 * bundle, or an environment the handler refuses at cold start, fails here as it would in
 * Lambda. Every AWS call it makes can be recorded (FORENSICS_AWS_CALL_LOG).
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { RecordedCall } from '../aws/call-recorder.js'
import { StorageError } from '../errors.js'

/** What one run of a bundled handler did. */
export interface BundledRun {
  ok: boolean
  result?: unknown
  /** `Name: message` of what the handler threw (or the process error) */
  error?: string
  /** the `field` of a ValidationError the handler threw */
  field?: string
  calls: RecordedCall[]
}

/** Unpacked bundles unused for this long are removed when another bundle is unpacked. */
export const BUNDLE_CACHE_MAX_AGE_MS = 7 * 24 * 3600_000

const BUNDLE_DIR_PREFIX = 'forensics-bundle-'

/**
 * Unpacks a code ZIP once per content (needs `unzip`) into `<tmp>/forensics-bundle-<sha256>`,
 * shared by every process (a drill, its tests); returns the directory holding `index.mjs`.
 * Each use marks the directory used (its mtime); unpacking a new content removes the
 * unpacked bundles nobody used for {@link BUNDLE_CACHE_MAX_AGE_MS} (every code change makes
 * a new one, and nothing else would ever remove them).
 */
export function unpackBundle(zipPath: string, now = Date.now()): string {
  const sha = createHash('sha256').update(readFileSync(zipPath)).digest('hex')
  const dir = join(tmpdir(), `${BUNDLE_DIR_PREFIX}${sha.slice(0, 32)}`)
  if (existsSync(join(dir, 'index.mjs'))) {
    utimesSync(dir, new Date(now), new Date(now))
    return dir
  }
  const scratch = mkdtempSync(join(tmpdir(), 'forensics-unpack-'))
  try {
    const unzip = spawnSync('unzip', ['-q', zipPath, '-d', scratch])
    if (unzip.status !== 0 || !existsSync(join(scratch, 'index.mjs'))) throw new StorageError(`cannot unpack ${zipPath} (needs unzip): ${String(unzip.stderr)}`)
    try {
      renameSync(scratch, dir)
    } catch (e) {
      // another process unpacked the same content first
      if (!existsSync(join(dir, 'index.mjs'))) throw e
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  pruneUnusedBundles(dir, now)
  return dir
}

/** Removes the unpacked bundles (other than `keep`) unused for {@link BUNDLE_CACHE_MAX_AGE_MS}. */
function pruneUnusedBundles(keep: string, now: number): void {
  for (const name of readdirSync(tmpdir())) {
    const dir = join(tmpdir(), name)
    if (!name.startsWith(BUNDLE_DIR_PREFIX) || dir === keep) continue
    try {
      if (now - statSync(dir).mtimeMs > BUNDLE_CACHE_MAX_AGE_MS) rmSync(dir, { recursive: true, force: true })
    } catch {
      // gone already, or not ours to remove: it stays
    }
  }
}

const RUNNER = `const m = await import(process.env.BUNDLE_ENTRY);
try { const r = await m.handler(JSON.parse(process.env.BUNDLE_EVENT), { awsRequestId: process.env.BUNDLE_REQUEST_ID, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => 900000 });
  process.stdout.write(JSON.stringify({ ok: true, result: r ?? null })) }
catch (e) { process.stdout.write(JSON.stringify({ ok: false, error: e.name + ': ' + e.message, ...(e.field ? { field: e.field } : {}) })) }`

let runnerFile: string | undefined

/**
 * The runner as a file: with `node -e`, worker threads a bundle starts (the inspector's scan
 * pool) would inherit `--input-type` and refuse to start.
 */
function runner(): string {
  if (runnerFile && existsSync(runnerFile)) return runnerFile
  runnerFile = processScratchFile('forensics-runner-', 'run-bundle.mjs', RUNNER)
  return runnerFile
}

/**
 * Writes `text` as `name` in a new folder under the system's temp folder and returns its
 * path; the folder is removed when this process exits.
 */
export function processScratchFile(prefix: string, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/** Options of {@link runBundledHandler}. */
export interface BundledRunOptions {
  functionName: string
  /** the function's environment (nothing of the caller's leaks in but PATH) */
  env: Record<string, string>
  requestId?: string
  /** record every AWS call (FORENSICS_AWS_CALL_LOG) */
  recordCalls?: boolean
}

/** Runs the bundle's handler on `event`; see the module comment. */
export async function runBundledHandler(zipPath: string, event: unknown, o: BundledRunOptions): Promise<BundledRun> {
  const dir = unpackBundle(zipPath)
  const callLog = o.recordCalls ? join(mkdtempSync(join(tmpdir(), 'forensics-calls-')), 'calls.jsonl') : undefined
  if (callLog) writeFileSync(callLog, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...o.env,
    AWS_LAMBDA_FUNCTION_NAME: o.functionName,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(callLog ? { FORENSICS_AWS_CALL_LOG: callLog } : {}),
    BUNDLE_ENTRY: pathToFileURL(join(dir, 'index.mjs')).href,
    BUNDLE_EVENT: JSON.stringify(event ?? null),
    BUNDLE_REQUEST_ID: o.requestId ?? 'local',
  }
  let out = ''
  let err = ''
  let code: number
  let calls: RecordedCall[] = []
  try {
    const child = spawn(process.execPath, [runner()], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    code = await new Promise<number>((res) => child.once('close', (c) => res(c ?? 1)))
    if (callLog) calls = readFileSync(callLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RecordedCall)
  } finally {
    // the call log's folder is this run's alone
    if (callLog) rmSync(dirname(callLog), { recursive: true, force: true })
  }
  if (code !== 0 || !out) return { ok: false, error: `${o.functionName} exited ${code}: ${err.slice(-2000)}`, calls }
  return { ...(JSON.parse(out) as Omit<BundledRun, 'calls'>), calls }
}
