/**
 * Lambda's SQS event source mapping, locally: pollers receive up to the mapping's batch
 * size from the queue, invoke the function with the records as Lambda shapes them, and
 * delete what succeeded. With `ReportBatchItemFailures`, the records the function names in
 * `batchItemFailures` stay on the queue; a failed invocation leaves the whole batch. Failed
 * records become visible again after `retryDelaySeconds` (in AWS: the queue's visibility
 * timeout), so they are retried as SQS would.
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'
import type { SqsBatchResponse, SqsRecord } from '../object-versions/sqs-page-queue.js'

/** Options of {@link consumeSqsEventSource}. */
export interface SqsEventSourceOptions {
  sqs: SQSClient
  queueUrl: string
  /** what Lambda puts in `eventSourceARN` */
  queueArn: string
  region: string
  /** the mapping's `batch_size` */
  batchSize: number
  /** runs the function on one batch: resolves to its answer, rejects when the invocation failed */
  invoke: (event: { Records: SqsRecord[] }) => Promise<unknown>
  /** stop once this says so (checked after every batch and every empty poll) */
  done: () => boolean | Promise<boolean>
  /** concurrent pollers (default 2) */
  pollers?: number
  /** seconds before a failed record is received again (default 1) */
  retryDelaySeconds?: number
}

/** What the consumers did. */
export interface SqsEventSourceStats {
  batches: number
  handled: number
  failed: number
}

const failuresOf = (answer: unknown): Set<string> => {
  const list = (answer as Partial<SqsBatchResponse> | null)?.batchItemFailures
  return new Set(Array.isArray(list) ? list.map((f) => String(f.itemIdentifier)) : [])
}

/** Consumes the queue until `done()`; see the module comment. */
export async function consumeSqsEventSource(o: SqsEventSourceOptions): Promise<SqsEventSourceStats> {
  const stats: SqsEventSourceStats = { batches: 0, handled: 0, failed: 0 }
  let finished = false
  const poller = async (): Promise<void> => {
    while (!finished) {
      const got = await o.sqs.send(new ReceiveMessageCommand({ QueueUrl: o.queueUrl, MaxNumberOfMessages: Math.min(o.batchSize, 10), WaitTimeSeconds: 1, VisibilityTimeout: 900, MessageSystemAttributeNames: ['All'] }))
      const messages = got.Messages ?? []
      if (messages.length === 0) {
        if (await o.done()) finished = true
        continue
      }
      const records: SqsRecord[] = messages.map((m) => ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        attributes: (m.Attributes ?? {}) as Record<string, string>,
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: o.queueArn,
        awsRegion: o.region,
      }))
      stats.batches++
      let failed: Set<string>
      try {
        failed = failuresOf(await o.invoke({ Records: records }))
      } catch {
        failed = new Set(records.map((r) => r.messageId))
      }
      const ok = records.filter((r) => !failed.has(r.messageId))
      const retry = records.filter((r) => failed.has(r.messageId))
      stats.handled += ok.length
      stats.failed += retry.length
      if (ok.length) await o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: o.queueUrl, Entries: ok.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }))
      if (retry.length) {
        await o.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: o.queueUrl, Entries: retry.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle, VisibilityTimeout: o.retryDelaySeconds ?? 1 })) }))
      }
      if (await o.done()) finished = true
    }
  }
  await Promise.all(Array.from({ length: o.pollers ?? 2 }, poller))
  return stats
}
