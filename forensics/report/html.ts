/**
 * Safe HTML building for the case report. Every value interpolated into {@link html} is
 * text unless it is already {@link Html}: escaping is the default, so a string from the
 * evidence (an object key, a user name, policy text, a CloudTrail field) can only ever
 * become text in the page, never markup, an attribute break-out or a script.
 *
 * Characters that change how text *looks* without being visible (bidi overrides such as
 * U+202E, zero-width characters, C0/C1 controls) are shown as a visible `⟨U+202E⟩` marker
 * instead: a key named `invoice\u202Etxt.exe` must not display as `invoiceexe.txt`.
 */

/** A fragment of markup built by {@link html} (or a trusted constant). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** What {@link html} accepts as an interpolated value. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[]

// bidi embeddings/overrides/isolates and marks, zero-width characters, line/paragraph
// separators, the BOM, C0 controls but tab and newline, DEL and C1 controls
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for an element body or a quoted attribute value. */
export function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITY[c])
}

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`

/**
 * Text as markup: escaped, with every invisible or direction-changing character replaced
 * by a visible marker (so what the investigator reads is what the bytes say).
 */
export function text(value: string): Html {
  let out = ''
  let last = 0
  for (const m of value.matchAll(INVISIBLE)) {
    out += escapeText(value.slice(last, m.index)) + `<span class="ctl" title="invisible character ${codePoint(m[0])}">⟨${codePoint(m[0])}⟩</span>`
    last = m.index + m[0].length
  }
  return new Html(out + escapeText(value.slice(last)))
}

/** Text for a double-quoted attribute value: escaped, invisible characters as plain `⟨U+…⟩`. */
export function attributeText(value: string): string {
  return escapeText(value.replace(INVISIBLE, (c) => `⟨${codePoint(c)}⟩`))
}

function render(v: HtmlValue): string {
  if (v instanceof Html) return v.value
  if (Array.isArray(v)) return v.map(render).join('')
  if (v === null || v === undefined || v === false) return ''
  return text(String(v)).value
}

function renderAttribute(v: HtmlValue): string {
  if (v instanceof Html || Array.isArray(v)) throw new TypeError('markup cannot go into an attribute value')
  return v === null || v === undefined || v === false ? '' : attributeText(String(v))
}

/** Whether a literal part leaves us inside a double-quoted attribute value. */
function endsInAttribute(literal: string, inside: boolean): boolean {
  for (let i = 0; i < literal.length; i++) {
    if (inside) inside = literal[i] !== '"'
    else if (literal[i] === '"' && literal[i - 1] === '=') inside = true
  }
  return inside
}

/**
 * Tagged template: literal parts are markup, interpolated values are text (or Html).
 * A value inside a double-quoted attribute (`title="${v}"`) is attribute text: plain
 * markers for invisible characters, and markup there is refused.
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]
  let inAttribute = endsInAttribute(strings[0], false)
  for (let i = 0; i < values.length; i++) {
    out += (inAttribute ? renderAttribute(values[i]) : render(values[i])) + strings[i + 1]
    inAttribute = endsInAttribute(strings[i + 1], inAttribute)
  }
  return new Html(out)
}

/**
 * A relative link to a member of the unpacked bundle. Only member paths under the
 * bundle's own folders get a link (member names are safe ASCII already); each segment is
 * percent-encoded so `%41` in a file name stays a literal `%41`. Anything else gets no
 * link at all, so no value can become a `javascript:` or remote URL.
 */
export function memberHref(memberPath: string): string | undefined {
  if (!/^(artifacts|manifests|custody)\/[A-Za-z0-9._%~/-]+$/.test(memberPath) || memberPath.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined
  return memberPath.split('/').map(encodeURIComponent).join('/')
}

/** Shortens a string for a table cell (the full value goes into the page elsewhere or the bundle). */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s
  // never cut a surrogate pair in half (that would print U+FFFD)
  const end = /[\ud800-\udbff]/.test(s[max - 2]) ? max - 2 : max - 1
  return `${s.slice(0, end)}…`
}

/** Any JSON value as compact one-line text (strings stay as they are). */
export function asText(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return v
  return JSON.stringify(v) ?? ''
}
