import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms'
import { LocalSigner, KmsSigner, verifyDigestSignature, publicKeyFingerprint } from '../forensics/signer.js'
import { sha256Hex } from '../forensics/hash.js'
import { useEmulator } from './fixtures/emulator.js'

const dir = mkdtempSync(join(tmpdir(), 'signer-'))

/** Verifies with the openssl binary the way the README tells investigators to. */
function opensslVerifies(pem: string, digestHex: string, sig: Buffer): boolean {
  const pemFile = join(dir, 'pub.pem')
  const sigFile = join(dir, 'sig.der')
  const msgFile = join(dir, 'msg')
  writeFileSync(pemFile, pem)
  writeFileSync(sigFile, sig)
  writeFileSync(msgFile, digestHex)
  try {
    return execFileSync('openssl', ['dgst', '-sha256', '-verify', pemFile, '-signature', sigFile, msgFile], { encoding: 'utf8' }).includes('Verified OK')
  } catch {
    return false
  }
}

t.test('local signer: creates a P-256 key once, signatures verify with openssl', async (t) => {
  const path = join(dir, 'k', 'signing-key.pem')
  const first = LocalSigner.fromFile(path, { create: true })
  t.ok(first.created)
  const again = LocalSigner.fromFile(path, { create: true })
  t.notOk(again.created)
  t.equal(again.signer.keyId, first.signer.keyId)
  t.match(first.signer.keyId, /^local:[0-9a-f]{16}$/)
  const digest = sha256Hex('manifest bytes')
  const sig = await first.signer.signDigest(digest)
  const pem = await first.signer.publicKeyPem()
  t.ok(verifyDigestSignature(pem, digest, sig))
  t.ok(opensslVerifies(pem, digest, sig), 'openssl dgst -verify accepts it')
  t.notOk(verifyDigestSignature(pem, sha256Hex('other'), sig), 'other digest')
  t.notOk(opensslVerifies(pem, sha256Hex('other'), sig))
  t.notOk(verifyDigestSignature(pem, digest, Buffer.from('garbage')), 'garbage signature')
  t.equal(publicKeyFingerprint(pem), first.signer.keyId.slice(6))
  await t.rejects(first.signer.signDigest('not-a-digest'), { name: 'ValidationError' })
})

t.test('local signer refuses missing files and other key types', async (t) => {
  t.throws(() => LocalSigner.fromFile(join(dir, 'missing.pem')), { name: 'ValidationError', message: /openssl ecparam/ })
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  t.throws(() => new LocalSigner(rsa), { name: 'ValidationError', message: /P-256/ })
})

t.test('KMS signer (ECC_NIST_P256 on the emulator) verifies with openssl', async (t) => {
  const emulator = await useEmulator(t)
  const kms = new KMSClient(emulator.clientConfig())
  t.teardown(() => kms.destroy())
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
  const signer = new KmsSigner(kms, key.KeyMetadata!.KeyId!)
  const digest = sha256Hex(readFileSync(new URL(import.meta.url)))
  const sig = await signer.signDigest(digest)
  const pem = await signer.publicKeyPem()
  t.match(pem, /BEGIN PUBLIC KEY/)
  t.equal(await signer.publicKeyPem(), pem, 'cached')
  t.ok(verifyDigestSignature(pem, digest, sig))
  t.ok(opensslVerifies(pem, digest, sig), 'openssl dgst -verify accepts a KMS signature')
  const missing = new KmsSigner(kms, 'alias/does-not-exist')
  await t.rejects(missing.signDigest(digest), { name: 'StorageError', message: /alias\/does-not-exist/ })
  await t.rejects(missing.publicKeyPem(), { name: 'StorageError' })
})
