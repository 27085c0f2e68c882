/**
 * `forensics cases`: the cases in the evidence bucket, with their captures and custody
 * activity. A table on a terminal; one JSON document with `--json` or when piped.
 */
import type { EvidenceStore } from '../../forensics/evidence-store.js'
import { custodySeqFromKey } from '../../forensics/keys.js'
import type { CustodyEntry } from '../../forensics/custody.js'
import { ExitCode, type Command, type CommandIO } from '../command.js'
import { openEvidence } from '../context.js'

/** One case at a glance. */
export interface CaseSummary {
  caseId: string
  captures: number
  custodyEntries: number
  lastAction?: string
  lastTime?: string
  /** digest verdicts of the case's CloudTrail log files, summed over its slice captures (absent without any) */
  digestVerdicts?: Record<string, number>
}

/** The verdict counts a CloudTrail slice manifest carries in its summary. */
async function sliceVerdicts(store: EvidenceStore, key: string): Promise<Record<string, number>> {
  try {
    const m = JSON.parse((await store.getBytes(key)).bytes.toString('utf8')) as { summary?: { verdicts?: Record<string, unknown> } }
    return Object.fromEntries(Object.entries(m.summary?.verdicts ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'))
  } catch {
    return { unreadable: 1 }
  }
}

/** `valid 3, digest-missing 1` */
export function formatVerdicts(v: Record<string, number> | undefined): string {
  return Object.entries(v ?? {}).map(([k, n]) => `${k} ${n}`).join(', ')
}

/** Lists the cases under `cases/` with their captures and latest custody entry. */
export async function listCases(store: EvidenceStore): Promise<CaseSummary[]> {
  const cases = new Map<string, CaseSummary & { lastKey?: string; slices?: string[] }>()
  for await (const o of store.list('cases/')) {
    const m = /^cases\/([^/]+)\/(.*)$/.exec(o.key)
    if (!m) continue
    const c = cases.get(m[1]) ?? { caseId: m[1], captures: 0, custodyEntries: 0 }
    cases.set(m[1], c)
    if (/^captures\/[^/]+\/manifest\.json$/.test(m[2])) c.captures++
    if (/^captures\/cloudtrail-slice-[^/]+\/manifest\.json$/.test(m[2])) (c.slices ??= []).push(o.key)
    if (custodySeqFromKey(o.key) !== undefined) {
      c.custodyEntries++
      c.lastKey = o.key
    }
  }
  const out: CaseSummary[] = []
  for (const { lastKey, slices, ...c } of cases.values()) {
    for (const key of slices ?? []) {
      const sum = (c.digestVerdicts ??= {})
      for (const [k, n] of Object.entries(await sliceVerdicts(store, key))) sum[k] = (sum[k] ?? 0) + n
    }
    if (lastKey) {
      try {
        const entry = JSON.parse((await store.getBytes(lastKey)).bytes.toString('utf8')) as CustodyEntry
        c.lastAction = entry.action
        c.lastTime = entry.time
      } catch {
        c.lastAction = '(unreadable)'
      }
    }
    out.push(c)
  }
  return out.sort((a, b) => (a.caseId < b.caseId ? -1 : 1))
}

/** Renders rows as an aligned text table. */
export function renderTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)]
}

/** True when output should be a table: stdout is a terminal and --json is not set. */
export function wantsTable(io: CommandIO): boolean {
  return !io.json && Boolean((io.stdout as NodeJS.WriteStream).isTTY)
}

/** Writes one JSON document to stdout (also when --json was not given). */
export function writeJson(io: CommandIO, doc: unknown): void {
  io.stdout.write(JSON.stringify(doc, null, 2) + '\n')
}

/** The `cases` command. */
export const casesCommand: Command = {
  name: 'cases',
  summary: 'list the cases in the evidence bucket (table on a terminal, JSON otherwise)',
  usage: '[--evidence-bucket E] [--json]',
  options: {},
  async run(args, io) {
    const { store } = await openEvidence(args, io)
    const cases = await listCases(store)
    if (!wantsTable(io)) writeJson(io, { bucket: store.bucket, cases })
    else if (cases.length === 0) io.info(`no cases in s3://${store.bucket}`)
    else for (const l of renderTable(['CASE', 'CAPTURES', 'CUSTODY', 'LAST ACTION', 'LAST TIME', 'DIGEST VERDICTS'], cases.map((c) => [c.caseId, String(c.captures), String(c.custodyEntries), c.lastAction ?? '', c.lastTime ?? '', formatVerdicts(c.digestVerdicts)]))) io.info(l.trimEnd())
    return ExitCode.ok
  },
}
