import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/** Lowercase hex SHA-256, as `sha256sum` prints it. */
export function sha256Hex(data: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Hex digest to the base64 form S3 checksum headers use. */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64')
}

/** Base64 S3 checksum to lowercase hex. */
export function base64ToHex(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex')
}

/** True when `s` is a lowercase hex SHA-256. */
export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s)
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256')
  #bytes = 0
  #digest?: string

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk)
    this.#bytes += chunk.length
    cb(null, chunk)
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes
  }

  /** Hex SHA-256 of everything seen; call once the stream has ended. */
  digestHex(): string {
    this.#digest ??= this.#hash.digest('hex')
    return this.#digest
  }
}
