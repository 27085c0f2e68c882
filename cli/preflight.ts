/**
 * Checks made before any evidence is written: locked evidence can never be removed, so a
 * typo must be refused, not committed. A bucket that does not exist is a usage error
 * (exit 2); a bucket that exists but refuses us is evidence (the capture records it).
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { ValidationError } from '../forensics/errors.js'

/** Throws a ValidationError when `bucket` does not exist; any other outcome lets the capture run. */
export async function preflightSourceBucket(s3: Pick<S3Client, 'send'>, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }))
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } }
    // HeadBucket has no body: a missing bucket is `NotFound` / 404
    if (e.name === 'NoSuchBucket' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) {
      throw new ValidationError(`bucket ${bucket} does not exist (NoSuchBucket); check --bucket, --account and --region. Nothing was captured.`, { field: 'bucket', cause: err })
    }
  }
}
