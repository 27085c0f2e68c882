/**
 * The text of a matched record as it was delivered: the bytes the log file (or the
 * `CloudTrailEvent` string of LookupEvents) held, never a re-serialization, so numbers such
 * as `1.688560107857E9` or integers above 2^53, unicode escapes and key order stay exactly
 * as CloudTrail wrote them.
 */

/**
 * The record's own bytes as one line of text. A record spread over several lines (a
 * pretty-printed file) can only hold line breaks between tokens, since JSON strings cannot
 * contain raw ones: those whitespace bytes become spaces so the record fits a JSON line.
 * Every token, and so every value, keeps its bytes.
 */
export function recordLine(raw: string): string {
  return /[\r\n]/.test(raw) ? raw.replace(/[\r\n]/g, ' ') : raw
}
