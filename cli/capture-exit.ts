/**
 * The exit code of every capture command, from the committed manifest (README "Exit
 * codes"): one rule for all capture kinds, so a partial capture exits the same everywhere.
 */
import type { Manifest } from '../forensics/manifest.js'
import { ExitCode } from './command.js'

/** Digest findings that prove tampering or forgery (the capture is committed, the evidence is suspect). */
const FAILED_FINDINGS = new Set(['cloudtrail-digest-hash-mismatch', 'cloudtrail-digest-signature-invalid', 'cloudtrail-digest-not-covered'])
/** Errors of the digest chain that mean the same. */
const FAILED_ERRORS = new Set(['previous-digest-missing', 'previous-digest-hash-mismatch', 'previous-signature-mismatch'])

/** Options that tighten the rule. */
export interface CaptureExitOptions {
  /** `--require-valid-digests`: an `unverified` capture exits 1 too */
  requireValidDigests?: boolean
}

/**
 * 1 when the capture proves tampering (or is unverified under `--require-valid-digests`);
 * 3 when it is `partial` (committed, but something could not be captured); 0 when complete
 * (or `unverified` without the flag).
 */
export function captureExitCode(manifest: Pick<Manifest, 'status' | 'findings' | 'errors'>, opts: CaptureExitOptions = {}): number {
  if (manifest.findings.some((f) => FAILED_FINDINGS.has(f.type)) || manifest.errors.some((e) => FAILED_ERRORS.has(e.code))) return ExitCode.failed
  if (manifest.status === 'unverified' && opts.requireValidDigests) return ExitCode.failed
  if (manifest.status === 'partial') return ExitCode.io
  return ExitCode.ok
}
