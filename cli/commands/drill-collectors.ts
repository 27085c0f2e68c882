/**
 * The capture functions' handlers, bound in-process to the local drill's evidence store,
 * signer and emulator clients (in Lambda each builds the same from its environment).
 */
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { EvidenceStore } from '../../forensics/evidence-store.js'
import type { Signer } from '../../forensics/signer.js'
import type { PublicKeySource } from '../../forensics/cloudtrail/digest-validation.js'
import type { AsyncHandler } from '../../forensics/runtime/local-runtime.js'
import type { CAPTURE_KEYS } from '../../forensics/routing.js'
import { createHandler as createCloudTrailSliceHandler } from '../../collectors/cloudtrail-slice.js'
import { createBucketConfigHandler } from '../../collectors/bucket-config.js'
import { createObjectVersionsHandler } from '../../collectors/object-versions.js'

/** What the in-process collectors share. */
export interface LocalCollectorDeps {
  store: EvidenceStore
  signer: Signer
  s3: S3Client
  sqs: SQSClient
  fanOutQueueUrl: string
  /** environment the handlers see (emulator endpoint, trail archive, ...) */
  env: NodeJS.ProcessEnv
  /** the local trail's keys, as ListPublicKeys would give them (the emulator has no CloudTrail) */
  trailKeys?: PublicKeySource
}

/** A capture function key. */
export type CaptureKey = (typeof CAPTURE_KEYS)[number]

/** The three capture handlers, in-process. */
export function localCollectorHandlers(d: LocalCollectorDeps): Record<CaptureKey, AsyncHandler> {
  const capture = async (): Promise<{ store: EvidenceStore; signer: Signer }> => ({ store: d.store, signer: d.signer })
  return {
    'cloudtrail-slice': createCloudTrailSliceHandler({ capture, slice: { s3: d.s3, workers: 0, ...(d.trailKeys ? { publicKeys: d.trailKeys } : {}) }, env: d.env }),
    // reads its evidence bucket, signing key and endpoint from the environment, as in Lambda
    'bucket-config': (event, context) => createBucketConfigHandler(d.env)(event, { awsRequestId: context.awsRequestId }),
    // large version sets fan out to FORENSICS_FANOUT_QUEUE_URL; the local drill consumes it
    'object-versions': (event, context) => createObjectVersionsHandler(d.env)(event, { awsRequestId: context.awsRequestId }),
  }
}
