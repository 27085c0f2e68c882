/**
 * Handles a batch of fan-out SQS records (Lambda's SQS event, or the local worker pool):
 * each record is one page; failures are reported per record so SQS redelivers only those.
 * The worker that commits the capture appends its `captured` custody entry, because an
 * SQS-triggered invocation has no OnSuccess destination to do it.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import type { CaptureDeps } from '../capture.js'
import { CustodyChain, recordCaptured } from '../custody.js'
import { parsePageMessage, processPage, type FanOutPlan, type PageWorkerOptions } from './fan-out.js'
import type { SqsBatchResponse, SqsRecord } from './sqs-page-queue.js'

/** Opens the source clients for a plan's bucket (account, region). */
export type SourceOpener = (selection: FanOutPlan['selection']) => Promise<S3Client>

/** Processes the records one by one; returns the partial batch failures. */
export async function handlePageRecords(
  deps: CaptureDeps,
  openSource: SourceOpener,
  records: SqsRecord[],
  opts: PageWorkerOptions & { tool: string; log?: (line: string) => void },
): Promise<SqsBatchResponse> {
  const clients = new Map<string, Promise<S3Client>>()
  const sourceFor = async (plan: FanOutPlan): Promise<{ s3: S3Client; bucket: string }> => {
    const id = `${plan.selection.accountId ?? ''}/${plan.selection.region ?? ''}`
    if (!clients.has(id)) clients.set(id, openSource(plan.selection))
    return { s3: await clients.get(id)!, bucket: plan.selection.bucket }
  }
  const failures: { itemIdentifier: string }[] = []
  for (const record of records) {
    try {
      const outcome = await processPage(deps, sourceFor, parsePageMessage(record.body), opts)
      if (outcome.committed) {
        const c = outcome.committed
        await recordCaptured(new CustodyChain(deps.store, deps.signer, c.manifest.caseId), { ...c, captureId: c.manifest.captureId }, { tool: opts.tool })
      }
    } catch (e) {
      // the message becomes visible again; after maxReceiveCount SQS moves it to the DLQ
      ;(opts.log ?? console.error)(`object-versions: page message ${record.messageId} failed: ${(e as Error).name}: ${(e as Error).message}`)
      failures.push({ itemIdentifier: record.messageId })
    }
  }
  return { batchItemFailures: failures }
}
