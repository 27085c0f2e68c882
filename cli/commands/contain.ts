/**
 * `forensics contain CASE --bucket B [--principal ARN] [--account A] [--region R] [--apply] [--actions a,b] [--json]`:
 * plans containment (dry-run: the plan is recorded as evidence, nothing changes) or, with
 * `--apply`, quarantines the bucket, revokes the principal and alerts — only after the case
 * holds a committed capture of the bucket's configuration.
 * `forensics contain --undo CASE [--action A ...]` restores the recorded prior state.
 * Refusals (no prior capture, root, a neverContain principal) exit 2 and change nothing.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { CONTAINMENT_ACTIONS, loadConfigFile, type ContainmentAction } from '../../forensics/config.js'
import { ContainmentRefusedError, runContainment, type ContainmentOutcome } from '../../forensics/containment/contain.js'
import { containmentSettings } from '../../forensics/containment/settings.js'
import { openContainmentTargets } from '../../forensics/containment/targets.js'
import { openContainments, undoContainment } from '../../forensics/containment/undo.js'
import { CustodyChain } from '../../forensics/custody.js'
import { validateCaseId } from '../../forensics/keys.js'
import { projectRoot } from '../../forensics/local/emulator.js'
import { ExitCode, UsageError, type Command, type CommandIO } from '../command.js'
import { openEvidence } from '../context.js'

const TOOL = 'forensics-cli'

/** Parses `--actions a,b` / repeated `--action a`: every name must be a containment action. */
export function parseActions(raw: string | string[] | undefined): ContainmentAction[] | undefined {
  if (raw === undefined) return undefined
  const names = (Array.isArray(raw) ? raw : [raw]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  for (const n of names) if (!(CONTAINMENT_ACTIONS as readonly string[]).includes(n)) throw new UsageError(`unknown containment action ${JSON.stringify(n)}: use ${CONTAINMENT_ACTIONS.join(', ')}`)
  if (names.length === 0) throw new UsageError(`--actions needs at least one of ${CONTAINMENT_ACTIONS.join(', ')}`)
  return names as ContainmentAction[]
}

function printOutcome(io: CommandIO, o: ContainmentOutcome): void {
  io.info(`containment ${o.status} for s3://${o.bucket} in case ${o.caseId}${o.status === 'planned' ? ' (dry-run: nothing changed; --apply to act)' : ''}`)
  for (const a of o.actions) io.info(`  ${a.status.padEnd(8)} ${a.action.padEnd(17)} ${a.target}${a.reason ? `: ${a.reason}` : ''}${a.error ? `: ${a.error}` : ''}`)
  io.info(`  evidence: ${o.manifestKey}`)
  if (o.status === 'applied') io.info(`  undo: ${o.undo}`)
}

/** The `contain` command. */
export const containCommand: Command = {
  name: 'contain',
  summary: 'plan (dry-run) or --apply containment of a captured bucket: quarantine it, revoke the principal, alert; --undo restores',
  usage: 'CASE --bucket B [--principal ARN] [--account A] [--region R] [--apply] [--actions quarantine-bucket,revoke-principal,alert] | --undo CASE [--action A ...] [--evidence-bucket E] [--json]',
  positionals: true,
  options: {
    bucket: { type: 'string' },
    principal: { type: 'string' },
    account: { type: 'string' },
    region: { type: 'string' },
    apply: { type: 'boolean' },
    actions: { type: 'string' },
    action: { type: 'string', multiple: true },
    undo: { type: 'boolean' },
  },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('name exactly one case: forensics contain CASE --bucket B … or forensics contain --undo CASE')
    const caseId = validateCaseId(args.positionals[0])
    const actions = parseActions((args.values.actions as string | undefined) ?? (args.values.action as string[] | undefined))
    const config = loadConfigFile(io.env.FORENSICS_CONFIG ?? join(projectRoot, 'forensics.config.json'))
    const settings = containmentSettings(config)

    if (args.values.undo) {
      if (args.values.bucket || args.values.principal || args.values.apply) throw new UsageError('--undo takes only the case (and --action): it restores what the case recorded')
      const { store, signer } = await openEvidence(args, io)
      const open = openContainments(await new CustodyChain(store, signer, caseId).read(), actions)
      const accountId = open.find((o) => o.containment.accountId)?.containment.accountId ?? undefined
      const targets = await openContainmentTargets({ accountId, region: args.values.region as string | undefined, env: io.env })
      const out = await undoContainment({ store, signer, targets, actor: { tool: TOOL } }, { caseId, actions, trigger: { source: 'cli', id: `cli:${randomUUID()}` } })
      io.result(out)
      io.info(`released ${out.released.length} containment step(s) of case ${caseId}: ${out.manifestKey}`)
      for (const r of out.released) io.info(`  ${r.status} ${r.action} ${r.target} (custody entry ${r.seq})`)
      return ExitCode.ok
    }

    const bucket = args.values.bucket as string | undefined
    if (!bucket) throw new UsageError('--bucket is required (the bucket to contain)')
    const { store, signer } = await openEvidence(args, io)
    const targets = await openContainmentTargets({ accountId: args.values.account as string | undefined, region: args.values.region as string | undefined, env: io.env })
    try {
      const out = await runContainment(
        { store, signer, targets, settings, actor: { tool: TOOL } },
        {
          caseId,
          bucket,
          ...(args.values.account ? { accountId: args.values.account as string } : {}),
          ...(args.values.region ? { region: args.values.region as string } : {}),
          ...(args.values.principal ? { principalArn: args.values.principal as string } : {}),
          ...(actions ? { actions } : {}),
          reason: { kind: 'manual', summary: `forensics contain ${caseId} --bucket ${bucket}` },
          trigger: { source: 'cli', id: `cli:${randomUUID()}` },
        },
        { apply: args.values.apply === true },
      )
      io.result(out)
      printOutcome(io, out)
      return ExitCode.ok
    } catch (e) {
      if (!(e instanceof ContainmentRefusedError)) throw e
      io.result({ ok: false, error: { name: e.name, message: e.message }, outcome: e.outcome })
      if (!io.json) io.stderr.write(`forensics contain: ${e.message}\n`)
      return ExitCode.usage
    }
  },
}
