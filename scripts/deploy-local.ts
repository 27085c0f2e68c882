/**
 * `npm run deploy:local`: rehearses `cdktf deploy` against a fresh local emulator and drills
 * what was deployed. Synthesizes the stacks into `.forensics/rehearsal/<run>/cdktf.out` (never
 * `cdktf.out`), applies the forensics stack and every member stack with Terraform into the
 * emulator (each into its own account), prints apply time and resource counts, carries a
 * member-account PutBucketPolicy through the deployed event path to a committed capture by the
 * deployed bucket-config function, simulates every AWS call it made against the synthesized policies (`permissions-sufficient`, unused grants), then runs
 * `forensics drill --deployed` on the deployment read back from the emulator
 * (cli/commands/drill-rehearsed.ts) and prints its report, and stops the emulator.
 *
 * Options: `--no-drill` stops after the member trigger; `--out DIR` for the drill's bundle
 * (default `.forensics/rehearsal/<run>/drills`).
 *
 * Exit codes: 0 all passed; 1 the capture, the permission check or a drill check failed; 2
 * Terraform or its AWS provider is missing; 3 an apply or an AWS call failed.
 */
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { renderDrillReport } from '../forensics/drill/drill-report.js'
import { DeployedDeployment } from '../forensics/rehearsal/deployed-deployment.js'
import { runRehearsedDrill } from '../cli/commands/drill-rehearsed.js'
import { synthesizeForensicsApp } from '../stacks/app.js'
import { projectRoot, startEmulator } from '../forensics/local/emulator.js'
import { DeployRehearsal, markRehearsalOutput } from '../forensics/rehearsal/rehearsal.js'
import { terraformAvailability } from '../forensics/rehearsal/terraform.js'
import { carryMemberTrigger } from '../forensics/rehearsal/member-trigger.js'
import { deploymentPolicies } from '../forensics/permissions/deployment-policies.js'
import { loadIamSimulator } from '../forensics/permissions/iam-simulator.js'
import { permissionsSufficient, renderUnusedGrants, simulatePermissions } from '../forensics/permissions/simulate-permissions.js'
import { resourceNames } from '../forensics/routing.js'

const log = (line: string): void => void process.stderr.write(`[deploy:local] ${line}\n`)

async function main(): Promise<number> {
  const args = parseArgs({ options: { 'no-drill': { type: 'boolean' }, out: { type: 'string' } }, allowPositionals: false })
  const availability = terraformAvailability()
  if (!availability.available) {
    log(`cannot rehearse: ${availability.reason}`)
    return 2
  }
  const run = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  const workDir = join(projectRoot, '.forensics', 'rehearsal', run)
  const synthDir = join(workDir, 'cdktf.out')
  mkdirSync(synthDir, { recursive: true })
  const synthStarted = Date.now()
  const { stacks } = synthesizeForensicsApp({ outdir: synthDir })
  markRehearsalOutput(synthDir)
  const config = stacks.forensics.config
  log(`synthesized ${1 + stacks.members.length} stack(s) into ${synthDir} in ${((Date.now() - synthStarted) / 1000).toFixed(1)} s`)

  const emulator = await startEmulator({ region: config.region, awsManagedPolicies: true })
  try {
    log(`emulator ${emulator.motoVersion} on ${emulator.endpoint} (log ${emulator.logFile})`)
    const rehearsal = await DeployRehearsal.prepare({
      emulator,
      toolchain: availability.toolchain,
      synthDir,
      workDir,
      stacks: [
        { name: stacks.forensics.node.id, accountId: config.forensicsAccountId },
        ...stacks.members.map((m, i) => ({ name: m.node.id, accountId: config.memberAccounts[i] })),
      ],
      log,
    })
    // stacks that read no other stack's state are applied at the same time (DeployRehearsal.applyAll)
    const appliedAt = Date.now()
    const runs = await rehearsal.applyAll()
    for (const s of rehearsal.stacks) {
      const applied = runs.get(s.name)
      log(`applied ${s.name} into account ${s.accountId}: ${applied?.resources} of ${s.planned} planned resources in ${applied?.seconds.toFixed(1)} s (first apply)`)
    }
    log(`${rehearsal.stacks.length} stack(s) applied in ${((Date.now() - appliedAt) / 1000).toFixed(1)} s${rehearsal.stacks.some((s) => s.readsOtherStacks) ? '' : ', all at once (no stack reads another\'s state)'}`)
    const member = config.memberAccounts[0]
    const bucket = config.watchedBuckets[0]
    if (!member || !bucket) {
      log('no member account or watched bucket in the config: the member-trigger check and the permission simulation need both; done after the apply')
      return 0
    }
    const names = resourceNames(config)
    const carried = await carryMemberTrigger({
      emulator, forensics: rehearsal.credentials(config.forensicsAccountId), member: rehearsal.credentials(member), memberAccountId: member,
      bucket, functionName: names.functions['bucket-config'], stackDir: rehearsal.stack(config.name).dir,
    })
    if (!carried.run.ok) {
      log(`member trigger: ${carried.fn.name} failed: ${carried.run.error}`)
      return 1
    }
    const result = carried.run.result as { manifestKey?: string; status?: string }
    log(`member trigger: PutBucketPolicy on ${bucket} in ${member} → ${carried.delivery.rule} → ${carried.fn.name} → ${result.status} capture ${result.manifestKey}`)
    const policies = deploymentPolicies(rehearsal.stacks.map((s) => ({ accountId: s.accountId, region: config.region, plan: rehearsal.plan(s.name), state: rehearsal.state(s.name) })))
    const report = await simulatePermissions(carried.run.calls, policies, await loadIamSimulator(), { region: config.region })
    const check = permissionsSufficient(report)
    log(`member trigger ${check.name}: ${check.verdict.toUpperCase()} ${check.summary}`)
    if (args.values['no-drill']) {
      for (const line of renderUnusedGrants(report)) log(`  granted, unused here: ${line}`)
      return check.verdict === 'pass' ? 0 : 1
    }

    // forensics drill --deployed, on the deployment as the emulator reports it
    const forensics = rehearsal.credentials(config.forensicsAccountId)
    const deployment = await DeployedDeployment.read({ emulator, credentials: forensics, config, stackDir: rehearsal.stack(config.name).dir })
    const drillStarted = Date.now()
    const drilled = await runRehearsedDrill({
      emulator, deployment, credentials: forensics, policies, log,
      outDir: args.values.out ? resolve(args.values.out) : join(workDir, 'drills'),
    })
    for (const line of renderDrillReport(drilled.report, { reportLocation: `s3://${drilled.report.evidenceBucket}/${drilled.result.reportKey} (+ ${drilled.extraChecksKey}) in the emulator` })) log(line)
    log(`deployed drill: ${drilled.report.passed ? 'PASSED' : 'FAILED'} in ${((Date.now() - drillStarted) / 1000).toFixed(1)} s; ${drilled.calls.length} AWS call(s) of ${drilled.permissions.exercisedRoles.length} role(s) simulated`)
    for (const line of renderUnusedGrants(drilled.permissions)) log(`  granted, unused by the drill: ${line}`)
    return check.verdict === 'pass' && drilled.report.passed ? 0 : 1
  } finally {
    await emulator.stop()
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(e instanceof Error ? `${e.name}: ${e.message}` : String(e))
    process.exit(3)
  },
)
