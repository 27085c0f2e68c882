/**
 * `npm run deploy:local`: rehearses `cdktf deploy` against a fresh local emulator. Synthesizes
 * the stacks into `.forensics/rehearsal/<run>/cdktf.out` (never `cdktf.out`), applies the
 * forensics stack and every member stack with Terraform into the emulator (each into its own
 * account), prints apply time and resource counts, and stops the emulator.
 *
 * Exit codes: 0 applied; 2 Terraform or its AWS provider is missing; 3 an apply failed.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { synthesizeForensicsApp } from '../stacks/app.js'
import { projectRoot, startEmulator } from '../forensics/local/emulator.js'
import { DeployRehearsal, markRehearsalOutput } from '../forensics/rehearsal/rehearsal.js'
import { terraformAvailability } from '../forensics/rehearsal/terraform.js'

const log = (line: string): void => void process.stderr.write(`[deploy:local] ${line}\n`)

async function main(): Promise<number> {
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
    for (const s of rehearsal.stacks) {
      const applied = await rehearsal.apply(s.name)
      log(`applied ${s.name} into account ${s.accountId}: ${applied.resources} of ${s.planned} planned resources in ${applied.seconds.toFixed(1)} s (first apply)`)
    }
    return 0
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
