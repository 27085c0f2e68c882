/**
 * How the drill observes what left the pipeline: a temporary SQS queue subscribed to the
 * SIEM topic (what a SIEM would receive), and the OnFailure dead-letter queue.
 */
import {
  SQSClient,
  CreateQueueCommand,
  DeleteQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  ChangeMessageVisibilityCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs'
import { SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns'
import { parseDestinationRecord, type DestinationRecord } from '../runtime/destination-record.js'
import { withRetry } from '../retry.js'

/**
 * How long a received message stays hidden, in seconds. Short on purpose: when a
 * ReceiveMessage response is lost on the way back (the queue handed the messages out, the
 * drill never saw them), the SDK's retry finds them in flight, and they come back only
 * when this runs out. A long timeout would hide the very message the drill waits for past
 * its deadline; a short one costs at most two seconds and a duplicate, which the
 * probes tell apart by message id.
 */
export const PROBE_VISIBILITY_SECONDS = 2

/**
 * Receives one batch; returns bodies with message ids and receipt handles. Like every AWS
 * operation of the toolkit, retried when it fails transiently beyond the SDK's own retries
 * (retry.ts): one failed poll must not end a drill's wait.
 */
async function receive(sqs: SQSClient, queueUrl: string, waitSeconds: number): Promise<{ id: string; body: string; receipt: string }[]> {
  const r = await withRetry(`receive from ${queueUrl}`, () => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, VisibilityTimeout: PROBE_VISIBILITY_SECONDS })))
  return (r.Messages ?? []).map((m, i) => ({ id: m.MessageId ?? `${m.ReceiptHandle ?? ''}#${i}`, body: m.Body ?? '', receipt: m.ReceiptHandle ?? '' }))
}

/** Deletes a received message (retried as {@link receive} is). */
async function remove(sqs: SQSClient, queueUrl: string, receipt: string): Promise<void> {
  await withRetry(`delete a message from ${queueUrl}`, () => sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt })))
}

/** A temporary queue subscribed (raw delivery) to the SIEM topic for the length of a drill. */
export class SiemTopicProbe {
  readonly messages: unknown[] = []
  /** ids of the messages in {@link messages}: a message received twice is kept once */
  readonly #seen = new Set<string>()
  readonly #sqs: SQSClient
  readonly #sns: SNSClient
  readonly #queueUrl: string
  readonly #subscriptionArn: string

  private constructor(sqs: SQSClient, sns: SNSClient, queueUrl: string, subscriptionArn: string) {
    this.#sqs = sqs
    this.#sns = sns
    this.#queueUrl = queueUrl
    this.#subscriptionArn = subscriptionArn
  }

  /** Creates the queue (allowing only this topic to send) and subscribes it. */
  static async open(clients: { sqs: SQSClient; sns: SNSClient }, topicArn: string, name: string): Promise<SiemTopicProbe> {
    const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { MessageRetentionPeriod: '3600' } }))).QueueUrl as string
    const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: queueArn, Condition: { ArnEquals: { 'aws:SourceArn': topicArn } } }] }
    await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }))
    const sub = await clients.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' }, ReturnSubscriptionArn: true }))
    return new SiemTopicProbe(clients.sqs, clients.sns, queueUrl, sub.SubscriptionArn as string)
  }

  /** Drains what arrived so far into {@link messages} (parsed JSON). */
  async drain(waitSeconds = 0): Promise<unknown[]> {
    for (;;) {
      const batch = await receive(this.#sqs, this.#queueUrl, waitSeconds)
      if (batch.length === 0) return this.messages
      for (const m of batch) {
        if (!this.#seen.has(m.id)) {
          this.#seen.add(m.id)
          try {
            this.messages.push(JSON.parse(m.body))
          } catch {
            this.messages.push(m.body)
          }
        }
        await remove(this.#sqs, this.#queueUrl, m.receipt)
      }
      waitSeconds = 0
    }
  }

  /** Polls until `match` finds a message or the time is up. */
  async waitFor(match: (doc: unknown) => boolean, timeoutMs: number, pollMs = 250): Promise<unknown | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      await this.drain()
      const hit = this.messages.find(match)
      if (hit !== undefined || Date.now() >= deadline) return hit
      await new Promise((r) => setTimeout(r, pollMs))
    }
  }

  /** Unsubscribes and deletes the queue. */
  async close(): Promise<void> {
    await this.#sns.send(new UnsubscribeCommand({ SubscriptionArn: this.#subscriptionArn })).catch(() => undefined)
    await this.#sqs.send(new DeleteQueueCommand({ QueueUrl: this.#queueUrl })).catch(() => undefined)
  }
}

/**
 * Waits for a destination record matching `match` on the dead-letter queue and deletes it
 * (it was the drill's own deliberate failure). Other messages are made visible again at
 * once: they belong to real failures and must stay for the on-call.
 */
export async function waitForDeadLetter(
  sqs: SQSClient,
  queueUrl: string,
  match: (record: DestinationRecord) => boolean,
  timeoutMs: number,
  pollMs = 250,
): Promise<DestinationRecord | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    for (const m of await receive(sqs, queueUrl, 0)) {
      let record: DestinationRecord | undefined
      try {
        record = parseDestinationRecord(JSON.parse(m.body))
      } catch {
        record = undefined
      }
      if (record && match(record)) {
        await remove(sqs, queueUrl, m.receipt)
        return record
      }
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.receipt, VisibilityTimeout: 0 })).catch(() => undefined)
    }
    if (Date.now() >= deadline) return undefined
    await new Promise((r) => setTimeout(r, pollMs))
  }
}
