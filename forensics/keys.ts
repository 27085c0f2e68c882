/**
 * The evidence bucket's key layout (DESIGN.md "Evidence bucket layout and formats") and
 * the validation of everything that becomes part of a key.
 *
 *   cases/<caseId>/captures/<captureId>/artifacts/<path>
 *   cases/<caseId>/captures/<captureId>/manifest.json        (commit point)
 *   cases/<caseId>/captures/<captureId>/manifest.json.sig    (ECDSA signature, DER)
 *   cases/<caseId>/custody/<seq, 8 digits>.json
 *   drills/<drillId>/report.json
 */
import { sha256Hex } from './hash.js'
import { ValidationError } from './errors.js'

const CASE_ID = /^[A-Za-z0-9._-]{1,64}$/

/** Throws a {@link ValidationError} unless `caseId` matches `[A-Za-z0-9._-]{1,64}`. */
export function validateCaseId(caseId: unknown): string {
  if (typeof caseId !== 'string' || !CASE_ID.test(caseId) || caseId === '.' || caseId === '..') {
    // never String() an arbitrary value: an object without a prototype cannot be converted
    const shown = typeof caseId === 'string' ? JSON.stringify(caseId.slice(0, 80)) : `of type ${caseId === null ? 'null' : Array.isArray(caseId) ? 'array' : typeof caseId}`
    throw new ValidationError(`invalid case id ${shown}: use 1-64 characters from A-Z a-z 0-9 . _ - (not "." or "..")`, { field: 'caseId' })
  }
  return caseId
}

const COLLECTOR = /^[a-z0-9][a-z0-9-]{0,40}$/

/**
 * The capture id for (collector, triggering event id): deterministic, so a redelivered
 * event finds the capture it already committed.
 */
export function deriveCaptureId(collector: string, eventId: string): string {
  if (!COLLECTOR.test(collector)) throw new ValidationError(`invalid collector name ${JSON.stringify(collector)}`, { field: 'collector' })
  if (typeof eventId !== 'string' || eventId.length === 0) throw new ValidationError('a capture needs a triggering event id', { field: 'trigger.id' })
  return `${collector}-${sha256Hex(`${collector}\n${eventId}`).slice(0, 20)}`
}

const CAPTURE_ID = /^[a-z0-9][a-z0-9-]{0,40}-[0-9a-f]{20}$/

/** Throws unless `captureId` has the shape {@link deriveCaptureId} produces. */
export function validateCaptureId(captureId: unknown): string {
  if (typeof captureId !== 'string' || !CAPTURE_ID.test(captureId)) {
    throw new ValidationError(`invalid capture id ${JSON.stringify(String(captureId).slice(0, 80))}`, { field: 'captureId' })
  }
  return captureId
}

/**
 * Checks an artifact path chosen by a collector: relative, `/`-separated, no empty, `.`
 * or `..` segments, no NUL or control characters, at most 512 bytes. Collectors that
 * derive paths from foreign data (object keys) encode them with {@link encodeKeySegment}.
 */
export function validateArtifactPath(path: unknown): string {
  const bad = (why: string): never => {
    throw new ValidationError(`unsafe artifact path ${JSON.stringify(String(path).slice(0, 120))}: ${why}`, { field: 'path' })
  }
  if (typeof path !== 'string' || path.length === 0) return bad('empty')
  if (Buffer.byteLength(path) > 512) bad('longer than 512 bytes')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(path)) bad('control character or backslash')
  if (path.startsWith('/')) bad('absolute')
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') bad(`segment ${JSON.stringify(seg)}`)
  }
  return path
}

/**
 * Encodes arbitrary text (an S3 object key, a version id) as one safe path segment:
 * percent-encoding of everything outside `A-Za-z0-9_-` and a leading dot; segments over
 * 180 bytes keep a readable prefix plus a hash of the whole, so distinct inputs stay
 * distinct. The original value is always recorded next to the path.
 */
export function encodeKeySegment(text: string): string {
  let enc = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    enc += /[A-Za-z0-9_-]/.test(c) || (c === '.' && enc.length > 0) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  if (enc.length === 0) enc = '%00empty'
  if (enc.length > 180) enc = `${enc.slice(0, 100).replace(/%[0-9A-F]?$/, '')}~${sha256Hex(text).slice(0, 32)}`
  return enc
}

/** Prefix of one case. */
export const casePrefix = (caseId: string): string => `cases/${validateCaseId(caseId)}/`
/** Prefix of one capture. */
export const capturePrefix = (caseId: string, captureId: string): string => `${casePrefix(caseId)}captures/${validateCaptureId(captureId)}/`
/** Key of an artifact. */
export const artifactKey = (caseId: string, captureId: string, path: string): string => `${capturePrefix(caseId, captureId)}artifacts/${validateArtifactPath(path)}`
/** Key of a capture's manifest (its commit point). */
export const manifestKey = (caseId: string, captureId: string): string => `${capturePrefix(caseId, captureId)}manifest.json`
/** Key of a manifest's detached signature. */
export const manifestSignatureKey = (caseId: string, captureId: string): string => `${manifestKey(caseId, captureId)}.sig`
/** Prefix of a case's custody chain. */
export const custodyPrefix = (caseId: string): string => `${casePrefix(caseId)}custody/`
/** Key of custody entry `seq`. */
export const custodyKey = (caseId: string, seq: number): string => `${custodyPrefix(caseId)}${String(seq).padStart(8, '0')}.json`
/** Key of a drill report. */
export const drillReportKey = (drillId: string): string => `drills/${validateCaseId(drillId)}/report.json`

/** Parses a custody key back into its sequence number (undefined when not one). */
export function custodySeqFromKey(key: string): number | undefined {
  const m = /\/custody\/(\d{8})\.json$/.exec(key)
  return m ? Number(m[1]) : undefined
}
