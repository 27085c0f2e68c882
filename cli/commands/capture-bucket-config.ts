import { randomUUID } from 'node:crypto'
import { captureBucketConfig } from '../../forensics/bucket-config/capture-bucket-config.js'
import { committedResult } from '../../forensics/bucket-config/collector-runtime.js'
import { openSourceClients } from '../../forensics/bucket-config/source-access.js'
import { sealCapture } from '../../forensics/capture.js'
import { captureExitCode } from '../capture-exit.js'
import { preflightSourceBucket } from '../preflight.js'
import { UsageError, type Command } from '../command.js'
import { openEvidence } from '../context.js'

/**
 * `forensics capture bucket-config --case C --bucket B [--account A] [--region R]`: snapshot
 * a bucket's access configuration into a case, print the findings, append the custody entry.
 */
export const captureBucketConfigCommand: Command = {
  name: 'capture bucket-config',
  summary: 'snapshot who can reach a bucket (policy, ACL, public access block, ...) and report what changed',
  usage: '--case C --bucket B [--account A] [--region R] [--evidence-bucket E] [--json]',
  options: {
    case: { type: 'string' },
    bucket: { type: 'string' },
    account: { type: 'string' },
    region: { type: 'string' },
  },
  async run(args, io) {
    const caseId = args.values.case as string | undefined
    const bucket = args.values.bucket as string | undefined
    if (!caseId || !bucket) throw new UsageError('--case and --bucket are required')
    const { store, signer } = await openEvidence(args, io)
    const sources = await openSourceClients({ accountId: args.values.account as string | undefined, region: args.values.region as string | undefined, env: io.env, sessionName: 'forensics-cli' })
    await preflightSourceBucket(sources.s3, bucket)
    const result = await captureBucketConfig({ store, signer }, sources, {
      caseId,
      bucket,
      accountId: sources.accountId,
      region: args.values.region as string | undefined,
      trigger: { source: 'cli', id: `cli:${randomUUID()}` }, freshTrigger: true,
      actor: {},
    })
    await sealCapture({ store, signer }, result, { tool: 'forensics-cli' })
    const out = committedResult(result)
    io.result(out)
    io.info(`captured ${out.status} bucket-config of s3://${bucket} into case ${out.caseId}: ${out.manifestKey}`)
    for (const e of out.errors) io.info(`  not captured: ${e.what}: ${e.code} ${e.message}`)
    for (const f of out.findings) io.info(`  [${f.severity}] ${f.title}`)
    if (out.findings.length === 0) io.info('  no findings')
    return captureExitCode(result.manifest)
  },
}
