/**
 * What commands share: the evidence store, the signer and AWS clients, resolved from
 * flags and the standard AWS SDK environment.
 */
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { openS3EvidenceStore, type S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { LocalSigner, type Signer } from '../forensics/signer.js'
import { retentionFromEnv, signerFromSpec } from '../forensics/runtime/handler-env.js'
import { projectRoot } from '../forensics/local/emulator.js'
import { UsageError, type CommandIO, type ParsedArgs } from './command.js'

/** The evidence bucket named by --evidence-bucket or FORENSICS_EVIDENCE_BUCKET. */
export function evidenceBucketName(args: ParsedArgs, env: NodeJS.ProcessEnv): string {
  const bucket = (args.values['evidence-bucket'] as string | undefined) ?? env.FORENSICS_EVIDENCE_BUCKET
  if (!bucket) throw new UsageError('no evidence bucket: pass --evidence-bucket NAME or set FORENSICS_EVIDENCE_BUCKET (the bucket the evidence stack created)')
  return bucket
}

/** Retention from FORENSICS_RETENTION_DAYS / FORENSICS_RETENTION_MODE, else undefined (bucket default). */
export { retentionFromEnv }

/** S3 client configured from the environment. */
export function s3FromEnv(env: NodeJS.ProcessEnv): S3Client {
  return new S3Client(sdkSettingsFromEnv(env))
}

/**
 * The signer named by FORENSICS_SIGNING_KEY (`kms:<key id, ARN or alias>` or
 * `file:<PEM path>`); without it a local P-256 key under `.forensics/` (created once).
 */
export function signerFromEnv(env: NodeJS.ProcessEnv, io?: Pick<CommandIO, 'progress'>): Signer {
  const spec = env.FORENSICS_SIGNING_KEY
  if (spec) return signerFromSpec(spec, env)
  const path = join(env.FORENSICS_HOME ?? join(projectRoot, '.forensics'), 'signing-key.pem')
  const { signer, created } = LocalSigner.fromFile(path, { create: true })
  if (created) io?.progress(`created a local P-256 signing key at ${path} (set FORENSICS_SIGNING_KEY=kms:<key> to sign with KMS)`)
  return signer
}

/** Evidence store + signer for a command. */
export async function openEvidence(args: ParsedArgs, io: CommandIO): Promise<{ store: S3EvidenceStore; signer: Signer; s3: S3Client }> {
  const s3 = s3FromEnv(io.env)
  const store = await openS3EvidenceStore({ client: s3, bucket: evidenceBucketName(args, io.env), retention: retentionFromEnv(io.env) })
  return { store, signer: signerFromEnv(io.env, io), s3 }
}
