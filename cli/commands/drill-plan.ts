/**
 * The synthesized plan the local drill runs from: the stacks synthesized for the drill's
 * config, as `cdktf synth` would (`cdktf.out/stacks/<name>/cdk.tf.json` plus the code assets).
 *
 * A synth takes seconds, so one is reused while it is current: it lives under
 * `.forensics/drill-synth/<key>/cdktf.out`, where the key is the SHA-256 of the config and of
 * every file the synth reads (stacks/, collectors/, forensics/, package-lock.json,
 * cdktf.json). Any change to one of them is a new key, hence a new synth. A synth is written
 * to a temporary directory and renamed into place, so concurrent drills never read half of one;
 * synths unused for a day are removed.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join, relative } from 'node:path'
import { canonicalJson } from '../../forensics/canonical-json.js'
import type { ForensicsConfig } from '../../forensics/config.js'

/** Where the plan is and whether it was synthesized now. */
export interface DrillPlanFile {
  file: string
  /** true when a current synth was reused */
  reused: boolean
  /** the synth's cache key */
  key: string
}

const STALE_MS = 86_400_000
const SOURCES = ['stacks', 'collectors', 'forensics']
const FILES = ['package-lock.json', 'cdktf.json']

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else if (e.isFile()) out.push(p)
  }
}

/** The cache key of a synth of `config` from the sources under `root`. */
export function drillSynthKey(root: string, config: ForensicsConfig): string {
  const files: string[] = []
  for (const d of SOURCES) if (existsSync(join(root, d))) walk(join(root, d), files)
  for (const f of FILES) if (existsSync(join(root, f))) files.push(join(root, f))
  const h = createHash('sha256').update(canonicalJson(config)).update('\0')
  for (const f of files.sort()) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0')
  return h.digest('hex')
}

/**
 * The plan file of the stacks synthesized for `config`: a current synth is reused, otherwise
 * the stacks are synthesized (the app is imported only then: it loads cdktf).
 */
export async function drillPlanFile(root: string, config: ForensicsConfig, log: (line: string) => void): Promise<DrillPlanFile> {
  const key = drillSynthKey(root, config)
  const base = join(root, '.forensics', 'drill-synth')
  const dir = join(base, key.slice(0, 16))
  const file = join(dir, 'cdktf.out', 'stacks', config.name, 'cdk.tf.json')
  if (existsSync(file)) {
    // last used now: kept by the clean-up below
    utimesSync(dir, new Date(), new Date())
    return { file, reused: true, key }
  }
  mkdirSync(base, { recursive: true })
  const scratch = join(base, `.tmp-${process.pid}-${Date.now()}`)
  const started = Date.now()
  mkdirSync(scratch)
  try {
    const [{ App }, { addForensicsStacks }] = await Promise.all([import('../../stacks/cdktf.js'), import('../../stacks/app.js')])
    const app = new App({ outdir: join(scratch, 'cdktf.out'), stackTraces: false })
    addForensicsStacks(app, config)
    app.synth()
    try {
      renameSync(scratch, dir)
    } catch (e) {
      // another drill put the same synth in place first: use it
      if (!existsSync(file)) throw e
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  // synths unused for a day are of sources that changed (or configs no longer drilled): drop them
  for (const e of readdirSync(base)) {
    const p = join(base, e)
    if (e !== key.slice(0, 16) && Date.now() - statSync(p).mtimeMs > STALE_MS) rmSync(p, { recursive: true, force: true })
  }
  log(`synthesized the stacks for the drill in ${((Date.now() - started) / 1000).toFixed(1)} s (${relative(root, file)})`)
  return { file, reused: false, key }
}
