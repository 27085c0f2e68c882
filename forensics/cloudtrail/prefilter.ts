/**
 * The raw-byte prefilter of a CloudTrail scan: decides from a record's bytes, before any
 * JSON.parse, whether the record can possibly pass the filter. Only records it lets
 * through are parsed and judged by the full filter, so it must never drop a record that
 * matches; it may let through records that do not (the filter drops those).
 *
 * The needles are the compiled filter's literal values, in groups: a record can only match
 * when, for every group, one needle occurs in one of its JSON string tokens (a needle
 * written `"x"`, with quotes, also stands for a token that is exactly `x`). A string token
 * without a backslash holds its value verbatim in UTF-8, so a plain byte search finds it.
 * A token with escapes (`\u0041`, `\/`, `\"`) is decoded first — only those tokens, and
 * only when the plain search has failed — so an escaped value cannot hide a match.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
/** UTF-8 of U+FFFD, what invalid bytes and lone surrogates become once decoded */
const REPLACEMENT = Buffer.from('\uFFFD')

/** One literal value to look for. */
interface Needle {
  bytes: Buffer
  /** the value as text, compared with decoded (escaped) tokens */
  text: string
  /** for a needle written `"x"`: `x`, which a decoded token may also equal */
  exact?: string
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
      .map((g) =>
        g.map((bytes) => {
          const text = bytes.toString('utf8')
          // `"x"` may be a key written with its quotes or a value holding quotes: both count
          const quoted = text.length >= 2 && text.startsWith('"') && text.endsWith('"')
          return { bytes, text, ...(quoted ? { exact: text.slice(1, -1) } : {}) }
        }),
      )
  }

  /** True when the prefilter rules nothing out (no usable needles). */
  get passesEverything(): boolean {
    return this.#groups.length === 0
  }

  /** False only when the record cannot match the filter the needles came from. */
  mayMatch(raw: Buffer): boolean {
    let decoded: string[] | undefined | null
    for (const group of this.#groups) {
      if (group.some((n) => raw.indexOf(n.bytes) >= 0)) continue
      // not verbatim: only an escaped token can still hold a needle
      if (decoded === undefined) decoded = raw.indexOf(BACKSLASH) < 0 ? [] : escapedTokens(raw)
      if (decoded === null) return true
      if (!group.some((n) => decoded!.some((s) => s === n.exact || s.includes(n.text)))) return false
    }
    return true
  }
}

/**
 * The decoded values of the string tokens that contain escapes; null when the bytes are not
 * well-formed enough to tell (the full parse then decides, and reports the record).
 */
export function escapedTokens(raw: Buffer): string[] | null {
  const out: string[] = []
  let i = raw.indexOf(QUOTE)
  while (i >= 0) {
    // find the closing quote: one not preceded by an odd run of backslashes
    let end = raw.indexOf(QUOTE, i + 1)
    for (;;) {
      if (end < 0) return null
      let run = 0
      while (raw[end - 1 - run] === BACKSLASH) run++
      if (run % 2 === 0) break
      end = raw.indexOf(QUOTE, end + 1)
    }
    if (raw.subarray(i + 1, end).indexOf(BACKSLASH) >= 0) {
      try {
        out.push(JSON.parse(raw.toString('utf8', i, end + 1)) as string)
      } catch {
        return null
      }
    }
    i = raw.indexOf(QUOTE, end + 1)
  }
  return out
}
