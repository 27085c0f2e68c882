/**
 * `forensics drill [--deployed]`: runs a forensics drill and prints every check.
 *
 * - default: locally on the emulator (started and always stopped here), from the stacks
 *   synthesized for the config: the plan's deployment provisioned on the emulator, the
 *   functions run from their bundled assets with the plan's environment under Lambda's
 *   async contract, signing with the plan's KMS key (see drill-local.ts). This is what
 *   `npm start` runs.
 * - `--deployed`: against the account in the standard AWS environment: the deployed
 *   collectors are invoked asynchronously with the Lambda API, the custody chain and the
 *   dead-letter queue are polled from here.
 *
 * Exit 0 when every check passed, 1 when one failed (the failures are printed).
 */
import { join } from 'node:path'
import { SQSClient, GetQueueUrlCommand } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { loadConfigFile } from '../../forensics/config.js'
import { CustodyChain } from '../../forensics/custody.js'
import { projectRoot } from '../../forensics/local/emulator.js'
import { resourceNames } from '../../forensics/routing.js'
import { openS3EvidenceStore } from '../../forensics/s3-evidence-store.js'
import { resolveTopicArn } from '../../forensics/siem/topic.js'
import { renderDrillReport, type DrillReport } from '../../forensics/drill/drill-report.js'
import { runDrill } from '../../forensics/drill/run-drill.js'
import { deployedDrillDeps } from '../../forensics/drill/deployed-deps.js'
import { signerFromSpec } from '../../forensics/runtime/handler-env.js'
import { ExitCode, type Command, type CommandIO } from '../command.js'
import { ValidationError } from '../../forensics/errors.js'
import { retentionFromEnv, s3FromEnv, signerFromEnv } from '../context.js'
import { runLocalDrill, type LocalDrillOptions } from './drill-local.js'

/** Test seam: options merged into every local drill this process runs (e.g. stand-in collectors). */
export const localDrillOverrides: Partial<Pick<LocalDrillOptions, 'plan' | 'retryDelaysMs'>> = {}

function printReport(io: CommandIO, report: DrillReport, reportLocation: string): void {
  for (const line of renderDrillReport(report, { reportLocation })) io.info(line)
  if (report.bundle) {
    io.info(`  verify the bundle: forensics verify ${report.bundle.path}`)
    io.info(`                     mkdir b && cd b && unzip -q ${report.bundle.path} && sha256sum -c SHA256SUMS`)
  }
}

async function deployedDrill(io: CommandIO, outDir: string): Promise<{ report: DrillReport; location: string }> {
  const env = io.env
  const config = loadConfigFile(env.FORENSICS_CONFIG ?? join(projectRoot, 'forensics.config.json'))
  const names = resourceNames(config)
  const settings = sdkSettingsFromEnv(env)
  const s3 = s3FromEnv(env)
  const store = await openS3EvidenceStore({ client: s3, bucket: env.FORENSICS_EVIDENCE_BUCKET ?? names.evidenceBucket, retention: retentionFromEnv(env) })
  const signer = env.FORENSICS_SIGNING_KEY ? signerFromEnv(env, io) : signerFromSpec(`kms:alias/${config.name}-signing`, env)
  const sqs = new SQSClient(settings)
  const sns = new SNSClient(settings)
  if (!config.drill.canaryBucket) throw new ValidationError('drill.canaryBucket is not configured: name the canary bucket in forensics.config.json (or FORENSICS_CONFIG)', { field: 'drill.canaryBucket' })
  const topicArn = await resolveTopicArn(sns, names.siemTopic)
  const outcome = await runDrill(
    deployedDrillDeps({
      settings,
      store,
      signer,
      s3,
      sqs,
      sns,
      functions: names.functions,
      canaryBucket: config.drill.canaryBucket,
      siemTopicArn: topicArn,
      siemEventBus: names.siemEventBus,
      deadLetterQueueUrl: (await sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }))).QueueUrl as string,
      bundleDir: outDir,
      tool: 'forensics-cli drill',
      // named in the event: the slice function then needs no archive setting of its own
      trailArchive: `s3://${config.cloudTrailArchive.bucket}${config.cloudTrailArchive.prefix ? `/${config.cloudTrailArchive.prefix}` : ''}`,
      log: io.progress,
    }),
  )
  // run from the CLI, the drill has no OnSuccess destination: record the drill entry here
  await new CustodyChain(store, signer, outcome.report.caseId).append({
    action: 'drill',
    actor: { tool: 'forensics-cli drill' },
    subject: { key: outcome.result.reportKey, versionId: outcome.result.reportVersionId, sha256: outcome.result.reportSha256 },
  })
  return { report: outcome.report, location: `s3://${store.bucket}/${outcome.result.reportKey}` }
}

/** The `drill` command. */
export const drillCommand: Command = {
  name: 'drill',
  summary: 'run a forensics drill: locally on the emulator (default) or --deployed against the account',
  usage: '[--deployed] [--out DIR] [--json]',
  options: { deployed: { type: 'boolean' }, out: { type: 'string' } },
  async run(args, io) {
    const outDir = (args.values.out as string | undefined) ?? join(projectRoot, '.forensics', 'drills')
    let report: DrillReport
    let location: string
    let extra: Record<string, unknown> = {}
    if (args.values.deployed) {
      ;({ report, location } = await deployedDrill(io, outDir))
    } else {
      const local = await runLocalDrill({
        env: io.env,
        outDir,
        log: io.progress,
        corruptArtifact: io.env.FORENSICS_DRILL_CORRUPT_ARTIFACT,
        ...localDrillOverrides,
      })
      report = local.report
      location = `${local.reportFile}\n  evidence: s3://${report.evidenceBucket}/${local.result.reportKey} version ${local.result.reportVersionId} sha256 ${local.result.reportSha256} (on the stopped emulator)`
      extra = { reportFile: local.reportFile, corrupted: local.corrupted }
      if (local.corrupted.length) io.progress(`test hook: reads of ${local.corrupted.join(', ')} were manipulated after capture`)
    }
    if (io.json) io.result({ ok: report.passed, report, reportLocation: location, ...extra })
    else printReport(io, report, location)
    return report.passed ? ExitCode.ok : ExitCode.failed
  },
}
