/**
 * The fan-out queue on SQS: page messages out, and a local worker pool that consumes them
 * the way Lambda's SQS event source does (batches of records, partial batch failures), so
 * the same handler code runs in Lambda and against the emulator.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { StorageError } from '../errors.js'
import type { PageMessage, PageQueue } from './fan-out.js'

/** Sends page messages to an SQS queue, ten per batch. */
export class SqsPageQueue implements PageQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(messages: PageMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      let batch = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) }))
      for (let attempt = 1; batch.length; attempt++) {
        const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch }))
        const failed = new Set((out.Failed ?? []).map((f) => f.Id))
        if (failed.size && attempt >= 5) throw new StorageError(`could not enqueue ${failed.size} fan-out page message(s) to ${this.queueUrl}: ${out.Failed?.[0]?.Code}`)
        batch = batch.filter((b) => failed.has(b.Id))
      }
    }
  }
}

/** An SQS record as Lambda delivers it (the fields the handlers use). */
export interface SqsRecord {
  messageId: string
  receiptHandle: string
  body: string
  eventSource: 'aws:sqs'
  eventSourceARN: string
  attributes: Record<string, string>
}

/** Lambda's answer for an SQS batch with partial failures. */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[]
}

/** Options of {@link runLocalWorkers}. */
export interface LocalWorkerOptions {
  sqs: SQSClient
  queueUrl: string
  /** the function's SQS handler */
  handle: (event: { Records: SqsRecord[] }) => Promise<SqsBatchResponse>
  /** parallel consumers (default 4) */
  workers?: number
  /** stop as soon as this says so (checked after every batch and every empty poll) */
  done: () => Promise<boolean>
  /** give up after this long without a message (default 30 s) */
  idleTimeoutMs?: number
  /** seconds a received message stays invisible (default 120) */
  visibilityTimeout?: number
}

/**
 * Consumes the queue with a pool of workers until `done()` or the queue stays idle;
 * resolves to the number of records handled (failed ones become visible again, as in SQS).
 */
export async function runLocalWorkers(opts: LocalWorkerOptions): Promise<{ handled: number; failed: number; finished: boolean }> {
  let handled = 0
  let failed = 0
  let finished = false
  let lastMessage = Date.now()
  const idle = opts.idleTimeoutMs ?? 30_000
  const worker = async (): Promise<void> => {
    while (!finished) {
      const out = await opts.sqs.send(new ReceiveMessageCommand({ QueueUrl: opts.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: opts.visibilityTimeout ?? 120, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))
      const messages = out.Messages ?? []
      if (messages.length === 0) {
        if (await opts.done()) finished = true
        else if (Date.now() - lastMessage > idle) return
        continue
      }
      lastMessage = Date.now()
      const records: SqsRecord[] = messages.map((m) => ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: opts.queueUrl,
        attributes: (m.Attributes ?? {}) as Record<string, string>,
      }))
      const response = await opts.handle({ Records: records })
      const failures = new Set(response.batchItemFailures.map((f) => f.itemIdentifier))
      const ok = records.filter((r) => !failures.has(r.messageId))
      handled += ok.length
      failed += failures.size
      if (ok.length) await opts.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: opts.queueUrl, Entries: ok.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }))
      if (await opts.done()) finished = true
    }
  }
  await Promise.all(Array.from({ length: opts.workers ?? 4 }, worker))
  return { handled, failed, finished }
}
