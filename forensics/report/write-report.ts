/**
 * `forensics report CASE`: writes the case's report.html without building a bundle. It is
 * planned exactly as a bundle's (same case state, same signature checks, same inputs), so
 * the page is byte-identical to the report.html in a bundle of the same case state.
 * Nothing is appended to the custody chain: reading evidence is not handling it.
 */
import { randomBytes } from 'node:crypto'
import { access, rename, unlink, writeFile } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import { StorageError, ValidationError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import type { Signer } from '../signer.js'
import { MEMBER } from '../bundle/bundle-layout.js'
import { planBundle } from '../bundle/plan-bundle.js'
import { readSignedCaseState } from '../bundle/read-case-state.js'

/** Options of {@link writeCaseReport}. */
export interface WriteCaseReportOptions {
  store: EvidenceStore
  /** its public key must verify every manifest (as for a bundle) */
  signer: Signer
  caseId: string
  /** only these captures (default: every committed capture of the case) */
  captureIds?: readonly string[]
  /** a file (written to a temp file, renamed when complete) or a stream */
  output: { path: string; overwrite?: boolean } | { stream: Writable }
}

/** What was written, in numbers. */
export interface CaseReportResult {
  caseId: string
  path?: string
  sha256: string
  size: number
  captureIds: string[]
  /** CloudTrail events in the slices, and how many the page shows */
  events: { total: number; shown: number }
  /** findings by severity */
  findings: Record<string, number>
  containment: number
  custody: { entries: number; head: { seq: number; hash: string } | null; valid: boolean }
  signatures: { verified: number; total: number }
  signingKey: { fingerprint: string; keyId: string }
}

async function writeTo(stream: Writable, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.write(bytes, (e) => (e ? reject(new StorageError(`cannot write the report to the output stream: ${e.message}`, { cause: e })) : resolve()))
  })
}

/**
 * Writes report.html of a case. Refuses an existing output file unless `overwrite`
 * (before reading anything); throws an IntegrityError naming the object when a manifest
 * does not verify or a slice does not match its manifest, and then writes nothing.
 */
export async function writeCaseReport(opts: WriteCaseReportOptions): Promise<CaseReportResult> {
  const target = 'path' in opts.output ? opts.output : undefined
  if (target && !target.overwrite) {
    const exists = await access(target.path).then(
      () => true,
      () => false,
    )
    if (exists) throw new ValidationError(`${target.path} already exists: choose another -o file or pass --force to replace it`, { field: 'output' })
  }
  const { state, publicKeyPem, reportInputs } = await readSignedCaseState(opts.store, opts.signer, opts.caseId, opts.captureIds)
  const plan = planBundle(state, publicKeyPem, opts.signer.keyId, reportInputs)
  const member = plan.members.find((m) => m.path === MEMBER.html)
  const bytes = member?.kind === 'document' ? member.bytes : Buffer.alloc(0)

  if (target) {
    const temp = `${target.path}.partial-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      await writeFile(temp, bytes, { flag: 'wx' })
      await rename(temp, target.path)
    } catch (e) {
      await unlink(temp).catch(() => undefined)
      throw new StorageError(`cannot write the report to ${target.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e })
    }
  } else {
    await writeTo((opts.output as { stream: Writable }).stream, bytes)
  }

  const model = plan.report
  return {
    caseId: state.caseId,
    path: target?.path,
    sha256: sha256Hex(bytes),
    size: bytes.length,
    captureIds: state.captures.map((c) => c.captureId),
    events: { total: model.events.total, shown: model.events.shown },
    findings: Object.fromEntries(model.findings.map((g) => [g.severity, g.items.length])),
    containment: model.containment.length,
    custody: { entries: model.custody.length, head: plan.index.custodyHead ? { seq: plan.index.custodyHead.seq, hash: plan.index.custodyHead.hash } : null, valid: model.chainFindings.length === 0 },
    signatures: { verified: model.captures.filter((c) => c.signature === 'verified').length, total: model.captures.length },
    signingKey: { fingerprint: plan.index.publicKey.fingerprint, keyId: opts.signer.keyId },
  }
}
