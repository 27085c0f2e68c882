/** Resolves an SNS topic name (or ARN) to its ARN. */
import { SNSClient, paginateListTopics } from '@aws-sdk/client-sns'
import { StorageError } from '../errors.js'

/**
 * The ARN of topic `nameOrArn`: an ARN is returned as is, a name is looked up with
 * ListTopics. Throws a {@link StorageError} naming the topic when it does not exist.
 */
export async function resolveTopicArn(sns: SNSClient, nameOrArn: string): Promise<string> {
  if (nameOrArn.startsWith('arn:')) return nameOrArn
  for await (const page of paginateListTopics({ client: sns }, {})) {
    const hit = page.Topics?.find((t) => t.TopicArn?.endsWith(`:${nameOrArn}`))
    if (hit?.TopicArn) return hit.TopicArn
  }
  throw new StorageError(`SNS topic ${nameOrArn} does not exist in this account and region: deploy the forensics stack (or run \`forensics drill\` locally, which provisions it)`)
}
