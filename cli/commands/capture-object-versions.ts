import { mib, progressMeter } from '../../forensics/progress-meter.js'
import type { InventoryEntry } from '../../forensics/object-versions/inventory.js'
import { randomUUID } from 'node:crypto'
import { SQSClient } from '@aws-sdk/client-sqs'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { readCommittedCapture, sealCapture } from '../../forensics/capture.js'
import { captureExitCode } from '../capture-exit.js'
import { preflightSourceBucket } from '../preflight.js'
import { committedResult } from '../../forensics/bucket-config/collector-runtime.js'
import { openSourceClients } from '../../forensics/bucket-config/source-access.js'
import { StorageError } from '../../forensics/errors.js'
import { captureObjectVersions } from '../../forensics/object-versions/capture-object-versions.js'
import { handlePageRecords } from '../../forensics/object-versions/page-records.js'
import { runLocalWorkers } from '../../forensics/object-versions/sqs-page-queue.js'
import { objectVersionsOptions } from '../../forensics/object-versions/env-options.js'
import { parseTime } from '../../forensics/cloudtrail/filters.js'
import { UsageError, type Command } from '../command.js'
import { openEvidence } from '../context.js'

/** A strict ISO 8601 instant (the one parser every command uses), or undefined. */
function time(v: unknown, flag: string): Date | undefined {
  if (v === undefined) return undefined
  return new Date(parseTime(String(v), `--${flag}`))
}

/**
 * `forensics capture object-versions --case C --bucket B (--key K ... | --prefix P) [--since T]
 * [--until T]`: every version and delete marker, bytes streamed into the evidence bucket.
 * With FORENSICS_FANOUT_QUEUE_URL set, large sets fan out through that SQS queue and a
 * local worker pool (FORENSICS_LOCAL_WORKERS, default 4) runs the function's page handler.
 */
export const captureObjectVersionsCommand: Command = {
  name: 'capture object-versions',
  summary: 'capture every version and delete marker of keys or a prefix, bytes included',
  usage: '--case C --bucket B (--key K ... | --prefix P) [--since T] [--until T] [--account A] [--region R] [--evidence-bucket E] [--json]',
  options: {
    case: { type: 'string' },
    bucket: { type: 'string' },
    key: { type: 'string', multiple: true },
    prefix: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    account: { type: 'string' },
    region: { type: 'string' },
  },
  async run(args, io) {
    const v = args.values
    if (!v.case || !v.bucket) throw new UsageError('--case and --bucket are required')
    const keys = v.key as string[] | undefined
    if ((keys?.length ? 1 : 0) + (v.prefix !== undefined ? 1 : 0) !== 1) throw new UsageError('give --key K (repeatable) or --prefix P, one of the two')
    const since = time(v.since, 'since')
    const until = time(v.until, 'until')
    const { store, signer } = await openEvidence(args, io)
    const region = v.region as string | undefined
    const sources = await openSourceClients({ accountId: v.account as string | undefined, region, env: io.env, sessionName: 'forensics-cli' })
    await preflightSourceBucket(sources.s3, v.bucket as string)
    const sqs = new SQSClient(sdkSettingsFromEnv(io.env))
    // storing progress only where someone watches: a terminal, not --json or a pipe
    const meter = io.isTTY ? progressMeter(io.progress, (s) => `stored ${s.items} version(s) and delete marker(s) of s3://${String(v.bucket)}, ${mib(s.bytes)}, ${s.mibPerSecond.toFixed(1)} MiB/s`) : undefined
    const opts = { ...objectVersionsOptions(io.env, sqs), ...(meter ? { onCaptured: (e: InventoryEntry) => meter.add(e.kind === 'version' ? (e.size ?? 0) : 0) } : {}) }
    const deps = { store, signer }
    const req = { caseId: v.case as string, bucket: v.bucket as string, keys, prefix: v.prefix as string | undefined, since, until, accountId: sources.accountId, region, trigger: { source: 'cli', id: `cli:${randomUUID()}` }, freshTrigger: true }
    const outcome = await captureObjectVersions(deps, sources.s3, req, opts)
    meter?.done()
    let result
    if (outcome.kind === 'committed') result = outcome.result
    else {
      io.progress(`fanning out ${outcome.entries} versions in ${outcome.pages} pages through ${io.env.FORENSICS_FANOUT_QUEUE_URL}`)
      const workers = Number(io.env.FORENSICS_LOCAL_WORKERS ?? 4)
      const run = await runLocalWorkers({
        sqs,
        queueUrl: io.env.FORENSICS_FANOUT_QUEUE_URL as string,
        workers: Number.isInteger(workers) && workers > 0 ? workers : 4,
        handle: (event) => handlePageRecords(deps, async () => sources.s3, event.Records, { concurrency: opts.concurrency, tool: 'forensics-cli', log: io.progress }),
        done: async () => (await store.head(`cases/${outcome.caseId}/captures/${outcome.captureId}/manifest.json`)) !== undefined,
      })
      result = await readCommittedCapture(store, outcome.caseId, outcome.captureId)
      if (!result) throw new StorageError(`fan-out of capture ${outcome.captureId} did not finish (${run.handled} pages handled, ${run.failed} failed); the pages stay in the queue: run the command again to resume`)
    }
    await sealCapture(deps, result, { tool: 'forensics-cli' })
    const out = committedResult(result)
    io.result(out)
    const s = out.summary ?? {}
    io.info(`captured ${out.status} object-versions of s3://${req.bucket} into case ${out.caseId}: ${out.manifestKey}`)
    io.info(`  ${String(s.entries)} entries: ${String(s.stored)} stored, ${String(s.deleteMarkers)} delete markers, ${String(s.restoreRequired)} restore required, ${String(s.failed)} failed`)
    for (const e of out.errors.slice(0, 20)) io.info(`  not captured: ${e.what}: ${e.code} ${e.message}`)
    return captureExitCode(result.manifest)
  },
}
