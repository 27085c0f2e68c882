import t from 'tap'
import { Writable } from 'node:stream'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { main } from '../cli/main.js'
import { runLocalDrill } from '../cli/commands/drill-local.js'
import { localDrillOverrides } from '../cli/commands/drill.js'
import { readDeploymentPlan } from '../forensics/runtime/synthesized-plan.js'
import { LOCAL_DRILL_CONFIG, LOCAL_DRILL_RULES, withDrillInspection } from '../forensics/drill/local-config.js'
import { parseConfig } from '../forensics/config.js'
import type { DrillReport } from '../forensics/drill/drill-report.js'

const sink = (): { stream: Writable; text: () => string } => {
  const chunks: Buffer[] = []
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) }), text: () => Buffer.concat(chunks).toString('utf8') }
}

type RawPlan = { resource: Record<string, Record<string, Record<string, unknown>>> }
/** The plan file as synthesized, parsed for mutation in memory. */
const rawPlan = (file: string): RawPlan => JSON.parse(readFileSync(file, 'utf8')) as RawPlan
const planFn = (raw: RawPlan, key: string): { variables: Record<string, string> } =>
  Object.values(raw.resource.aws_lambda_function).find((f) => String(f.function_name).endsWith(`-${key}`))!.environment as { variables: Record<string, string> }

t.test('local drill on the emulator, from the synthesized plan and the bundled assets', async (t) => {
  const home = t.testdir({})
  const env = { ...process.env, FORENSICS_HOME: home, FORENSICS_SIGNING_KEY: undefined }

  t.test('every check passes and the bundle verifies with forensics verify and sha256sum -c', async (t) => {
    const out = sink()
    const err = sink()
    const code = await main(['drill', '--out', join(home, 'drills')], env, out.stream, err.stream)
    t.equal(code, 0, err.text().split('\n').slice(-30).join('\n'))
    const text = out.text()
    for (const name of ['captures-committed', 'cloudtrail-slice-provable', 'artifacts-match-sha256', 'retention-on-evidence', 'evidence-delete-refused', 'bundle-builds-and-verifies', 'custody-chain-valid', 'siem-public-grant-finding', 'failure-reached-dlq', 'inspection-hit-routed', 'inspection-hit-captured', 'containment-planned']) {
      t.match(text, new RegExp(`PASS  ${name}`), name)
    }
    t.match(text, /drill passed: 12 of 12 checks/)
    t.match(text, /time from incident to committed manifest: \d+\.\d s/)
    // the plan it ran from, and which function ran from which zip
    const planFile = /^ {2}plan: (\S+cdk\.tf\.json) \(sha256 ([0-9a-f]{64})\)$/m.exec(text)
    t.ok(planFile, 'the printed report names the plan file and its SHA-256')
    t.equal(planFile?.[2], createHash('sha256').update(readFileSync(planFile![1])).digest('hex'), 'the SHA-256 of the plan file')
    for (const key of ['bucket-config', 'object-versions', 'cloudtrail-slice', 'custody-recorder', 'inspector']) t.match(text, new RegExp(`^ {4}${key} +assets/\\S+/${key}\\.zip$`, 'm'), `${key} ran from its zip`)
    t.match(text, /^ {4}drill +in process \(drives the local runtime\), environment from the plan/m)
    t.match(err.text(), /^event source mapping: forensics-object-versions-fanout → forensics-object-versions \(batch size 1, bundled\)$/m)
    t.match(err.text(), /^invoked forensics-drill asynchronously with the input of schedule forensics-drill: \{"source":"forensics.drill","trigger":"schedule","canaryBucket":"forensics-canary-111111111111"\}/m)
    t.match(err.text(), /signing key kms:alias\/forensics-signing/)
    const bundle = /bundle: (\S+\.zip)/.exec(text)?.[1] as string
    t.ok(existsSync(bundle), 'the bundle is left behind')
    const verifyOut = sink()
    t.equal(await main(['verify', bundle], env, verifyOut.stream, err.stream), 0, verifyOut.text())
    const dir = t.testdir({})
    execFileSync('unzip', ['-q', bundle, '-d', dir])
    const sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString()
    t.notMatch(sums, /FAILED/)
    // the case report an investigator opens first is in the drill case's bundle, listed and checked
    t.match(sums, /report\.html: OK/)
    const page = readFileSync(join(dir, 'report.html'), 'utf8')
    t.match(page, /<b>PutBucketPolicy<\/b>/, 'report.html: the incident\'s policy change is on the timeline')
    t.match(page, /arn:aws:iam::\d+:user\/forensics-drill/, 'report.html: who made the calls')
    t.match(page, /public grant/, 'report.html: the public-grant finding')
    const reportFile = /report: (\S+report\.json)/.exec(text)?.[1] as string
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as DrillReport
    t.match(report, { schema: 'forensics.drill/v1', mode: 'local', passed: true, cleanup: { ok: true }, plan: { kind: 'plan', file: planFile?.[1], sha256: planFile?.[2], functions: { 'bucket-config': /^assets\/.+\/bucket-config\.zip$/ } } })
    t.ok(report.timeToEvidenceMs! >= 0)
    t.equal(report.captures.length, 4, 'baseline + three incident captures')
    // the canary's EICAR upload: a Detection Finding on the SIEM topic and a sealed capture of its bytes
    const routed = report.checks.find((c) => c.name === 'inspection-hit-routed')!
    t.match(routed.evidence, { object: /^s3:\/\/forensics-(local-)?canary[^/]*\/drill\/drill-[^/]+\/inspection\/eicar-test\.txt$/, message: { class_name: 'Detection Finding', finding_info: { types: ['forensics_drill_eicar_test_file'] } } })
    const captured = report.checks.find((c) => c.name === 'inspection-hit-captured')!.evidence as { uploadedSha256: string; caseId: string; capture: { collector: string; artifact: { sha256: string } } }
    t.equal(captured.capture.collector, 'object-versions')
    t.equal(captured.capture.artifact.sha256, captured.uploadedSha256)
    t.equal(captured.uploadedSha256, '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f', 'the SHA-256 of the EICAR test file')
    t.match(captured.caseId, /^inspection-/)
  })

  // One drill for two variants of the plan run (each local drill costs a whole emulator, the
  // deployment and warm containers): the object-versions function fans out (its environment
  // changed in the plan) and an artifact of that fanned-out capture is corrupted after capture.
  // The fan-out is proven by the workers' line and the committed capture; every check but the
  // two the corruption must fail still passes, and the hash check names only the corrupted
  // artifact, so every other fanned-out artifact re-read with its SHA-256.
  t.test('object versions fanned out through the SQS queue are sealed by the function the plan maps to it; an artifact corrupted after capture fails the hash check, names the artifact, exits non-zero', async (t) => {
    const out = sink()
    const err = sink()
    // the deployed function's environment, changed in the plan (the stack writes no threshold)
    localDrillOverrides.plan = (file) => {
      const raw = rawPlan(file)
      Object.assign(planFn(raw, 'object-versions').variables, { FORENSICS_FANOUT_THRESHOLD: '1', FORENSICS_FANOUT_PAGE_SIZE: '1' })
      return readDeploymentPlan(file, raw)
    }
    t.teardown(() => void delete localDrillOverrides.plan)
    const code = await main(['drill', '--out', join(home, 'drills-fanout-corrupt')], { ...env, FORENSICS_DRILL_CORRUPT_ARTIFACT: 'versions/' }, out.stream, err.stream)
    t.equal(code, 1, 'a failed check exits non-zero')
    const text = out.text()
    // the fan-out
    t.match(err.text(), /fan-out workers handled [1-9]\d* page\(s\), 0 failed \([1-9]\d* batch\(es\)\)/)
    const report = JSON.parse(readFileSync(/report: (\S+report\.json)/.exec(text)![1], 'utf8')) as DrillReport
    t.ok(report.captures.some((c) => c.collector === 'object-versions' && c.artifacts >= 3), 'the fanned-out object-versions capture is committed')
    t.equal(report.checks.length, 12)
    t.same(report.checks.filter((c) => c.verdict !== 'pass').map((c) => c.name).sort(), ['artifacts-match-sha256', 'bundle-builds-and-verifies'], 'every other check passes')
    t.match(text, /drill FAILED: artifacts-match-sha256, bundle-builds-and-verifies$/m)
    // the corruption: named, and the only mismatch
    t.equal(report.passed, false)
    const key = /^test hook: reads of (\S+) were manipulated after capture$/m.exec(err.text())?.[1] as string
    t.match(key, /\/artifacts\/versions\//, 'one versions artifact corrupted')
    const hash = report.checks.find((c) => c.name === 'artifacts-match-sha256')!
    t.equal(hash.verdict, 'fail')
    t.match(hash.summary, `hash-mismatch ${key}`)
    t.match(text, new RegExp(`FAIL  artifacts-match-sha256 .*hash-mismatch ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the printed check names the artifact')
    t.same((hash.evidence as { mismatches: Array<{ code: string; subject: string }> }).mismatches.map((m) => [m.code, m.subject]), [['hash-mismatch', key]], 'only the corrupted artifact mismatches')
    t.equal(report.checks.find((c) => c.name === 'bundle-builds-and-verifies')!.verdict, 'fail')
    t.equal(report.bundle, undefined, 'no bundle was written')
    t.notMatch(text, /^ {2}bundle: /m)
    t.equal(report.checks.find((c) => c.name === 'custody-chain-valid')!.verdict, 'pass', 'the chain itself is intact')
  })
})

t.test('a local drill whose config names no canary bucket fails with the drill function’s error', async (t) => {
  const dir = t.testdir({ 'forensics.config.json': JSON.stringify({ ...LOCAL_DRILL_CONFIG, drill: { enabled: false } }) })
  const lines: string[] = []
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  await t.rejects(
    runLocalDrill({ env: { ...process.env, FORENSICS_CONFIG: join(dir, 'forensics.config.json') }, outDir: join(dir, 'drills'), log: (l) => lines.push(l), retryDelaysMs: [1, 1] }),
    { message: /^the drill did not finish: ValidationError: the drill has no canary bucket: set drill.canaryBucket in the config \(the stack writes FORENSICS_CANARY_BUCKET\) or send \{"canaryBucket": "…"\} \(see .*\)$/ },
  )
  t.match(lines[0], `config: ${join(dir, 'forensics.config.json')}`)
  t.ok(lines.some((l) => l.startsWith('provisioned from the plan:')), 'the evidence side was provisioned')
  t.ok(lines.some((l) => /^invoked forensics-drill asynchronously with an empty event \(the plan has no drill schedule\)/.test(l)), 'no schedule in the plan: an empty event')
  t.same(process.env, saved, 'the process environment is restored')
})

t.test('a plan that breaks the contract fails the drill naming the variable, the rule and the events, before the drill starts', async (t) => {
  const home = t.testdir({})
  // mutated in memory: a variable renamed on cloudtrail-slice; PutBucketAcl dropped from the rule, PutBucketVersioning routed
  localDrillOverrides.plan = (file) => {
    const raw = rawPlan(file)
    const vars = planFn(raw, 'cloudtrail-slice').variables
    vars.FORENSICS_CLOUDTRAIL_ARCHIVE = vars.FORENSICS_TRAIL_ARCHIVE
    delete vars.FORENSICS_TRAIL_ARCHIVE
    const rule = Object.values(raw.resource.aws_cloudwatch_event_rule).find((r) => r.name === 'forensics-s3-access-changes')!
    const pattern = JSON.parse(String(rule.event_pattern)) as { detail: { eventName: string[] } }
    pattern.detail.eventName = [...pattern.detail.eventName.filter((n) => n !== 'PutBucketAcl'), 'PutBucketVersioning']
    rule.event_pattern = JSON.stringify(pattern)
    return readDeploymentPlan(file, raw)
  }
  t.teardown(() => void delete localDrillOverrides.plan)
  const out = sink()
  const err = sink()
  const code = await main(['drill', '--out', join(home, 'drills')], { ...process.env, FORENSICS_HOME: home }, out.stream, err.stream)
  t.equal(code, 2, 'a usage/validation error')
  const text = err.text()
  t.match(text, /the plan \S+cdk\.tf\.json breaks the contract between the stacks and the functions/)
  t.match(text, /the plan writes FORENSICS_CLOUDTRAIL_ARCHIVE on forensics-cloudtrail-slice, which its cloudtrail-slice handler does not read/)
  t.match(text, /forensics-cloudtrail-slice: environment variable FORENSICS_TRAIL_ARCHIVE is not set on cloudtrail-slice/)
  t.match(text, /rule forensics-s3-access-changes routes PutBucketVersioning, which bucket-config does not accept/)
  t.match(text, /rule forensics-s3-access-changes no longer routes PutBucketAcl, which bucket-config accepts/)
  t.notMatch(text, /^drill drill-/m, 'the drill never started')
  t.equal(out.text(), '')
})

t.test('withDrillInspection: the local drill inspects the canary drill uploads with the shipped rule, nothing else of the config changes', async (t) => {
  const base = parseConfig(LOCAL_DRILL_CONFIG)
  t.equal(base.inspection.enabled, false, 'the built-in config itself does not enable inspection')
  const local = withDrillInspection(base)
  t.same(local.inspection.buckets, [{ bucket: 'forensics-local-canary', prefixes: ['drill/'], account: '123456789012' }])
  t.same(local.inspection.rules, [LOCAL_DRILL_RULES])
  t.match(local.inspection, { enabled: true, iocs: [], minSeverity: 'high', caseIdTemplate: 'inspection-{bucket}-{date}' })
  t.same({ ...local, inspection: base.inspection }, base, 'only the inspection section differs')
  const rules = ['s3://team-rules/a.yar']
  const other = parseConfig({ ...LOCAL_DRILL_CONFIG, inspection: { enabled: true, buckets: [{ bucket: 'uploads-prod', prefixes: ['in/'] }, { bucket: 'forensics-local-canary', prefixes: ['x/'] }], rules, minSeverity: 'medium' } })
  t.same(withDrillInspection(other).inspection.buckets.map((b) => [b.bucket, b.prefixes]), [['uploads-prod', ['in/']], ['forensics-local-canary', ['x/', 'drill/']]], 'the canary entry gains drill/')
  t.equal(withDrillInspection(other).inspection.minSeverity, 'medium', "the config's threshold stays")
  const covering = parseConfig({ ...LOCAL_DRILL_CONFIG, inspection: { enabled: true, buckets: [{ bucket: 'forensics-local-canary' }], rules } })
  t.same(withDrillInspection(covering).inspection.buckets, covering.inspection.buckets, 'already inspected: buckets unchanged')
  const noCanary = parseConfig({ ...LOCAL_DRILL_CONFIG, drill: { enabled: false } })
  t.equal(withDrillInspection(noCanary), noCanary, 'no canary bucket: unchanged')
})
