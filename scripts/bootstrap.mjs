#!/usr/bin/env node
// Bootstrap for the two quick-start commands (`npm start`, `npm test`) and `npm run bench`.
// Uses only Node built-ins: it runs before any dependency exists on a fresh clone.
//
//   node scripts/bootstrap.mjs test    install what is missing, then run the tap suite
//   node scripts/bootstrap.mjs start   install what is missing, then run the local drill
//   node scripts/bootstrap.mjs bench   install what is missing, then run the benchmarks
//   node scripts/bootstrap.mjs soak    install what is missing, then run the scale tests (test/soak)
//   node scripts/bootstrap.mjs deploy-local  install what is missing, then rehearse `cdktf deploy` against a fresh emulator
//   node scripts/bootstrap.mjs fuzz    install what is missing, then run the long fuzz runs (test/fuzz)
//   node scripts/bootstrap.mjs setup   only install
//
// Installs are skipped when they are current: node_modules is keyed by the SHA-256 of
// package-lock.json, the virtualenv by the SHA-256 of requirements-dev.txt.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { tmpdir } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { useInThreadTapHooks } from './tap-hooks.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const venv = join(root, '.venv')
const venvBin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')

const log = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`)

/** Runs a command with inherited stdio; returns its exit status. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (r.error) {
    log(`${cmd} could not start: ${r.error.message}`)
    return 127
  }
  return r.status ?? (r.signal ? 128 : 1)
}

const sha256File = (p) => createHash('sha256').update(readFileSync(p)).digest('hex')

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json')
  const stamp = join(root, 'node_modules', '.forensics-lock-sha256')
  const want = sha256File(lock)
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) {
    log('npm packages are current (package-lock.json unchanged)')
    return
  }
  log('installing npm packages from package-lock.json (npm ci)')
  const status = run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'])
  if (status !== 0) {
    log('npm ci failed: check network access to the npm registry, then run again')
    process.exit(3)
  }
  writeFileSync(stamp, want + '\n')
  // tap rebuilds its test class for the plugin list in package.json the first time it runs
  // after an install; building it here keeps that out of the suite's time. The list keeps
  // only what the tests call (asserts, fixture's t.testdir, before-each, after's t.teardown,
  // filter): every plugin costs each test process start-up time, mock a loader as well
  log('building tap for the plugins in package.json (tap build)')
  if (run(process.execPath, [join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), 'build'], { stdio: ['ignore', 'ignore', 'inherit'] }) !== 0) {
    log('tap build failed: tap will try again when the suite starts')
  }
}

/**
 * The pinned Python tools (moto server, checkov) live in .venv. When pip cannot reach
 * PyPI, the emulator falls back to the machine's `moto_server` and we say so.
 */
function ensureVenv() {
  const req = join(root, 'requirements-dev.txt')
  const stamp = join(venv, '.forensics-req-sha256')
  const want = sha256File(req)
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) {
    log('python virtualenv is current (requirements-dev.txt unchanged)')
    return
  }
  const python = process.env.PYTHON ?? 'python3'
  if (!existsSync(join(venvBin, 'python'))) {
    log(`creating virtualenv ${venv}`)
    if (run(python, ['-m', 'venv', venv]) !== 0) {
      log(`could not create a virtualenv with ${python}; set PYTHON to a Python 3.9+ interpreter`)
      process.exit(3)
    }
  }
  log('installing pinned Python tools into .venv (requirements-dev.txt)')
  const pip = join(venvBin, 'python')
  const status = run(pip, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', req])
  if (status !== 0) {
    log('pip could not install requirements-dev.txt (PyPI unreachable?): the emulator will fall back to the machine\'s moto_server, and checkov scans will be reported as unavailable')
    return
  }
  writeFileSync(stamp, want + '\n')
}

function node(args, env = {}) {
  return run(process.execPath, args, { env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env } })
}

/**
 * Prints the wall time of every test file this run executed (tap keeps each file's TAP
 * output, ending in `# time=…ms`, under .tap/test-results), slowest first.
 */
function printFileTimes(since) {
  const dir = join(root, '.tap', 'test-results')
  const rows = []
  const walk = (d) => {
    if (!existsSync(d)) return
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.tap') && statSync(p).mtimeMs >= since) {
        const m = /# time=([\d.]+)ms\s*$/.exec(readFileSync(p, 'utf8'))
        if (m) rows.push([relative(dir, p).replace(/\.tap$/, ''), Number(m[1]) / 1000])
      }
    }
  }
  walk(dir)
  if (!rows.length) return
  rows.sort((a, b) => b[1] - a[1])
  const secs = (from) => ((Date.now() - from) / 1000).toFixed(0)
  const check = checkMs ? `, not counting CI's ${(checkMs / 1000).toFixed(0)} s of type-check and lint` : ''
  log(`per-file wall times (${rows.length} files, slowest first; whole run ${secs(since)} s; npm test ${secs(installed + checkMs)} s after the installs${check}):`)
  for (const [file, s] of rows) process.stderr.write(`  ${s.toFixed(1).padStart(7)} s  ${file}\n`)
}

/**
 * Headless Chromium for the report's browser test: Debian's `chromium` package, never a
 * downloaded browser build (playwright-core only drives it). Installed with apt-get when
 * it is missing and we are root; otherwise the browser test says plainly that it did not
 * run and why (and with CI=true its absence fails the test).
 */
function ensureChromium() {
  const bin = process.env.FORENSICS_CHROMIUM ?? '/usr/bin/chromium'
  if (existsSync(bin)) {
    log(`chromium is installed (${bin})`)
    return
  }
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    log(`${bin} is missing and we are not root: install Debian's chromium package (apt-get install -y chromium) to run the report's browser test`)
    return
  }
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    log(`${bin} is missing and there is no apt-get: install Chromium and set FORENSICS_CHROMIUM to run the report's browser test`)
    return
  }
  log("installing Debian's chromium package for the report's browser test (apt-get)")
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (run('apt-get', ['update', '-qq'], { env }) !== 0 || run('apt-get', ['install', '-y', '-qq', 'chromium'], { env }) !== 0 || !existsSync(bin)) {
    log('apt-get could not install chromium: the browser test will say it did not run (and fail under CI)')
  }
}

/**
 * One emulator fork server for a test run (`scripts/moto_runner.py --fork-server`): every
 * test file's emulator is forked from a Python that imported moto once, instead of each
 * paying moto's start-up (forensics/local/emulator.ts, FORENSICS_EMULATOR_FORK_SERVER).
 * It stops when this process exits (its stdin closes). Returns the environment that points
 * the tests at it, or nothing when it cannot start (each test then starts its own emulator).
 */
async function startEmulatorForkServer() {
  const python = join(venvBin, 'python')
  if (!existsSync(python)) return {}
  const socket = join(tmpdir(), `forensics-moto-${process.pid}.sock`)
  const child = spawn(python, [join(root, 'scripts', 'moto_runner.py'), '--fork-server', socket], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, PYTHONUNBUFFERED: '1' } })
  let timer
  const ready = await new Promise((res) => {
    timer = setTimeout(() => res(false), 60_000)
    createInterface({ input: child.stdout }).once('line', (l) => res(l.trim() === 'ready'))
    child.once('exit', () => res(false))
    child.once('error', () => res(false))
  })
  clearTimeout(timer)
  if (!ready) {
    child.kill('SIGKILL')
    log('the emulator fork server did not start: every test file starts its own emulator (slower)')
    return {}
  }
  child.unref()
  return { FORENSICS_EMULATOR_FORK_SERVER: socket }
}

/**
 * The Node.js the toolkit's code runs on here: the Lambda runtime's major version
 * (LAMBDA_RUNTIME in stacks/capture-function.ts), so that the tests, the drill and the
 * benchmarks run the functions' code as Lambda does. That is this machine's Node when it is
 * that new, else the pinned `node-<platform>-<arch>` build of package.json's
 * optionalDependencies (npm installs it where it exists: Linux x64), else this Node with a
 * warning. Node 22 throws stream errors that Node 20 let pass unheard (aws/response-body.ts).
 */
function lambdaNode() {
  const source = readFileSync(join(root, 'stacks', 'capture-function.ts'), 'utf8')
  const major = Number(/LAMBDA_RUNTIME = 'nodejs(\d+)\.x'/.exec(source)?.[1])
  const own = Number(process.versions.node.split('.')[0])
  if (!major || own >= major) {
    log(`running on Node ${process.versions.node} (Lambda runs Node ${major || '?'})`)
    return process.execPath
  }
  const pinned = join(root, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node')
  if (existsSync(pinned)) return pinned
  log(`Lambda runs Node ${major}, this is Node ${process.versions.node} and package.json pins no Node ${major} build for ${process.platform}-${process.arch}: running on Node ${process.versions.node} (install Node ${major} to run as Lambda does)`)
  return process.execPath
}

const cmd = process.argv[2] ?? 'setup'
const rest = process.argv.slice(3)
/** set when this script was started again on the Lambda runtime's Node, after the installs */
const relaunched = process.env.FORENSICS_BOOTSTRAP_INSTALLED_AT
if (!relaunched) {
  mkdirSync(join(root, '.forensics'), { recursive: true })
  ensureNodeModules()
  // also after an install made before the postinstall step existed (scripts/tap-hooks.mjs)
  const hooks = useInThreadTapHooks(root)
  if (!hooks.includes('already set')) log(hooks)
  ensureVenv()
  if (cmd === 'test' || cmd === 'setup') ensureChromium()
}
/** when the installs were done: `npm test` reports its time from here (issue 11: ≤ 6 minutes after install) */
const installed = relaunched ? Number(relaunched) : Date.now()
if (!relaunched && cmd !== 'setup') {
  const runtime = lambdaNode()
  if (runtime !== process.execPath) {
    log(`running on ${runtime} (Node ${spawnSync(runtime, ['--version'], { encoding: 'utf8' }).stdout.trim()}, the Lambda runtime's)`)
    process.exit(run(runtime, [fileURLToPath(import.meta.url), cmd, ...rest], { env: { ...process.env, FORENSICS_BOOTSTRAP_INSTALLED_AT: String(installed) } }))
  }
}
/** time CI spent on `npm run check` (not part of a developer's `npm test`) */
let checkMs = 0

const tsx = ['--import', join(root, 'scripts', 'ts-register.mjs')]
const quietSdk = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
/** the commands that run test files (they share the emulator fork server, the warm cache and a temp folder) */
const runsTests = ['test', 'soak', 'fuzz'].includes(cmd)
const forkServer = runsTests ? await startEmulatorForkServer() : {}
if (runsTests) await warmTranspileCache()
const suiteTmp = runsTests ? { TMPDIR: suiteTmpdir() } : {}

/**
 * The run's own temp folder, given to every test process (and what it starts) as TMPDIR and
 * removed when this process exits: a run leaves nothing in the system's temp folder, also
 * what a test or a crashed child did not remove itself.
 */
function suiteTmpdir() {
  const dir = mkdtempSync(join(tmpdir(), 'forensics-suite-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Transpiles the project's TypeScript into the loader's cache (scripts/ts-hooks.mjs) in this
 * one process before the test processes start, instead of each of them starting esbuild for
 * the modules it imports (a fresh clone's cache is empty). A failure here only costs time:
 * the loader transpiles on demand as before.
 */
async function warmTranspileCache() {
  const started = Date.now()
  try {
    const { warmCache } = await import('./ts-hooks.mjs')
    const { files, transpiled } = await warmCache(['bench', 'cli', 'collectors', 'forensics', 'scripts', 'stacks', 'test'].map((d) => join(root, d)))
    log(`TypeScript cache: ${transpiled} of ${files} files transpiled in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } catch (err) {
    log(`could not fill the TypeScript cache (${err.message}): each test process transpiles what it loads`)
  }
}
/** Runs the chosen command after the installs; returns its exit code. */
function dispatch() {
  if (cmd === 'setup') return 0
  if (cmd === 'test') {
    if (process.env.CI) {
      log('CI: type-checking and linting (npm run check)')
      const checking = Date.now()
      const s = run('npm', ['run', '-s', 'check'])
      checkMs = Date.now() - checking
      if (s !== 0) return s
    }
    // the SDK's "Node 20 support ends" notice would repeat in every test process
    const started = Date.now()
    const status = node([join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...rest], { ...quietSdk, ...forkServer, ...suiteTmp })
    printFileTimes(started)
    return status
  }
  if (cmd === 'soak') {
    const soak = readdirSync(join(root, 'test', 'soak')).filter((f) => f.endsWith('.soak.ts')).map((f) => join('test', 'soak', f))
    return node([join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), '--disable-coverage', '--timeout=3600', ...(rest.length ? rest : soak)], { ...quietSdk, ...forkServer, ...suiteTmp })
  }
  if (cmd === 'fuzz') {
    const fuzz = readdirSync(join(root, 'test', 'fuzz')).filter((f) => f.endsWith('.fuzz.ts')).map((f) => join('test', 'fuzz', f))
    return node([join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), '--disable-coverage', '--timeout=7200', ...(rest.length ? rest : fuzz)], { ...quietSdk, ...forkServer, ...suiteTmp })
  }
  if (cmd === 'start') return node([...tsx, join(root, 'cli', 'main.ts'), 'drill', ...rest])
  if (cmd === 'bench') return node(['--expose-gc', ...tsx, join(root, 'bench', 'run.ts'), ...rest], quietSdk)
  if (cmd === 'deploy-local') return node([...tsx, join(root, 'scripts', 'deploy-local.ts'), ...rest], quietSdk)
  log(`unknown command ${cmd}: use test, start, bench, soak, fuzz, deploy-local or setup`)
  return 2
}
process.exit(dispatch())
