/**
 * Signatures over evidence: ECDSA P-256 with SHA-256, by AWS KMS (`ECC_NIST_P256`,
 * `ECDSA_SHA_256`) or by a local key file. What is signed is always the ASCII text of a
 * lowercase hex SHA-256 (64 bytes) — of a manifest's exact bytes, or of a custody entry's
 * canonical form — sent to KMS as `MessageType: RAW`. So a signature verifies with plain
 * tools:
 *
 *   printf %s "$(sha256sum manifest.json | cut -c1-64)" \
 *     | openssl dgst -sha256 -verify public-key.pem -signature manifest.json.sig
 *
 * (RAW also sidesteps the emulator re-hashing `MessageType: DIGEST` messages.)
 */
import { createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { KMSClient } from '@aws-sdk/client-kms'
import { sha256Hex, isSha256Hex } from './hash.js'
import { StorageError, ValidationError } from './errors.js'

/** Signs hex digests; exports its public key as PEM. */
export interface Signer {
  /** Identifies the key (a KMS key ARN/alias, or `local:<fingerprint>`). */
  readonly keyId: string
  /** ECDSA signature (DER) over the ASCII bytes of `digestHex`. */
  signDigest(digestHex: string): Promise<Buffer>
  /** The public key, SPKI PEM. */
  publicKeyPem(): Promise<string>
}

/** The signature algorithm recorded next to every signature. */
export const SIGNATURE_ALGORITHM = 'ECDSA_SHA_256'

function assertDigest(digestHex: string): void {
  if (!isSha256Hex(digestHex)) throw new ValidationError(`only hex SHA-256 digests are signed, got ${JSON.stringify(String(digestHex).slice(0, 80))}`)
}

/** Verifies a DER ECDSA signature over the ASCII digest with a PEM public key. */
export function verifyDigestSignature(publicKeyPem: string | KeyObject, digestHex: string, signature: Buffer): boolean {
  try {
    const v = createVerify('sha256')
    v.update(Buffer.from(digestHex, 'ascii'))
    return v.verify(publicKeyPem, signature)
  } catch {
    return false
  }
}

/** Short fingerprint of a public key (PEM, or a parsed public key): hex SHA-256 of its DER SPKI, first 16 chars. */
export function publicKeyFingerprint(key: string | KeyObject): string {
  const parsed = typeof key === 'string' ? createPublicKey(key) : key
  return sha256Hex(parsed.export({ type: 'spki', format: 'der' })).slice(0, 16)
}

/** A P-256 key in a PEM file (PKCS#8), for offline and local use. */
export class LocalSigner implements Signer {
  readonly keyId: string
  readonly #key: KeyObject
  readonly #publicPem: string

  constructor(privateKeyPem: string) {
    this.#key = createPrivateKey(privateKeyPem)
    if (this.#key.asymmetricKeyType !== 'ec' || this.#key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new ValidationError('the local signing key must be an EC P-256 (prime256v1) private key in PEM')
    }
    this.#publicPem = createPublicKey(this.#key).export({ type: 'spki', format: 'pem' }).toString()
    this.keyId = `local:${publicKeyFingerprint(this.#publicPem)}`
  }

  /** Loads a key file; creates a new P-256 key there when `create` is set and it is missing. */
  static fromFile(path: string, opts: { create?: boolean } = {}): { signer: LocalSigner; created: boolean } {
    if (!existsSync(path)) {
      if (!opts.create) throw new ValidationError(`signing key file ${path} does not exist: create one with \`openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out ${path}\``, { field: 'FORENSICS_SIGNING_KEY' })
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
      return { signer: new LocalSigner(readFileSync(path, 'utf8')), created: true }
    }
    return { signer: new LocalSigner(readFileSync(path, 'utf8')), created: false }
  }

  async signDigest(digestHex: string): Promise<Buffer> {
    assertDigest(digestHex)
    const s = createSign('sha256')
    s.update(Buffer.from(digestHex, 'ascii'))
    return s.sign(this.#key)
  }

  async publicKeyPem(): Promise<string> {
    return this.#publicPem
  }
}

/**
 * The KMS commands, loaded on first use: verifying (offline, `forensics verify`) imports
 * this module but never KMS, and the client package costs its start-up time.
 */
const kmsCommands = (): Promise<typeof import('@aws-sdk/client-kms')> => import('@aws-sdk/client-kms')

/** An asymmetric KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`). */
export class KmsSigner implements Signer {
  readonly keyId: string
  readonly #kms: KMSClient
  #pem?: Promise<string>

  constructor(kms: KMSClient, keyId: string) {
    this.#kms = kms
    this.keyId = keyId
  }

  async signDigest(digestHex: string): Promise<Buffer> {
    assertDigest(digestHex)
    try {
      const { SignCommand } = await kmsCommands()
      const out = await this.#kms.send(
        new SignCommand({ KeyId: this.keyId, Message: Buffer.from(digestHex, 'ascii'), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }),
      )
      return Buffer.from(out.Signature!)
    } catch (e) {
      throw new StorageError(`KMS key ${this.keyId} could not sign: ${(e as Error).name}; check the key exists, is ECC_NIST_P256 SIGN_VERIFY and the role may kms:Sign`, { cause: e })
    }
  }

  publicKeyPem(): Promise<string> {
    this.#pem ??= kmsCommands().then(({ GetPublicKeyCommand }) => this.#kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }))).then(
      (out) => createPublicKey({ key: Buffer.from(out.PublicKey!), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString(),
      (e: unknown) => {
        this.#pem = undefined
        throw new StorageError(`cannot read the public key of KMS key ${this.keyId}: ${(e as Error).name}`, { cause: e })
      },
    )
    return this.#pem
  }
}
