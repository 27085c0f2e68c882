/**
 * `forensics slice --from-dir DIR --start T --end T [filters]`: offline slice of a folder
 * of CloudTrail log files (gz or plain, `{"Records":[...]}` or JSON lines); prints the
 * matching events as JSON lines (deduplicated by eventID, sorted by eventTime). Also the
 * filter flags and their mapping, shared with `capture cloudtrail`.
 */
import type { ParseArgsConfig } from 'node:util'
import { ExitCode, UsageError, type Command, type ParsedArgs } from '../command.js'
import { makeWindow, normalizeFilters, type SliceFilters, type TimeWindow } from '../../forensics/cloudtrail/filters.js'
import { sliceDirectory } from '../../forensics/cloudtrail/slice.js'
import { buildSliceDocument } from '../../forensics/cloudtrail/slice-document.js'

/** The filter flags (repeatable: values of one flag are ORed, flags are ANDed). */
export const filterOptions: NonNullable<ParseArgsConfig['options']> = {
  start: { type: 'string' },
  end: { type: 'string' },
  principal: { type: 'string', multiple: true },
  user: { type: 'string', multiple: true },
  'access-key': { type: 'string', multiple: true },
  'source-ip': { type: 'string', multiple: true },
  'event-name': { type: 'string', multiple: true },
  'event-source': { type: 'string', multiple: true },
  bucket: { type: 'string', multiple: true },
  key: { type: 'string', multiple: true },
  'key-prefix': { type: 'string', multiple: true },
  'resource-arn': { type: 'string', multiple: true },
  error: { type: 'string' },
  'read-only': { type: 'boolean' },
  'write-only': { type: 'boolean' },
}

/** Usage text of the filter flags. */
export const FILTER_USAGE = `[--principal ARN] [--user NAME] [--access-key ID] [--source-ip IP|CIDR] [--event-name N] [--event-source S] [--bucket B] [--key K|--key-prefix P]
  extra filters: [--resource-arn ARN] [--error any|none|CODE[,CODE]] [--read-only|--write-only]
  each filter flag may repeat (values ORed); different flags are ANDed; times are ISO 8601, window [start, end)
  --principal: a role ARN matches every session of the role, as does an assumed-role ARN without
  its session name; --user NAME matches an IAM user by name; --bucket takes a name or arn:aws:s3:::NAME`

const list = (v: ParsedArgs['values'][string]): string[] | undefined => (Array.isArray(v) ? v : typeof v === 'string' ? [v] : undefined)

/** Reads the window and filters from parsed flags; UsageError/ValidationError on bad input. */
export function windowAndFilters(args: ParsedArgs): { window: TimeWindow; filters: SliceFilters } {
  const v = args.values
  if (typeof v.start !== 'string' || typeof v.end !== 'string') throw new UsageError('--start and --end are required (ISO 8601, e.g. 2026-11-29T10:00:00Z)')
  if (list(v.key) && list(v['key-prefix'])) throw new UsageError('use --key or --key-prefix, not both')
  if (v['read-only'] && v['write-only']) throw new UsageError('use --read-only or --write-only, not both')
  const error = typeof v.error === 'string' ? (v.error === 'any' || v.error === 'none' ? v.error : v.error.split(',').filter(Boolean)) : undefined
  const filters = normalizeFilters({
    principals: list(v.principal),
    userNames: list(v.user),
    accessKeyIds: list(v['access-key']),
    sourceIps: list(v['source-ip']),
    eventNames: list(v['event-name']),
    eventSources: list(v['event-source']),
    buckets: list(v.bucket),
    keys: list(v.key),
    keyPrefixes: list(v['key-prefix']),
    resourceArns: list(v['resource-arn']),
    errorCode: error,
    readOnly: v['read-only'] ? true : v['write-only'] ? false : undefined,
  })
  return { window: makeWindow(v.start, v.end), filters }
}

/** `forensics slice`. */
export const sliceCommand: Command = {
  name: 'slice',
  summary: 'offline CloudTrail slice of a folder of log files; prints matching events as JSON lines',
  usage: `--from-dir DIR --start T --end T ${FILTER_USAGE}`,
  options: { 'from-dir': { type: 'string' }, ...filterOptions },
  async run(args, io) {
    const dir = args.values['from-dir']
    if (typeof dir !== 'string') throw new UsageError('--from-dir DIR is required (a folder of CloudTrail .json.gz / .json / .jsonl files)')
    const { window, filters } = windowAndFilters(args)
    const o = await sliceDirectory(dir, window, filters)
    if (io.json) {
      // the events go out as the bytes they were delivered as, spliced into the document
      const head = JSON.stringify({ ok: true, slice: buildSliceDocument(o) }, null, 2).replace(/\n}$/, '')
      io.stdout.write(`${head},\n  "events": [${o.events.map((e) => `\n    ${e.json}`).join(',')}${o.events.length ? '\n  ' : ''}]\n}\n`)
      return ExitCode.ok
    }
    for (const e of o.events) io.stdout.write(e.json + '\n')
    for (const e of o.errors) io.progress(`warning: ${e.message}`)
    io.progress(`${o.events.length} event(s) from ${o.files.length} file(s)${o.duplicatesDropped ? `, ${o.duplicatesDropped} duplicate(s) dropped` : ''}`)
    return ExitCode.ok
  },
}
