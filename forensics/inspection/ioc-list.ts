/**
 * Hash IOC lists: text files with one SHA-256 per line (as `sha256sum` prints it: the
 * hash may be followed by whitespace and a file name, which is ignored), blank lines and
 * `#` comments allowed. Any other line refuses the whole list, naming file and line.
 */
import { ValidationError } from '../errors.js'

/** A named IOC list's text. */
export interface IocSource {
  name: string
  text: string
}

/** The hashes of every list, each pointing back to the list it came from. */
export type IocIndex = ReadonlyMap<string, string>

/** Parses IOC lists into one index (hash → list name); throws on the first bad line. */
export function parseIocLists(sources: readonly IocSource[]): IocIndex {
  const index = new Map<string, string>()
  for (const s of sources) {
    s.text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) return
      const m = /^([0-9a-fA-F]{64})(\s+.*)?$/.exec(line)
      if (!m) {
        throw new ValidationError(`IOC list ${s.name} line ${i + 1} is not a SHA-256: ${JSON.stringify(line.slice(0, 80))}; each line must be 64 hex digits (optionally followed by a name), blank or a # comment`, { field: s.name })
      }
      const hash = m[1].toLowerCase()
      if (!index.has(hash)) index.set(hash, s.name)
    })
  }
  return index
}
