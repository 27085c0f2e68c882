/**
 * The drill's canary incident on a dedicated canary bucket: new versions of an object, a
 * deleted object (delete marker), and a bucket policy change that grants public read.
 * Everything the incident changes is remembered so {@link CanaryIncident.cleanUp} can put
 * the bucket back as it was (the drill's evidence, of course, stays locked).
 */
import {
  S3Client,
  PutObjectCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  PutBucketPolicyCommand,
  DeleteBucketPolicyCommand,
} from '@aws-sdk/client-s3'
import { StorageError } from '../errors.js'

/** What the incident did, with the coordinates the checks look for. */
export interface CanaryChanges {
  bucket: string
  prefix: string
  /** the object that got new versions */
  objectKey: string
  objectVersionIds: string[]
  /** the object that was deleted */
  deletedKey: string
  deletedVersionId: string
  deleteMarkerVersionId: string
  /** the public-read policy that was put */
  policy: string
  /** when the last change was made */
  at: Date
}

/** Runs and reverts the canary incident. */
export class CanaryIncident {
  readonly bucket: string
  readonly prefix: string
  readonly #s3: S3Client
  #previousPolicy: string | undefined | null = null
  #created: { key: string; versionId: string }[] = []
  #policyChanged = false

  constructor(s3: S3Client, bucket: string, drillId: string) {
    this.#s3 = s3
    this.bucket = bucket
    this.prefix = `drill/${drillId}/`
  }

  /** The public-read policy the incident puts on the canary bucket. */
  publicReadPolicy(): string {
    return JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'ForensicsDrillPublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${this.bucket}/${this.prefix}*` }],
    })
  }

  /** Makes the changes; throws a StorageError naming the canary bucket when one is refused. */
  async run(now: () => Date = () => new Date()): Promise<CanaryChanges> {
    const objectKey = `${this.prefix}canary.txt`
    const deletedKey = `${this.prefix}to-be-deleted.txt`
    try {
      const put = async (key: string, body: string): Promise<string> => {
        const out = await this.#s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'text/plain' }))
        if (!out.VersionId) throw new Error(`bucket ${this.bucket} returned no version id: enable versioning on the canary bucket`)
        this.#created.push({ key, versionId: out.VersionId })
        return out.VersionId
      }
      const objectVersionIds = [await put(objectKey, `canary v1 ${now().toISOString()}\n`), await put(objectKey, `canary v2 ${now().toISOString()}\n`)]
      const deletedVersionId = await put(deletedKey, `evidence that will be deleted ${now().toISOString()}\n`)
      const del = await this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: deletedKey }))
      const deleteMarkerVersionId = del.VersionId as string
      this.#created.push({ key: deletedKey, versionId: deleteMarkerVersionId })
      this.#previousPolicy = await this.#readPolicy()
      const policy = this.publicReadPolicy()
      await this.#s3.send(new PutBucketPolicyCommand({ Bucket: this.bucket, Policy: policy }))
      this.#policyChanged = true
      return { bucket: this.bucket, prefix: this.prefix, objectKey, objectVersionIds, deletedKey, deletedVersionId, deleteMarkerVersionId, policy, at: now() }
    } catch (e) {
      throw new StorageError(`canary incident on s3://${this.bucket} failed: ${(e as Error).message} (the drill needs a versioned canary bucket it may write, delete in and put a public policy on: Block Public Access must be off for it)`, { cause: e })
    }
  }

  /** Puts one more object under the canary prefix (cleanUp removes it with the rest); returns its version id. */
  async putObject(name: string, body: Buffer): Promise<string> {
    const key = `${this.prefix}${name}`
    const out = await this.#s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'text/plain' }))
    if (!out.VersionId) throw new StorageError(`bucket ${this.bucket} returned no version id for ${key}: enable versioning on the canary bucket`)
    this.#created.push({ key, versionId: out.VersionId })
    return out.VersionId
  }

  async #readPolicy(): Promise<string | undefined> {
    try {
      return (await this.#s3.send(new GetBucketPolicyCommand({ Bucket: this.bucket }))).Policy
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchBucketPolicy') return undefined
      throw e
    }
  }

  /** Reverts the incident: the previous bucket policy (or none) and every version it created. */
  async cleanUp(): Promise<{ ok: boolean; detail: string[] }> {
    const detail: string[] = []
    let ok = true
    if (this.#policyChanged) {
      try {
        if (this.#previousPolicy) await this.#s3.send(new PutBucketPolicyCommand({ Bucket: this.bucket, Policy: this.#previousPolicy }))
        else await this.#s3.send(new DeleteBucketPolicyCommand({ Bucket: this.bucket }))
        detail.push(this.#previousPolicy ? 'restored the previous bucket policy' : 'removed the public-read bucket policy')
        this.#policyChanged = false
      } catch (e) {
        ok = false
        detail.push(`could not restore the bucket policy of ${this.bucket}: ${(e as Error).message}`)
      }
    }
    let removed = 0
    for (const v of this.#created.reverse()) {
      try {
        await this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: v.key, VersionId: v.versionId }))
        removed++
      } catch (e) {
        ok = false
        detail.push(`could not delete s3://${this.bucket}/${v.key} version ${v.versionId}: ${(e as Error).message}`)
      }
    }
    if (removed) detail.push(`deleted ${removed} canary object version(s) under ${this.prefix}`)
    this.#created = []
    return { ok, detail }
  }
}
