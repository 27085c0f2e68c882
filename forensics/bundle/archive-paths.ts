/**
 * Portable archive paths for artifact paths and object keys that came from elsewhere.
 *
 * An S3 key (and so an artifact path derived from one) may be `../../etc/passwd`, `/abs`,
 * `C:\x`, `CON`, a thousand characters long, or full of look-alike unicode. Inside a
 * bundle every such name becomes a path that unpacks to a file under the output directory
 * on Linux, macOS and Windows alike:
 *
 * - `/` and `\` both separate segments; every byte outside `A-Za-z0-9._-` is
 *   percent-encoded (`%XX`) — except a `%XX` escape already in the name (object keys come
 *   percent-encoded once from keys.ts; encoding them again would give `%252F`) — so paths are plain ASCII (no normalisation surprises, no
 *   bidi tricks, no shell metacharacters) and `sha256sum -c` reads them verbatim;
 * - a leading or trailing dot is encoded (`.`, `..`, hidden files, Windows' dropped
 *   trailing dots); an empty segment becomes `_`;
 * - Windows device names (`CON`, `nul.txt`, `COM1`, ...) get a `_` prefix;
 * - segments longer than {@link MAX_SEGMENT} and paths longer than {@link MAX_PATH} keep a
 *   readable prefix plus a hash of the original;
 * - finally names are made unique, ignoring case (case-insensitive file systems) and
 *   file/directory clashes (`a` and `a/b`), by a `~<hash>` suffix.
 *
 * The original key always stays in `bundle.json`; the mapping is a pure function of the
 * set of names, so the verifier recomputes it from the signed manifests.
 */
import { sha256Hex } from '../hash.js'

/** Longest encoded segment kept as is. */
export const MAX_SEGMENT = 100
/** Longest encoded relative path kept as is. */
export const MAX_PATH = 150

const DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i
const SAFE_BYTE = /[A-Za-z0-9._-]/

const HEX = /^[0-9A-F]{2}$/

function encodeSegment(segment: string): string {
  let out = ''
  const bytes = Buffer.from(segment, 'utf8')
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i])
    // an escape already made (object keys in artifact paths are percent-encoded once by
    // keys.ts) is kept, so a name is encoded once: `reports%2Fq1.csv`, not `reports%252Fq1.csv`
    if (c === '%' && HEX.test(bytes.subarray(i + 1, i + 3).toString('latin1'))) {
      out += bytes.subarray(i, i + 3).toString('latin1')
      i += 2
    } else out += SAFE_BYTE.test(c) ? c : '%' + bytes[i].toString(16).toUpperCase().padStart(2, '0')
  }
  if (out === '') return '_'
  // a leading dot hides the file (and makes `.` / `..`); Windows drops trailing dots
  if (out.startsWith('.')) out = '%2E' + out.slice(1)
  if (out.endsWith('.')) out = out.slice(0, -1) + '%2E'
  if (DEVICE.test(out.split('.')[0])) out = '_' + out
  if (out.length > MAX_SEGMENT) out = `${cut(out, 60)}~${sha256Hex(segment).slice(0, 16)}`
  return out
}

/** Cuts an encoded string without splitting a `%XX` escape. */
function cut(encoded: string, max: number): string {
  return encoded.slice(0, max).replace(/%[0-9A-F]?$/, '')
}

/**
 * Encodes one name (artifact path or object key) as a safe relative path, before
 * de-duplication. Pure and total: any string gives a non-empty, portable path.
 */
export function encodeArchivePath(name: string): string {
  const joined = name.split(/[/\\]/).map(encodeSegment).join('/')
  if (joined.length <= MAX_PATH) return joined
  // `~` is always encoded inside segments, so `~long` cannot clash with a real name
  const last = joined.slice(joined.lastIndexOf('/') + 1)
  return `~long/${sha256Hex(name).slice(0, 32)}-${cut(last, 40)}`
}

function withSuffix(path: string, original: string, round: number): string {
  const suffix = `~${sha256Hex(round === 0 ? original : `${round}\n${original}`).slice(0, 12)}`
  const slash = path.lastIndexOf('/')
  const dir = path.slice(0, slash + 1)
  const base = path.slice(slash + 1)
  const dot = base.lastIndexOf('.')
  // keep a short extension visible: report.json -> report~1a2b3c4d5e6f.json
  if (dot > 0 && base.length - dot <= 10) return dir + base.slice(0, dot) + suffix + base.slice(dot)
  return dir + base + suffix
}

function dirsOf(path: string): string[] {
  const parts = path.split('/')
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'))
}

/**
 * Maps a set of names to unique safe relative paths. Names are processed in sorted
 * order, so the result depends only on the set. Two names never map to paths that are
 * equal ignoring case, and no path is also a directory of another.
 */
export function mapArchivePaths(names: Iterable<string>): Map<string, string> {
  // the Set makes names unique, so no two compare equal (code-unit order, branch-free)
  const sorted = [...new Set(names)].sort((a, b) => Number(a > b) - Number(a < b))
  const encoded = sorted.map((n) => [n, encodeArchivePath(n)] as const)
  // directories that encoded paths need: a file may not take one of these names
  const dirs = new Set<string>()
  for (const [, p] of encoded) for (const d of dirsOf(p)) dirs.add(d.toLowerCase())
  const files = new Set<string>()
  const out = new Map<string, string>()
  for (const [name, first] of encoded) {
    let path = first
    for (let round = 0; files.has(path.toLowerCase()) || dirs.has(path.toLowerCase()) || dirsOf(path).some((d) => files.has(d.toLowerCase())); round++) {
      path = withSuffix(first, name, round)
    }
    files.add(path.toLowerCase())
    for (const d of dirsOf(path)) dirs.add(d.toLowerCase())
    out.set(name, path)
  }
  return out
}

/**
 * True when a member name inside a bundle is safe to unpack: relative, `/`-separated,
 * no empty, `.` or `..` segments, printable ASCII without `\`, `:` and the characters
 * Windows forbids, and no device names. Every name the writer produces passes.
 */
export function isSafeMemberName(name: string): boolean {
  if (name.length === 0 || name.length > 255 || name.startsWith('/')) return false
  if (!/^[\x21-\x7e]+$/.test(name) || /[\\:*?"<>|]/.test(name)) return false
  return name.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.endsWith('.') && !DEVICE.test(s.split('.')[0]))
}
