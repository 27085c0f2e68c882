/**
 * Object-versions settings from a function's (or the CLI's) environment.
 */
import { SQSClient } from '@aws-sdk/client-sqs'
import { sdkSettingsFromEnv } from '../aws/sdk-config.js'
import { ValidationError } from '../errors.js'
import type { ObjectVersionsOptions } from './capture-object-versions.js'
import { SqsPageQueue } from './sqs-page-queue.js'

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`${name} must be a whole number ≥ 1, got ${raw}`, { field: name })
  return n
}

/**
 * FORENSICS_COPY_CONCURRENCY (default 16); with FORENSICS_FANOUT_QUEUE_URL also the fan-out:
 * FORENSICS_FANOUT_THRESHOLD (default 1000 versions), FORENSICS_FANOUT_PAGE_SIZE (default 500).
 */
export function objectVersionsOptions(env: NodeJS.ProcessEnv, sqs?: SQSClient): ObjectVersionsOptions {
  const concurrency = positiveInt(env, 'FORENSICS_COPY_CONCURRENCY', 16)
  const queueUrl = env.FORENSICS_FANOUT_QUEUE_URL
  if (!queueUrl) return { concurrency }
  return {
    concurrency,
    fanOut: {
      threshold: positiveInt(env, 'FORENSICS_FANOUT_THRESHOLD', 1000),
      pageSize: positiveInt(env, 'FORENSICS_FANOUT_PAGE_SIZE', 500),
      queue: new SqsPageQueue(sqs ?? new SQSClient(sdkSettingsFromEnv(env)), queueUrl),
    },
  }
}

