/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme). Object members are sorted by
 * their UTF-16 code units, numbers use ECMAScript's shortest round-trip form and strings
 * JSON.stringify's escaping, which is exactly what JCS prescribes. Every hash the toolkit
 * computes over a structured document is over these bytes, so anyone with a JCS library
 * can recompute it.
 */
import { ValidationError } from './errors.js'

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new ValidationError(`canonical JSON cannot encode ${value} at ${path}`)
      return JSON.stringify(value)
    case 'string':
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v, i) => serialize(v === undefined ? null : v, `${path}[${i}]`)).join(',') + ']'
      if (value instanceof Date) return JSON.stringify(value.toISOString())
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        // JCS sorts by UTF-16 code units: the default string comparison does exactly that
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + serialize(v, `${path}.${k}`)).join(',') + '}'
    }
    default:
      throw new ValidationError(`canonical JSON cannot encode a ${typeof value} at ${path}`)
  }
}

/** The RFC 8785 canonical form of a JSON value. `undefined` members are omitted. */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$')
}

/** UTF-8 bytes of {@link canonicalJson}. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8')
}
