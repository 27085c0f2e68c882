/**
 * Publishes summaries, findings and drill reports to the SIEM: one EventBridge event on
 * the SIEM bus and one SNS message on the SIEM topic per document. Both carry the same
 * JSON document; SNS adds `kind` and `severity` message attributes for filter policies.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns'
import { StorageError } from '../errors.js'
import { resolveTopicArn } from './topic.js'

/** EventBridge `source` of everything the toolkit publishes. */
export const SIEM_SOURCE = 'cdktf-forensics'

/** What kind of document a message carries. */
export type SiemKind = 'capture-summary' | 'finding' | 'drill-report'

/** EventBridge `detail-type` per kind. */
export const SIEM_DETAIL_TYPES: Record<SiemKind, string> = {
  'capture-summary': 'Forensics Capture Committed',
  finding: 'Forensics Finding',
  'drill-report': 'Forensics Drill Report',
}

/** One document for the SIEM. */
export interface SiemMessage {
  kind: SiemKind
  /** short human subject (SNS subject, at most 100 characters) */
  subject: string
  /** severity for filter policies (`Informational` … `Critical`, or `pass`/`fail` for drills) */
  severity?: string
  document: object
}

/** Port: where SIEM messages go. */
export interface SiemPublisher {
  publish(messages: readonly SiemMessage[]): Promise<void>
}

/** {@link SiemPublisher} over EventBridge and SNS. */
export class AwsSiemPublisher implements SiemPublisher {
  readonly #events: EventBridgeClient
  readonly #sns: SNSClient
  readonly #busName: string | undefined
  readonly #topic: string
  #topicArn?: string

  /** `topic` is a topic ARN or name; `eventBusName` a bus name or ARN (omitted: SNS only). */
  constructor(opts: { events: EventBridgeClient; sns: SNSClient; eventBusName?: string; topic: string }) {
    this.#events = opts.events
    this.#sns = opts.sns
    this.#busName = opts.eventBusName
    this.#topic = opts.topic
  }

  async publish(messages: readonly SiemMessage[]): Promise<void> {
    if (messages.length === 0) return
    try {
      // PutEvents takes at most 10 entries per call
      for (let i = 0; this.#busName && i < messages.length; i += 10) {
        const batch = messages.slice(i, i + 10)
        const out = await this.#events.send(
          new PutEventsCommand({
            Entries: batch.map((m) => ({ EventBusName: this.#busName, Source: SIEM_SOURCE, DetailType: SIEM_DETAIL_TYPES[m.kind], Detail: JSON.stringify(m.document) })),
          }),
        )
        if (out.FailedEntryCount) throw new Error(`EventBridge rejected ${out.FailedEntryCount} event(s): ${out.Entries?.find((e) => e.ErrorMessage)?.ErrorMessage}`)
      }
      this.#topicArn ??= await resolveTopicArn(this.#sns, this.#topic)
      for (const m of messages) {
        await this.#sns.send(
          new PublishCommand({
            TopicArn: this.#topicArn,
            Subject: m.subject.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100),
            Message: JSON.stringify(m.document),
            MessageAttributes: {
              kind: { DataType: 'String', StringValue: m.kind },
              ...(m.severity ? { severity: { DataType: 'String', StringValue: m.severity } } : {}),
            },
          }),
        )
      }
    } catch (e) {
      if (e instanceof StorageError) throw e
      throw new StorageError(`could not publish to the SIEM (bus ${this.#busName}, topic ${this.#topic}): ${(e as Error).message}; check they exist and the function may publish`, { cause: e })
    }
  }
}

/** A publisher that keeps messages in memory (tests, dry runs). */
export class MemorySiemPublisher implements SiemPublisher {
  readonly messages: SiemMessage[] = []
  async publish(messages: readonly SiemMessage[]): Promise<void> {
    this.messages.push(...messages)
  }
}
