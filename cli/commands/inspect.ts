/**
 * `forensics inspect s3://BUCKET/KEY … | --from-dir DIR  --rules FILE … --iocs FILE …`:
 * offline (or S3) triage with the inspector's engine. Each object is read once, hashed,
 * looked up in the IOC lists and scanned by the YARA rules within the time budget.
 *
 * Exit codes: 0 every object inspected and clean; 1 at least one hit (printed); 2 usage,
 * or a rule file / IOC list that does not load (nothing is inspected then); 3 no hit but
 * some object could not be inspected completely (too large, deleted, read or scan error).
 */
import { ExitCode, UsageError, type Command, type CommandIO } from '../command.js'
import { s3FromEnv } from '../context.js'
import { Inspector } from '../../forensics/inspection/inspector.js'
import { countVerdicts, type ObjectToInspect, type Verdict } from '../../forensics/inspection/inspect-object.js'
import { filesUnder, localFile, readTextLocation, s3Object } from '../../forensics/inspection/object-sources.js'
import { parseS3Url, MAX_OBJECT_BYTES_LIMIT } from '../../forensics/inspection/inspection-config.js'
import { matchNames } from '../../forensics/inspection/inspection-result.js'
import type { S3Client } from '@aws-sdk/client-s3'

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [])

function positiveInt(v: unknown, flag: string, fallback: number, max: number): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1 || n > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`)
  return n
}

/** The one-line human form of a verdict. */
export function verdictLine(v: Verdict): string {
  const sha = v.sha256 ? ` sha256=${v.sha256}` : ''
  if (v.verdict === 'hit') return `HIT (${v.severity}) ${v.object.name}${sha} ${matchNames(v).join(', ')}${v.reason ? ` [${v.reason}]` : ''}`
  if (v.verdict === 'clean') return `clean ${v.object.name}${sha}`
  return `${v.verdict} ${v.object.name}: ${v.reason}`
}

async function objectsToInspect(args: { positionals: string[]; dir?: string }, s3: () => S3Client): Promise<ObjectToInspect[]> {
  const out: ObjectToInspect[] = []
  for (const p of args.positionals) {
    const loc = parseS3Url(p)
    if (!loc) throw new UsageError(`${JSON.stringify(p)} is not s3://BUCKET/KEY; local files go through --from-dir DIR`)
    out.push(s3Object(s3(), loc.bucket, loc.key))
  }
  if (args.dir !== undefined) for (const f of await filesUnder(args.dir)) out.push(localFile(f.path, f.size))
  return out
}

function progressLine(io: CommandIO, done: number, total: number, counts: Record<string, number>): void {
  // progress only where a person watches: a terminal, many objects, no --json
  if (io.isTTY && total > 1) io.stderr.write(`\r${done}/${total} inspected, ${counts.hit} hit(s)${done === total ? '\n' : ''}`)
}

/** `forensics inspect`. */
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'inspect S3 objects or a folder with YARA rules and SHA-256 IOC lists (offline triage)',
  usage: `(s3://BUCKET/KEY ... | --from-dir DIR) (--rules FILE ... | --iocs FILE ...) [--max-bytes N] [--budget-ms N] [--json]
  --rules: YARA rule files (local path or s3://); --iocs: SHA-256 lists (one hash a line, # comments)
  exit 0 all clean, 1 hit(s) found, 2 usage or a rule file/IOC list that does not load, 3 some object not inspected completely`,
  positionals: true,
  options: {
    'from-dir': { type: 'string' },
    rules: { type: 'string', multiple: true },
    iocs: { type: 'string', multiple: true },
    'max-bytes': { type: 'string' },
    'budget-ms': { type: 'string' },
  },
  async run(args, io) {
    const dir = args.values['from-dir'] as string | undefined
    if (args.positionals.length === 0 && dir === undefined) throw new UsageError('name objects to inspect: s3://BUCKET/KEY ... or --from-dir DIR')
    const rulePaths = list(args.values.rules)
    const iocPaths = list(args.values.iocs)
    if (rulePaths.length === 0 && iocPaths.length === 0) throw new UsageError('give the rules to inspect with: --rules FILE (YARA) and/or --iocs FILE (SHA-256 list)')
    const maxObjectBytes = positiveInt(args.values['max-bytes'], '--max-bytes', 50 * 1024 * 1024, MAX_OBJECT_BYTES_LIMIT)
    const timeBudgetMs = positiveInt(args.values['budget-ms'], '--budget-ms', 20_000, 900_000)
    let client: S3Client | undefined
    const s3 = (): S3Client => (client ??= s3FromEnv(io.env))
    const needsS3 = [...args.positionals, ...rulePaths, ...iocPaths].some((p) => p.startsWith('s3://'))

    // everything is loaded and checked before the first object is read
    const rules = await Promise.all(rulePaths.map((p) => readTextLocation(p, needsS3 ? s3() : undefined)))
    const iocs = await Promise.all(iocPaths.map((p) => readTextLocation(p, needsS3 ? s3() : undefined)))
    const objects = await objectsToInspect({ positionals: args.positionals, dir }, s3)
    if (objects.length === 0) throw new UsageError(`${dir} holds no files: nothing to inspect (an empty folder is not a clean one)`)
    const inspector = await Inspector.open({ rules, iocs, maxObjectBytes, timeBudgetMs })
    const verdicts: Verdict[] = []
    try {
      for (const o of objects) {
        const v = await inspector.inspect(o)
        verdicts.push(v)
        progressLine(io, verdicts.length, objects.length, countVerdicts(verdicts))
        if (!io.json && (v.verdict !== 'clean' || !io.isTTY)) io.info(verdictLine(v))
      }
    } finally {
      await inspector.close()
      client?.destroy()
    }
    const counts = countVerdicts(verdicts)
    const code = counts.hit > 0 ? ExitCode.failed : counts.clean === verdicts.length ? ExitCode.ok : ExitCode.io
    if (io.json) io.result({ ok: code === ExitCode.ok, counts, rules: rules.map((r) => r.name), iocLists: iocs.map((i) => i.name), iocHashes: inspector.iocs.size, verdicts })
    else io.progress(`${verdicts.length} object(s): ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`)
    return code
  },
}
