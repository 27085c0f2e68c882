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
 * the record has an escape that can write one of the group's characters (`\u0041` any,
 * `\/` a slash, `\"` a quote, ...), the record's text is searched again with every escape
 * decoded — backslashes only occur inside strings in JSON — so an escaped value cannot hide
 * a match. A record whose escapes cannot write a needle's character (the `\"` and `\\` of a
 * user agent, for an access key) is ruled out without decoding; like any other syntax
 * error in a record ruled out, a bad escape in it then goes unreported.
 */

/** UTF-8 of U+FFFD, what invalid bytes and lone surrogates become once decoded */
const REPLACEMENT = Buffer.from('\uFFFD')
/** A JSON escape, or a backslash that starts none (a bad escape) */
const ESCAPE = /\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))|\\/g
const SHORT: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
/** The short escape that writes each character, by the character */
const SHORT_OF = new Map(Object.entries(SHORT).map(([letter, ch]) => [ch, letter]))

/**
 * A byte string searched for in the records of one buffer, front to back: where it occurs
 * next is remembered, so scanning a chunk's records costs one pass over the chunk per
 * needle, however many records the chunk holds.
 */
class Cursor {
  /** position of the next occurrence at or after `from`, or -1 for none; valid for `buf` */
  private at = -1
  private from = 0
  private buf: Buffer | undefined

  constructor(readonly bytes: Buffer) {}

  /** True when the bytes occur within `buf[start, end)`. */
  within(buf: Buffer, start: number, end: number): boolean {
    if (buf !== this.buf || start < this.from || (this.at >= 0 && this.at < start)) {
      this.buf = buf
      this.from = start
      this.at = buf.indexOf(this.bytes, start)
    }
    return this.at >= 0 && this.at + this.bytes.length <= end
  }
}

/** True when one of the cursors' byte strings occurs within `buf[start, end)` (a loop: this runs per record). */
function anyWithin(cursors: readonly Cursor[], buf: Buffer, start: number, end: number): boolean {
  for (let k = 0; k < cursors.length; k++) if (cursors[k].within(buf, start, end)) return true
  return false
}

/** One literal value to look for: its bytes (searched by its cursor) and its text. */
class Needle extends Cursor {
  constructor(
    bytes: Buffer,
    readonly text: string,
  ) {
    super(bytes)
  }
}

/** A needle group: the record must hold one of its needles. */
interface Group {
  needles: Needle[]
  /**
   * The two-byte escapes that can write a character of a needle (`\u` always, `\/` for a
   * needle with `/`, ...): a record holding none of them holds every needle verbatim or not
   * at all, so its text need not be decoded.
   */
  escapes: Cursor[]
}

/** A compiled prefilter: test a record's raw bytes with {@link Prefilter.mayMatch}. */
export class Prefilter {
  readonly #groups: Group[]

  /**
   * @param groups the compiled filter's needles (`CompiledFilter.needles`). A group with a
   * needle that holds U+FFFD is not used: invalid UTF-8 in a record decodes to U+FFFD, so
   * no byte search can rule such a value out.
   */
  constructor(groups: readonly (readonly Buffer[])[]) {
    this.#groups = groups
      .filter((g) => g.length > 0 && g.every((n) => n.length > 0 && n.indexOf(REPLACEMENT) < 0))
      .map((g) => {
        const texts = g.map((bytes) => bytes.toString('utf8'))
        const letters = new Set(['u'])
        for (const ch of texts.join('')) {
          const letter = SHORT_OF.get(ch)
          if (letter) letters.add(letter)
        }
        return {
          needles: g.map((bytes, k) => new Needle(bytes, texts[k])),
          escapes: [...letters].map((l) => new Cursor(Buffer.from(`\\${l}`))),
        }
      })
  }

  /** True when the prefilter rules nothing out (no usable needles). */
  get passesEverything(): boolean {
    return this.#groups.length === 0
  }

  /**
   * False only when the record `buf[start, end)` cannot match the filter the needles came
   * from. Records of one buffer are cheapest tested in order (see Cursor). Where needles
   * occur in `buf` is remembered by the Buffer object, so its bytes must not change while
   * its records are tested (decompressed chunks are never rewritten in place).
   */
  mayMatch(buf: Buffer, start = 0, end = buf.length): boolean {
    let decoded: string | null | undefined
    for (const group of this.#groups) {
      if (anyWithin(group.needles, buf, start, end)) continue
      // not verbatim: only an escaped token can still hold a needle
      if (!anyWithin(group.escapes, buf, start, end)) return false
      if (decoded === undefined) decoded = decodeEscapes(buf.subarray(start, end))
      // a bad escape: the full parse decides, and reports the record
      if (decoded === null) return true
      const text = decoded
      if (!group.needles.some((n) => text.includes(n.text))) return false
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
