/**
 * Evidence cannot be destroyed by the toolkit's own roles (issue 16).
 * 1. For every role the stacks synthesize, the IAM simulator answers Deny to every
 *    destructive call on the evidence bucket and its keys.
 * 2. On the emulator, the same calls made by the CLI's own client against a locked object:
 *    which the emulator refuses, and that the locked version survives all of them. Where
 *    moto accepts a call AWS refuses, the README's emulator-gaps list says so.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3'
import { CreateKeyCommand, DescribeKeyCommand, DisableKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms'
import { Testing } from '../stacks/cdktf.js'
import { addForensicsStacks } from '../stacks/index.js'
import { parseConfig } from '../forensics/config.js'
import { resourceNames } from '../forensics/routing.js'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { s3FromEnv } from '../cli/context.js'
import { sha256Hex } from '../forensics/hash.js'
import { rolesOf, simulate, synthesizedPolicies } from './fixtures/iam-simulation.js'
import type { PolicyDocument } from '../forensics/permissions/deployment-policies.js'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { useEmulatorEnv } from './fixtures/collectors.js'

const config = parseConfig(JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')))
const names = resourceNames(config)

/** The destructive calls, as IAM actions, on the evidence bucket (`object`: on a stored object) or its keys. */
const S3_DESTRUCTIVE = [
  { call: 'DeleteObject', action: 's3:DeleteObject', on: 'object' },
  { call: 'DeleteObjectVersion', action: 's3:DeleteObjectVersion', on: 'object' },
  { call: 'PutObjectRetention (shortening)', action: 's3:PutObjectRetention', on: 'object' },
  { call: 'PutObjectRetention (bypassing governance)', action: 's3:BypassGovernanceRetention', on: 'object' },
  { call: 'PutObjectLegalHold (off)', action: 's3:PutObjectLegalHold', on: 'object' },
  { call: 'PutBucketPolicy', action: 's3:PutBucketPolicy', on: 'bucket' },
  { call: 'DeleteBucketPolicy', action: 's3:DeleteBucketPolicy', on: 'bucket' },
  { call: 'PutBucketLifecycleConfiguration', action: 's3:PutLifecycleConfiguration', on: 'bucket' },
  { call: 'PutObjectLockConfiguration', action: 's3:PutBucketObjectLockConfiguration', on: 'bucket' },
  { call: 'PutBucketVersioning (suspend)', action: 's3:PutBucketVersioning', on: 'bucket' },
  { call: 'DeleteBucket', action: 's3:DeleteBucket', on: 'bucket' },
] as const
const KMS_DESTRUCTIVE = ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:PutKeyPolicy'] as const

t.test('simulated: every synthesized role is denied every destructive call on the evidence', async (t) => {
  const app = Testing.app()
  const stacks = addForensicsStacks(app, config)
  const plans = [
    { plan: JSON.parse(Testing.synth(stacks.forensics)) as never, accountId: config.forensicsAccountId, region: config.region },
    ...stacks.members.map((m, i) => ({ plan: JSON.parse(Testing.synth(m)) as never, accountId: config.memberAccounts[i], region: config.region })),
  ]
  const policies = synthesizedPolicies(plans)
  const roles = rolesOf(policies).map((r) => ({ ...r, name: r.arn.split('/').pop()! }))
  t.ok(roles.filter((r) => r.accountId === config.forensicsAccountId).length >= 5, `${roles.length} roles in all`)
  t.ok(config.memberAccounts.every((a) => roles.some((r) => r.accountId === a)), 'a capture role in every member stack')

  const bucketArn = `arn:aws:s3:::${names.evidenceBucket}`
  const bucketPolicy = policies.resourcePolicies.get(bucketArn)
  t.ok(bucketPolicy, 'the evidence bucket has a policy')
  const keys = [...policies.resourcePolicies.entries()].filter(([arn]) => arn.startsWith('arn:aws:kms:'))
  t.ok(keys.length >= 2, `${keys.length} KMS keys (the evidence and signing keys among them)`)
  for (const role of roles) {
    t.same(role.managed.filter((a) => a !== 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess'), [], `${role.name}: no managed policy beyond X-Ray (which grants no S3 or KMS)`)
  }

  const rows: string[] = []
  let allowed = 0
  const retentionWriters: string[] = []
  for (const role of roles) {
    for (const d of S3_DESTRUCTIVE) {
      // an object under the role's own evidence prefix, where its writes are allowed
      const prefix = role.name.replace(`${config.name}-`, '')
      const resource = d.on === 'bucket' ? bucketArn : `${bucketArn}/cases/case-1/captures/${prefix}-0123456789abcdef0123/manifest.json`
      const verdict = await simulate(role, { action: d.action, resource, resourceAccountId: config.forensicsAccountId, resourcePolicy: bucketPolicy })
      rows.push(`${role.name} ${d.call}: ${verdict}`)
      if (d.action === 's3:PutObjectRetention' && verdict === 'Allowed') {
        // IAM cannot tell shortening from setting: a write with Object Lock headers needs
        // s3:PutObjectRetention, so the capture roles hold it on their own prefixes. What
        // refuses shortening is the lock itself: COMPLIANCE retention cannot be shortened
        // by anyone, GOVERNANCE only with s3:BypassGovernanceRetention (denied below).
        retentionWriters.push(role.name)
        continue
      }
      if (verdict === 'Allowed') allowed++
      t.not(verdict, 'Allowed', `${role.name} ${d.call} on the evidence bucket`)
    }
    for (const [keyArn, keyPolicy] of keys) {
      for (const action of KMS_DESTRUCTIVE) {
        const verdict = await simulate(role, { action, resource: keyArn, resourceAccountId: config.forensicsAccountId, resourcePolicy: keyPolicy })
        if (verdict === 'Allowed') allowed++
        rows.push(`${role.name} ${action} ${keyArn.split('/').pop()}: ${verdict}`)
        t.not(verdict, 'Allowed', `${role.name} ${action} on ${keyArn}`)
      }
    }
  }
  t.comment(`destructive-call table: ${roles.length} roles × ${S3_DESTRUCTIVE.length + KMS_DESTRUCTIVE.length * keys.length} calls = ${rows.length} simulated, ${allowed} allowed; s3:PutObjectRetention (set, not shorten) held by ${retentionWriters.join(', ')}`)
  t.same(retentionWriters.sort(), [`${config.name}-bucket-config`, `${config.name}-cloudtrail-slice`, `${config.name}-object-versions`], 'only the capture roles may set retention (on their own writes)')
  t.equal(config.evidence.mode, 'COMPLIANCE', 'the configured evidence mode refuses any shortening')

  // the simulator is not vacuous: what the roles must be able to do is allowed, and the
  // break-glass role is allowed to destroy a key
  const writer = roles.find((r) => r.name === `${config.name}-object-versions`)!
  t.equal(await simulate(writer, { action: 's3:PutObject', resource: `${bucketArn}/cases/case-1/captures/object-versions-0123456789abcdef0123/manifest.json`, resourceAccountId: config.forensicsAccountId, resourcePolicy: bucketPolicy, context: { 's3:x-amz-server-side-encryption': 'aws:kms', 's3:x-amz-server-side-encryption-aws-kms-key-id': keys.find(([, p]) => JSON.stringify(p).includes('ViaService'))![0] } }), 'Allowed', 'a capture role may write evidence')
  const admin: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }
  const breakGlass = { arn: config.evidence.breakGlassRoleArn, accountId: config.forensicsAccountId, inline: [{ name: 'admin', document: admin }] }
  t.equal(await simulate(breakGlass, { action: 'kms:ScheduleKeyDeletion', resource: keys[0][0], resourceAccountId: config.forensicsAccountId, resourcePolicy: keys[0][1] }), 'Allowed', 'break-glass may schedule key deletion')
  t.equal(await simulate(breakGlass, { action: 's3:DeleteObjectVersion', resource: `${bucketArn}/x`, resourceAccountId: config.forensicsAccountId, resourcePolicy: bucketPolicy }), 'Allowed', 'the bucket policy leaves break-glass out of its deny')
  t.equal(await simulate({ ...breakGlass, arn: `arn:aws:iam::${config.forensicsAccountId}:role/admin` }, { action: 's3:DeleteObjectVersion', resource: `${bucketArn}/x`, resourceAccountId: config.forensicsAccountId, resourcePolicy: bucketPolicy }), 'ExplicitlyDenied', 'even an administrator other than break-glass is denied')
})

t.test('on the emulator: the CLI\'s own client against a locked object', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const env = { ...process.env }
  const s3 = s3FromEnv(env)
  const kms = new KMSClient(sdkSettingsFromEnv(env))
  t.teardown(() => {
    s3.destroy()
    kms.destroy()
  })
  await createLockedBucket(s3, 'evidence')
  const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  const bytes = Buffer.from('locked evidence')
  const stored = await store.put({ key: 'cases/c/captures/x/artifacts/a.txt', body: bytes })
  const keyId = (await kms.send(new CreateKeyCommand({ Description: 'evidence key' }))).KeyMetadata!.KeyId!
  const Bucket = 'evidence'
  const Key = stored.key
  const VersionId = stored.versionId
  const soon = new Date(Date.now() + 60_000)
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['DeleteObjectVersion', () => s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId }))],
    ['PutObjectRetention (shortening)', () => s3.send(new PutObjectRetentionCommand({ Bucket, Key, VersionId, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: soon } }))],
    ['PutObjectLegalHold (off)', () => s3.send(new PutObjectLegalHoldCommand({ Bucket, Key, VersionId, LegalHold: { Status: 'OFF' } }))],
    ['PutBucketPolicy', () => s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::evidence/*' }] }) }))],
    ['PutBucketLifecycleConfiguration', () => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: [{ ID: 'expire', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] } }))],
    ['PutObjectLockConfiguration', () => s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }))],
    ['DeleteObject (a delete marker)', () => s3.send(new DeleteObjectCommand({ Bucket, Key }))],
    ['DeleteBucket', () => s3.send(new DeleteBucketCommand({ Bucket }))],
    ['KMS DisableKey', () => kms.send(new DisableKeyCommand({ KeyId: keyId }))],
    ['KMS ScheduleKeyDeletion', () => kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }))],
  ]
  const table: Record<string, string> = {}
  for (const [name, call] of calls) table[name] = await call().then(() => 'accepted', (e: Error) => `refused: ${e.name}`)
  t.comment(`emulator answers (moto ${emulator.motoVersion}): ${JSON.stringify(table, null, 1)}`)
  // What moto refuses on its own; every "accepted" row is in README "Emulator gaps" (AWS
  // refuses it through the bucket policy, the key policy or COMPLIANCE mode) — or, for a
  // plain DeleteObject, is what S3 does too: a delete marker, the version untouched.
  t.same(table, {
    DeleteObjectVersion: 'refused: AccessDenied',
    'PutObjectRetention (shortening)': 'accepted',
    'PutObjectLegalHold (off)': 'accepted',
    PutBucketPolicy: 'accepted',
    PutBucketLifecycleConfiguration: 'accepted',
    PutObjectLockConfiguration: 'refused: InvalidBucket',
    'DeleteObject (a delete marker)': 'accepted',
    DeleteBucket: 'refused: BucketNotEmpty',
    'KMS DisableKey': 'accepted',
    'KMS ScheduleKeyDeletion': 'accepted',
  })
  // whatever was accepted, the locked version is still there, byte for byte
  const back = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }))
  t.equal(sha256Hex(Buffer.from(await back.Body!.transformToByteArray())), sha256Hex(bytes), 'the locked version survived every call')
  t.equal(await store.tryDelete(Key, VersionId), 'AccessDenied', 'and still cannot be deleted')
  t.match((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata, { KeyState: 'PendingDeletion' }, 'moto lets the key be scheduled for deletion (the key policy refuses it in AWS)')
})
