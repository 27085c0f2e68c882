/**
 * Where inspected bytes come from: S3 objects (one GetObject per object, the version the
 * upload created when it is known) and local files (offline triage with `--from-dir`).
 * Also reading rule files and IOC lists from `s3://` or local paths.
 */
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { holdBody } from '../aws/response-body.js'
import { StorageError, ValidationError } from '../errors.js'
import { withRetry } from '../retry.js'
import { parseS3Url, type ObjectLocation } from './inspection-config.js'
import type { ObjectToInspect, OpenedObject } from './inspect-object.js'

/** S3 error names meaning "this object (version) does not exist". */
const GONE_ERRORS = new Set(['NoSuchKey', 'NoSuchVersion', 'NotFound'])

const isGone = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } }
  return GONE_ERRORS.has(err?.name ?? '') || err?.$metadata?.httpStatusCode === 404
}

/** An S3 object to inspect; `versionId` pins the version the upload created. */
export function s3Object(s3: S3Client, bucket: string, key: string, versionId?: string): ObjectToInspect {
  return {
    name: `s3://${bucket}/${key}${versionId ? `?versionId=${versionId}` : ''}`,
    bucket,
    key,
    ...(versionId ? { versionId } : {}),
    async open(): Promise<OpenedObject | undefined> {
      try {
        const out = await withRetry(`GetObject s3://${bucket}/${key}`, () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })))
        return { body: holdBody(out.Body as OpenedObject['body']), size: out.ContentLength }
      } catch (e) {
        if (isGone(e)) return undefined
        throw e
      }
    },
  }
}

/** A local file to inspect. */
export function localFile(path: string, size?: number): ObjectToInspect {
  return {
    name: path,
    ...(size !== undefined ? { size } : {}),
    async open(): Promise<OpenedObject | undefined> {
      try {
        const st = await stat(path)
        return { body: createReadStream(path, { highWaterMark: 1024 * 1024 }), size: st.size }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw e
      }
    },
  }
}

/** Every regular file under `dir`, sorted by path (symbolic links are not followed). */
export async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = []
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true })
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) out.push({ path: p, size: (await stat(p)).size })
    }
  }
  try {
    await walk(dir)
  } catch (e) {
    throw new ValidationError(`cannot read the folder ${dir}: ${(e as Error).message}; pass an existing folder to --from-dir`, { cause: e, field: '--from-dir' })
  }
  return out.sort((a, b) => (relative(dir, a.path) < relative(dir, b.path) ? -1 : 1))
}

/** Reads a rule file or IOC list from `s3://BUCKET/KEY` (with `s3`) or a local path. */
export async function readTextLocation(location: string | ObjectLocation, s3?: S3Client): Promise<{ name: string; text: string }> {
  const loc = typeof location === 'string' ? (location.startsWith('s3://') ? parseS3Url(location) : undefined) : location
  if (typeof location === 'string' && location.startsWith('s3://') && !loc) {
    throw new ValidationError(`${location} is not an s3://BUCKET/KEY location`, { field: location })
  }
  if (!loc) {
    const path = location as string
    try {
      return { name: path, text: await readFile(path, 'utf8') }
    } catch (e) {
      throw new ValidationError(`cannot read ${path}: ${(e as Error).message}; check the path`, { cause: e, field: path })
    }
  }
  const name = `s3://${loc.bucket}/${loc.key}`
  if (!s3) throw new ValidationError(`${name}: no S3 client to read it with`, { field: name })
  try {
    const out = await withRetry(`GetObject ${name}`, () => s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key })))
    return { name, text: await (out.Body as { transformToString(): Promise<string> }).transformToString() }
  } catch (e) {
    if (isGone(e)) throw new ValidationError(`${name} does not exist: upload the rule file / IOC list or fix inspection.rules / inspection.iocs`, { cause: e, field: name })
    throw new StorageError(`cannot read ${name}: ${(e as Error).message}; check the inspector may s3:GetObject it`, { cause: e })
  }
}
