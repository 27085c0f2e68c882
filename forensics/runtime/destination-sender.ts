/**
 * Delivers destination records to the non-Lambda destinations AWS supports (SQS queue,
 * SNS topic, EventBridge bus) in the envelope AWS uses for each. Names from the routing
 * table are resolved to queue URLs / topic ARNs once and cached.
 */
import { SQSClient, GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs'
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { StorageError } from '../errors.js'
import type { DestinationRef } from '../routing.js'
import type { DestinationRecord } from './destination-record.js'
import { resolveTopicArn } from '../siem/topic.js'

/** A destination: the routing table's kinds plus an SNS topic. */
export type Destination = DestinationRef | { type: 'sns'; topicName: string }

/** Port: sends a record to a queue, topic or bus. */
export interface DestinationSender {
  send(destination: Exclude<Destination, { type: 'lambda' }>, record: DestinationRecord): Promise<void>
}

/** The EventBridge `detail-type` Lambda uses for destination records. */
export function destinationDetailType(record: DestinationRecord): string {
  return record.requestContext.condition === 'Success' ? 'Lambda Function Invocation Result - Success' : 'Lambda Function Invocation Result - Failure'
}

/** {@link DestinationSender} over the AWS SDK (works against AWS and the emulator alike). */
export class AwsDestinationSender implements DestinationSender {
  readonly #sqs: SQSClient
  readonly #sns: SNSClient
  readonly #events: EventBridgeClient
  readonly #queueUrls = new Map<string, string>()
  readonly #topicArns = new Map<string, string>()

  constructor(clients: { sqs: SQSClient; sns: SNSClient; events: EventBridgeClient }) {
    this.#sqs = clients.sqs
    this.#sns = clients.sns
    this.#events = clients.events
  }

  async send(destination: Exclude<Destination, { type: 'lambda' }>, record: DestinationRecord): Promise<void> {
    const body = JSON.stringify(record)
    try {
      if (destination.type === 'sqs') {
        await this.#sqs.send(new SendMessageCommand({ QueueUrl: await this.#queueUrl(destination.queueName), MessageBody: body }))
      } else if (destination.type === 'sns') {
        let arn = this.#topicArns.get(destination.topicName)
        if (!arn) this.#topicArns.set(destination.topicName, (arn = await resolveTopicArn(this.#sns, destination.topicName)))
        await this.#sns.send(new PublishCommand({ TopicArn: arn, Message: body }))
      } else {
        const out = await this.#events.send(
          new PutEventsCommand({
            Entries: [
              {
                EventBusName: destination.eventBusName,
                Source: 'lambda',
                DetailType: destinationDetailType(record),
                Resources: [record.requestContext.functionArn.replace(/:\$LATEST$/, '')],
                Detail: body,
              },
            ],
          }),
        )
        if (out.FailedEntryCount) throw new Error(out.Entries?.[0]?.ErrorMessage ?? 'PutEvents rejected the entry')
      }
    } catch (e) {
      const name = destination.type === 'sqs' ? destination.queueName : destination.type === 'sns' ? destination.topicName : destination.eventBusName
      throw new StorageError(`could not deliver the destination record of ${record.requestContext.requestId} to ${destination.type} ${name}: ${(e as Error).message}; check that it exists and the function may send to it`, { cause: e })
    }
  }

  async #queueUrl(name: string): Promise<string> {
    let url = this.#queueUrls.get(name)
    if (!url) {
      url = (await this.#sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string
      this.#queueUrls.set(name, url)
    }
    return url
  }
}
