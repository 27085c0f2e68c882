/**
 * The raw-byte prefilter of a CloudTrail scan: decides from a record's bytes, before any
 * JSON.parse, whether the record can possibly pass the filter. Only records it lets
 * through are parsed and judged by the full filter, so it must never drop a record that
 * matches; it may let through records that do not (the filter drops those).
 *
 * The needles are the compiled filter's literal values, in groups: a record can only match
 * when, for every group, one needle occurs in one of its JSON string tokens (a needle may
 * carry the token's quotes, as `"errorCode"` does). A string token without a backslash holds
 * its value verbatim in UTF-8, so a plain byte search finds it. When that search fails and
 * the record has escapes (`\u0041`, `\/`, `\"`), the record's text is searched again with
 * every escape decoded — backslashes only occur inside strings in JSON — so an escaped
 * value cannot hide a match.
 */

const BACKSLASH = 0x5c
/** UTF-8 of U+FFFD, what invalid bytes and lone surrogates become once decoded */
const REPLACEMENT = Buffer.from('\uFFFD')
/** A JSON escape, or a backslash that starts none (a bad escape) */
const ESCAPE = /\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))|\\/g
const SHORT: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }

/** One literal value to look for: its UTF-8 bytes and its text. */
interface Needle {
  bytes: Buffer
  text: string
}

/** A compiled prefilter: test a record's raw bytes with {@link Prefilter.mayMatch}. */
export class Prefilter {
  readonly #groups: Needle[][]

  /**
   * @param groups the compiled filter's needles (`CompiledFilter.needles`). A group with a
   * needle that holds U+FFFD is not used: invalid UTF-8 in a record decodes to U+FFFD, so
   * no byte search can rule such a value out.
   */
  constructor(groups: readonly (readonly Buffer[])[]) {
    this.#groups = groups
      .filter((g) => g.length > 0 && g.every((n) => n.length > 0 && n.indexOf(REPLACEMENT) < 0))
      .map((g) => g.map((bytes) => ({ bytes, text: bytes.toString('utf8') })))
  }

  /** True when the prefilter rules nothing out (no usable needles). */
  get passesEverything(): boolean {
    return this.#groups.length === 0
  }

  /** False only when the record cannot match the filter the needles came from. */
  mayMatch(raw: Buffer): boolean {
    let decoded: string | null | undefined
    for (const group of this.#groups) {
      if (group.some((n) => raw.indexOf(n.bytes) >= 0)) continue
      // not verbatim: only an escaped token can still hold a needle
      if (raw.indexOf(BACKSLASH) < 0) return false
      if (decoded === undefined) decoded = decodeEscapes(raw)
      // a bad escape: the full parse decides, and reports the record
      if (decoded === null) return true
      const text = decoded
      if (!group.some((n) => text.includes(n.text))) return false
    }
    return true
  }
}

/**
 * The record's text with every escape decoded (each string token's value, verbatim, between
 * its quotes); null when a backslash starts no valid escape.
 */
export function decodeEscapes(raw: Buffer): string | null {
  let bad = false
  const text = raw.toString('utf8').replace(ESCAPE, (_m, hex: string | undefined, short: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16))
    if (short !== undefined) return SHORT[short]
    bad = true
    return ''
  })
  return bad ? null : text
}
