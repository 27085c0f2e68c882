/**
 * Acceptance 3: checkov (pinned in requirements-dev.txt, installed into .venv by `npm test`)
 * scans the synthesized Terraform JSON of every stack. Zero failed checks, except those
 * skipped next to the resource with a reason.
 *
 * Checkov 3.2's terraform_json runner does not read skip comments itself (it scans every
 * resource with an empty skip list), so the skips the stacks write into each resource's
 * `"//": { "checkov": { "skip": [{ id, comment }] } }` are applied here: a failure counts as
 * skipped only when its own resource carries that id with a reason, and a skip that no
 * longer matches a failure is an error too (no stale exceptions).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repositoryRoot, synthesizeForensicsApp } from '../stacks/index.js'

const checkov = join(repositoryRoot, '.venv', 'bin', 'checkov')
const pinned = /^checkov==(\S+)$/m.exec(readFileSync(join(repositoryRoot, 'requirements-dev.txt'), 'utf8'))?.[1]

interface CheckovFailure {
  check_id: string
  check_name: string
  resource: string
  file_path: string
}
interface CheckovReport {
  check_type: string
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number }
  results: { failed_checks: CheckovFailure[] }
}
interface Skip { id: string; comment: string }
type StackJson = { resource?: Record<string, Record<string, { '//'?: { checkov?: { skip?: Skip[] } } }>> }

t.test('checkov is installed at the pinned version', async (t) => {
  t.ok(pinned, 'requirements-dev.txt pins checkov==<version>')
  if (!existsSync(checkov)) {
    t.fail(`${checkov} is missing: run \`npm test\` (or \`node scripts/bootstrap.mjs setup\`) to install requirements-dev.txt into .venv; checkov must scan the stacks`)
    return
  }
  // the installed distribution's version, as `checkov --version` prints it (which first
  // imports all of checkov: ~4 s of CPU)
  const v = spawnSync(join(repositoryRoot, '.venv', 'bin', 'python'), ['-c', "import importlib.metadata as m; print(m.version('checkov'))"], { encoding: 'utf8' })
  t.equal(v.stdout.trim(), pinned, `.venv has checkov ${pinned}`)
})

t.test('checkov finds no failed check in the synthesized stacks except reviewed skips', async (t) => {
  if (!existsSync(checkov)) {
    t.fail(`${checkov} is missing: run \`npm test\` to install requirements-dev.txt into .venv`)
    return
  }
  const outdir = mkdtempSync(join(tmpdir(), 'forensics-checkov-'))
  synthesizeForensicsApp({ outdir, env: { FORENSICS_CONFIG: join(repositoryRoot, 'forensics.config.json') } })
  const stacksDir = join(outdir, 'stacks')
  const stackNames = readdirSync(stacksDir)
  t.ok(stackNames.length >= 2, `scanning ${stackNames.join(', ')}`)

  const run = spawnSync(checkov, ['-d', stacksDir, '--framework', 'terraform_json', '--skip-download', '--quiet', '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: 'false', PYTHONWARNINGS: 'ignore' },
  })
  t.ok(run.status === 0 || run.status === 1, `checkov ran (exit ${run.status}): ${run.stderr.slice(-2000)}`)
  const parsed = JSON.parse(run.stdout) as CheckovReport | CheckovReport[]
  const reports = Array.isArray(parsed) ? parsed : [parsed]
  const report = reports.find((r) => r.check_type === 'terraform_json')
  if (!report) {
    t.fail(`checkov reported no terraform_json results: ${run.stdout.slice(0, 500)}`)
    return
  }
  t.equal(report.summary.parsing_errors, 0, 'every stack parsed')
  t.ok(report.summary.passed > 100, `${report.summary.passed} checks passed`)

  // Skips written next to each resource, by stack file and logical id.
  const skips = new Map<string, Skip[]>()
  for (const stack of stackNames) {
    const json = JSON.parse(readFileSync(join(stacksDir, stack, 'cdk.tf.json'), 'utf8')) as StackJson
    for (const [type, byId] of Object.entries(json.resource ?? {})) {
      for (const [id, res] of Object.entries(byId)) {
        const list = res['//']?.checkov?.skip ?? []
        if (list.length > 0) skips.set(`/${stack}/cdk.tf.json#${id}`, list.map((s) => ({ ...s, type }) as Skip))
      }
    }
  }
  const used = new Set<string>()
  const unexplained: string[] = []
  for (const f of report.results.failed_checks) {
    // checkov names resources "<type>.<id>" (sometimes "resource.<id>"): the id is unique per file.
    const key = `${f.file_path}#${f.resource.split('.').pop()}`
    const skip = skips.get(key)?.find((s) => s.id === f.check_id)
    if (skip) used.add(`${key}@${f.check_id}`)
    else unexplained.push(`${f.check_id} ${f.resource} in ${f.file_path}: ${f.check_name}`)
  }
  t.same(unexplained, [], 'no failed check without a skip next to its resource')

  let count = 0
  for (const [key, list] of skips) {
    for (const s of list) {
      count++
      t.ok(s.comment.length >= 60, `${s.id} on ${key} carries a reason a reviewer can judge`)
      t.ok(used.has(`${key}@${s.id}`), `${s.id} on ${key} still suppresses a real finding (no stale skips)`)
    }
  }
  t.ok(count > 0 && count === used.size, `${count} reviewed skips, all in use`)
  t.comment(`checkov ${pinned}: ${report.summary.passed} passed, ${unexplained.length} failed, ${used.size} skipped with reasons`)
})
