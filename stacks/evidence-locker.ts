/**
 * The evidence locker: a versioned, Object-Locked bucket encrypted with its own
 * customer-managed key, a bucket policy that refuses deletes, lock and policy changes to
 * everyone but the break-glass role, access logs in a separate bucket, and the asymmetric
 * key that signs manifests and custody heads.
 */
import {
  Construct, KmsAlias, KmsKey, S3Bucket, S3BucketLifecycleConfiguration, S3BucketLoggingA, S3BucketNotification,
  S3BucketObjectLockConfigurationA, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock,
  S3BucketServerSideEncryptionConfigurationA, S3BucketVersioningA,
} from './cdktf.js'
import { skipCheckov } from './checkov.js'
import { keyAdministration } from './kms.js'
import { policyDocument, type PolicyStatement } from './policy.js'
import type { RetentionMode } from '../forensics/config.js'

/** Options for {@link EvidenceLocker}. */
export interface EvidenceLockerOptions {
  name: string
  accountId: string
  region: string
  bucketName: string
  accessLogBucketName: string
  retentionDays: number
  mode: RetentionMode
  accessLogRetentionDays: number
  /** The only principal allowed to change the bucket policy, lock configuration or destroy keys. */
  breakGlassRoleArn: string
  /** Roles that write and read evidence (the toolkit's functions). */
  writerRoleArns: string[]
  /** Roles that read and verify evidence (investigators). */
  readerRoleArns: string[]
}

/** Actions no one but the break-glass role may take on the evidence bucket. */
export const PROTECTED_EVIDENCE_ACTIONS = [
  's3:DeleteObject', 's3:DeleteObjectVersion', 's3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging',
  's3:DeleteBucket', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy',
  's3:BypassGovernanceRetention', 's3:PutBucketVersioning',
] as const

/** Evidence bucket, its keys and its access-log bucket. */
export class EvidenceLocker extends Construct {
  readonly bucket: S3Bucket
  readonly accessLogBucket: S3Bucket
  readonly evidenceKey: KmsKey
  readonly signingKey: KmsKey
  readonly signingKeyAlias: KmsAlias
  readonly bucketPolicy: S3BucketPolicy

  constructor(scope: Construct, id: string, o: EvidenceLockerOptions) {
    super(scope, id)
    const users = [...o.writerRoleArns, ...o.readerRoleArns, o.breakGlassRoleArn]

    this.evidenceKey = new KmsKey(this, 'evidence-key', {
      description: `${o.name}: evidence bucket encryption`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: policyDocument([
        // Destroying this key would destroy the evidence: reserved for break-glass.
        ...keyAdministration(o.accountId, [o.breakGlassRoleArn]),
        {
          Sid: 'ToolkitRolesUseKeyThroughS3Only',
          Effect: 'Allow',
          Principal: { AWS: users },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:ViaService': `s3.${o.region}.amazonaws.com`, 'kms:CallerAccount': o.accountId } },
        },
      ]),
    })
    new KmsAlias(this, 'evidence-key-alias', { name: `alias/${o.name}-evidence`, targetKeyId: this.evidenceKey.keyId })

    this.signingKey = new KmsKey(this, 'signing-key', {
      description: `${o.name}: signs capture manifests and custody heads (ECDSA P-256)`,
      customerMasterKeySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      deletionWindowInDays: 30,
      policy: policyDocument([
        ...keyAdministration(o.accountId, [o.breakGlassRoleArn]),
        { Sid: 'ToolkitFunctionsSign', Effect: 'Allow', Principal: { AWS: o.writerRoleArns }, Action: ['kms:Sign'], Resource: '*', Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' } } },
        { Sid: 'ToolkitRolesVerify', Effect: 'Allow', Principal: { AWS: users }, Action: ['kms:Verify', 'kms:GetPublicKey', 'kms:DescribeKey'], Resource: '*' },
      ]),
    })
    this.signingKeyAlias = new KmsAlias(this, 'signing-key-alias', { name: `alias/${o.name}-signing`, targetKeyId: this.signingKey.keyId })

    // --- access logs ---------------------------------------------------------------
    this.accessLogBucket = new S3Bucket(this, 'access-logs', { bucket: o.accessLogBucketName, forceDestroy: false })
    skipCheckov(
      this.accessLogBucket,
      { id: 'CKV_AWS_145', comment: 'S3 server access logging only delivers to buckets encrypted with SSE-S3; SSE-KMS targets silently receive no logs.' },
      { id: 'CKV_AWS_144', comment: 'Access logs stay in the forensics account region next to the evidence they describe; cross-region replication would widen where they can be read.' },
    )
    new S3BucketPublicAccessBlock(this, 'access-logs-public-access', {
      bucket: this.accessLogBucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    })
    new S3BucketOwnershipControls(this, 'access-logs-ownership', { bucket: this.accessLogBucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } })
    new S3BucketVersioningA(this, 'access-logs-versioning', { bucket: this.accessLogBucket.id, versioningConfiguration: { status: 'Enabled' } })
    new S3BucketServerSideEncryptionConfigurationA(this, 'access-logs-encryption', {
      bucket: this.accessLogBucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    })
    new S3BucketLifecycleConfiguration(this, 'access-logs-lifecycle', {
      bucket: this.accessLogBucket.id,
      rule: [{
        id: 'expire-access-logs',
        status: 'Enabled',
        filter: [{ prefix: '' }],
        expiration: [{ days: o.accessLogRetentionDays }],
        noncurrentVersionExpiration: [{ noncurrentDays: 30 }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
      }],
    })
    new S3BucketNotification(this, 'access-logs-notifications', { bucket: this.accessLogBucket.id, eventbridge: true })
    const accessLogPolicy = new S3BucketPolicy(this, 'access-logs-policy', {
      bucket: this.accessLogBucket.id,
      policy: policyDocument([
        {
          Sid: 'S3ServerAccessLogsFromEvidenceBucket',
          Effect: 'Allow',
          Principal: { Service: 'logging.s3.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: `${this.accessLogBucket.arn}/evidence/*`,
          Condition: { StringEquals: { 'aws:SourceAccount': o.accountId }, ArnLike: { 'aws:SourceArn': `arn:aws:s3:::${o.bucketName}` } },
        },
        denyInsecureTransport(this.accessLogBucket.arn),
      ]),
    })

    // --- evidence bucket -------------------------------------------------------------
    this.bucket = new S3Bucket(this, 'evidence', {
      bucket: o.bucketName,
      objectLockEnabled: true,
      forceDestroy: false,
      // Terraform destroys dependents first: a `terraform destroy` reaches the keys only once
      // the bucket is gone, and a bucket holding locked evidence never goes, so the keys
      // that decrypt and verify the evidence stay with it.
      dependsOn: [this.evidenceKey, this.signingKey],
    })
    skipCheckov(this.bucket, {
      id: 'CKV_AWS_144',
      comment: 'Evidence stays in the forensics account home region under Object Lock; a replica would be a second copy with its own access path and retention to defend. Use AWS Backup or a second deployment for DR.',
    })
    const publicAccess = new S3BucketPublicAccessBlock(this, 'evidence-public-access', {
      bucket: this.bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    })
    const ownership = new S3BucketOwnershipControls(this, 'evidence-ownership', { bucket: this.bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } })
    const versioning = new S3BucketVersioningA(this, 'evidence-versioning', { bucket: this.bucket.id, versioningConfiguration: { status: 'Enabled' } })
    const lock = new S3BucketObjectLockConfigurationA(this, 'evidence-object-lock', {
      bucket: this.bucket.id,
      rule: { defaultRetention: { mode: o.mode, days: o.retentionDays } },
      dependsOn: [versioning],
    })
    const encryption = new S3BucketServerSideEncryptionConfigurationA(this, 'evidence-encryption', {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: this.evidenceKey.arn }, bucketKeyEnabled: true }],
    })
    const logging = new S3BucketLoggingA(this, 'evidence-logging', {
      bucket: this.bucket.id,
      targetBucket: this.accessLogBucket.id,
      targetPrefix: 'evidence/',
      // S3 refuses a logging target whose policy does not yet admit the logging service
      // (InvalidTargetBucketForLogging): without this, a first apply fails or passes by luck.
      dependsOn: [accessLogPolicy],
    })
    // Locked versions are never expired by lifecycle; this only cleans up abandoned uploads.
    const lifecycle = new S3BucketLifecycleConfiguration(this, 'evidence-lifecycle', {
      bucket: this.bucket.id,
      rule: [{ id: 'abort-incomplete-uploads', status: 'Enabled', filter: [{ prefix: '' }], abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }] }],
      dependsOn: [versioning],
    })
    const notifications = new S3BucketNotification(this, 'evidence-notifications', { bucket: this.bucket.id, eventbridge: true })

    this.bucketPolicy = new S3BucketPolicy(this, 'evidence-policy', {
      bucket: this.bucket.id,
      policy: policyDocument(evidenceBucketPolicyStatements({
        bucketArn: this.bucket.arn, keyArn: this.evidenceKey.arn, breakGlassRoleArn: o.breakGlassRoleArn,
      })),
      // The policy denies lock and policy changes: everything else is configured first.
      dependsOn: [publicAccess, ownership, versioning, lock, encryption, logging, lifecycle, notifications],
    })
  }
}

/** Denies any request not made over TLS. */
function denyInsecureTransport(bucketArn: string): PolicyStatement {
  return {
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  }
}

/** The evidence bucket policy: deny statements only (access is granted by IAM and the key policy). */
export function evidenceBucketPolicyStatements(p: { bucketArn: string; keyArn: string; breakGlassRoleArn: string }): PolicyStatement[] {
  return [
    {
      Sid: 'DenyDeletesAndLockOrPolicyChangesExceptBreakGlass',
      Effect: 'Deny',
      Principal: '*',
      Action: [...PROTECTED_EVIDENCE_ACTIONS],
      Resource: [p.bucketArn, `${p.bucketArn}/*`],
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': p.breakGlassRoleArn } },
    },
    denyInsecureTransport(p.bucketArn),
    {
      // Default encryption covers puts without headers; a put that asks for anything but
      // SSE-KMS, or for another key, is refused. `Null: false` limits each statement to
      // requests that carry the header: a negated operator (also `…IfExists`) is true for a
      // missing key, which would refuse every put that relies on default encryption.
      Sid: 'DenyPutsNotEncryptedWithEvidenceKey',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:PutObject',
      Resource: `${p.bucketArn}/*`,
      Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' }, Null: { 's3:x-amz-server-side-encryption': 'false' } },
    },
    {
      Sid: 'DenyPutsWithAnotherKmsKey',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:PutObject',
      Resource: `${p.bucketArn}/*`,
      Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': p.keyArn }, Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' } },
    },
  ]
}
