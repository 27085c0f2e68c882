/**
 * How a Lambda handler (or the same handler run by the local runtime) finds its
 * dependencies: from the environment variables the stack writes on every function. Which
 * variables each function gets, and what they mean, is the environment contract
 * (forensics/contract/env.ts); the entry points check it at cold start.
 *
 * Plus the SDK's own (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials).
 */
import { S3Client } from '@aws-sdk/client-s3'
import { KMSClient } from '@aws-sdk/client-kms'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { sdkSettingsFromEnv } from '../aws/sdk-config.js'
import { ValidationError } from '../errors.js'
import type { RetentionPolicy } from '../evidence-store.js'
import { openS3EvidenceStore, type S3EvidenceStore } from '../s3-evidence-store.js'
import { KmsSigner, LocalSigner, type Signer } from '../signer.js'
import { AwsSiemPublisher, type SiemPublisher } from '../siem/siem-publisher.js'

/** Reads a required variable or throws a {@link ValidationError} naming it. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name]
  if (!v) throw new ValidationError(`environment variable ${name} is not set: the forensics stack sets it on every function (locally, \`forensics drill\` does)`, { field: name })
  return v
}

/** The signer named by `FORENSICS_SIGNING_KEY` (`kms:…` or `file:…`). */
export function signerFromSpec(spec: string, env: NodeJS.ProcessEnv = process.env): Signer {
  if (spec.startsWith('kms:')) return new KmsSigner(new KMSClient(sdkSettingsFromEnv(env)), spec.slice(4))
  if (spec.startsWith('file:')) return LocalSigner.fromFile(spec.slice(5)).signer
  throw new ValidationError(`FORENSICS_SIGNING_KEY must be kms:<key id> or file:<pem path>, got ${JSON.stringify(spec)}`, { field: 'FORENSICS_SIGNING_KEY' })
}

/** Evidence access for a handler. */
export interface CollectorEvidence {
  store: S3EvidenceStore
  signer: Signer
  s3: S3Client
}

const cache = new Map<string, Promise<CollectorEvidence>>()

/** Retention from `FORENSICS_RETENTION_DAYS` / `FORENSICS_RETENTION_MODE`; undefined means the bucket default. */
export function retentionFromEnv(env: NodeJS.ProcessEnv): RetentionPolicy | undefined {
  if (!env.FORENSICS_RETENTION_DAYS) return undefined
  const days = Number(env.FORENSICS_RETENTION_DAYS)
  const mode = env.FORENSICS_RETENTION_MODE ?? 'COMPLIANCE'
  if (!Number.isInteger(days) || days < 1 || (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE')) {
    throw new ValidationError(`FORENSICS_RETENTION_DAYS/MODE must be whole days ≥ 1 and COMPLIANCE|GOVERNANCE, got ${env.FORENSICS_RETENTION_DAYS}/${mode}`, { field: 'FORENSICS_RETENTION_DAYS' })
  }
  return { mode, days }
}

/**
 * Opens the evidence store (FORENSICS_EVIDENCE_BUCKET, retention from
 * FORENSICS_RETENTION_DAYS/MODE or the bucket default) and the signer
 * (FORENSICS_SIGNING_KEY = `kms:<key>` or `file:<pem>`; required in a function).
 */
export function evidenceFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<CollectorEvidence> {
  const bucket = env.FORENSICS_EVIDENCE_BUCKET
  if (!bucket) throw new ValidationError('FORENSICS_EVIDENCE_BUCKET is not set: the function needs the evidence bucket the evidence stack created', { field: 'FORENSICS_EVIDENCE_BUCKET' })
  const spec = env.FORENSICS_SIGNING_KEY
  if (!spec || !(spec.startsWith('kms:') || spec.startsWith('file:'))) {
    throw new ValidationError(`FORENSICS_SIGNING_KEY must be kms:<key id> or file:<pem path>, got ${JSON.stringify(spec ?? null)}`, { field: 'FORENSICS_SIGNING_KEY' })
  }
  const id = [bucket, spec, env.AWS_ENDPOINT_URL ?? '', env.AWS_REGION ?? '', env.FORENSICS_RETENTION_DAYS ?? '', env.FORENSICS_RETENTION_MODE ?? ''].join('\n')
  let opened = cache.get(id)
  if (!opened) {
    const settings = sdkSettingsFromEnv(env)
    const s3 = new S3Client(settings)
    const signer = signerFromSpec(spec, env)
    opened = openS3EvidenceStore({ client: s3, bucket, retention: retentionFromEnv(env) }).then((store) => ({ store, signer, s3 }))
    opened.catch(() => cache.delete(id))
    cache.set(id, opened)
  }
  return opened
}

/** The SIEM publisher from `FORENSICS_SIEM_EVENT_BUS` and `FORENSICS_SIEM_TOPIC_ARN`. */
export function siemFromEnv(env: NodeJS.ProcessEnv = process.env): SiemPublisher {
  const settings = sdkSettingsFromEnv(env)
  return new AwsSiemPublisher({
    events: new EventBridgeClient(settings),
    sns: new SNSClient(settings),
    eventBusName: requireEnv(env, 'FORENSICS_SIEM_EVENT_BUS'),
    topic: requireEnv(env, 'FORENSICS_SIEM_TOPIC_ARN'),
  })
}
