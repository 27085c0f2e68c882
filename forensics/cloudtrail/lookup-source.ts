/**
 * The LookupEvents source: management events of the last 90 days, per account and
 * region. The API takes one lookup attribute per call and allows 2 requests/s per account
 * and region, so we query by the most selective attribute the filters offer (one paging
 * series per value), apply every other filter client-side, space calls to the rate and
 * back off on ThrottlingException.
 */
import { ListPublicKeysCommand, LookupEventsCommand, type CloudTrailClient, type LookupAttribute, type LookupAttributeKey } from '@aws-sdk/client-cloudtrail'
import { createHash } from 'node:crypto'
import { StorageError } from '../errors.js'
import { recordLine } from './record-text.js'
import { compileFilter, eventTimeOf, type CloudTrailRecord, type SliceFilters, type TimeWindow } from './filters.js'
import type { MatchedEvent } from './log-file-scan.js'
import type { PublicKeySource, TrailPublicKey } from './digest-validation.js'

/** The CloudTrail calls we make (a CloudTrailClient fits). */
export type CloudTrailPort = Pick<CloudTrailClient, 'send'>

/** The attribute a lookup uses. */
export interface ChosenAttribute {
  key: LookupAttributeKey
  values: string[]
}

/** Options of a lookup. */
export interface LookupOptions {
  regions: string[]
  clientFor(region: string): CloudTrailPort
  /** requests per second per region (default 2, the documented limit) */
  rps?: number
  /** attempts per call on ThrottlingException (default 8) */
  maxAttempts?: number
  /** first backoff delay (default 500 ms), doubled per attempt with jitter */
  baseDelayMs?: number
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

/** What a lookup found. */
export interface LookupResult {
  events: MatchedEvent[]
  attribute: ChosenAttribute | null
  calls: number
  throttled: number
  /** events returned by the API before client-side filtering */
  returned: number
  problems: string[]
}

/** Username LookupEvents records for a principal ARN, when one can be derived. */
function usernameOf(arn: string): string | undefined {
  const user = /^arn:aws[a-z-]*:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(arn)
  if (user) return user[1]
  const session = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/[^/]+\/([^/]+)$/.exec(arn)
  return session?.[1]
}

/**
 * Picks the most selective lookup attribute the filters allow (access key > user name >
 * bucket as resource name > event name > event source > read-only), preferring kinds
 * with few values since each value costs its own paging series. Null = no attribute.
 */
export function chooseLookupAttribute(f: SliceFilters): ChosenAttribute | null {
  const candidates: ChosenAttribute[] = []
  if (f.accessKeyIds?.length) candidates.push({ key: 'AccessKeyId', values: f.accessKeyIds })
  if (f.principals?.length) {
    const names = f.principals.map(usernameOf)
    if (names.every((n): n is string => n !== undefined)) candidates.push({ key: 'Username', values: [...new Set(names)] })
  }
  if (f.userNames?.length) candidates.push({ key: 'Username', values: f.userNames })
  if (f.buckets?.length) candidates.push({ key: 'ResourceName', values: f.buckets })
  if (f.eventNames?.length) candidates.push({ key: 'EventName', values: f.eventNames })
  if (f.eventSources?.length) candidates.push({ key: 'EventSource', values: f.eventSources })
  if (f.readOnly !== undefined) candidates.push({ key: 'ReadOnly', values: [String(f.readOnly)] })
  return candidates.find((c) => c.values.length <= 3) ?? candidates.sort((a, b) => a.values.length - b.values.length)[0] ?? null
}

/** Spaces calls to at most `rps` per second. */
class RateGate {
  private next = 0
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}
  async pass(): Promise<void> {
    const t = this.now()
    const at = Math.max(t, this.next)
    this.next = at + this.intervalMs
    if (at > t) await this.sleep(at - t)
  }
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Runs LookupEvents over the window in every region and filters the events. */
export async function lookupEvents(filters: SliceFilters, window: TimeWindow, opts: LookupOptions): Promise<LookupResult> {
  const sleep = opts.sleep ?? realSleep
  const now = opts.now ?? Date.now
  const maxAttempts = opts.maxAttempts ?? 8
  const base = opts.baseDelayMs ?? 500
  const compiled = compileFilter(filters, window)
  const attribute = chooseLookupAttribute(filters)
  const result: LookupResult = { events: [], attribute, calls: 0, throttled: 0, returned: 0, problems: [] }
  const series: Array<LookupAttribute | undefined> = attribute ? attribute.values.map((v) => ({ AttributeKey: attribute.key, AttributeValue: v })) : [undefined]
  for (const region of opts.regions) {
    const client = opts.clientFor(region)
    const gate = new RateGate(1000 / (opts.rps ?? 2), now, sleep)
    for (const attr of series) {
      let token: string | undefined
      do {
        const input = { StartTime: new Date(window.start), EndTime: new Date(window.end), LookupAttributes: attr ? [attr] : undefined, NextToken: token, MaxResults: 50 }
        let page
        for (let attempt = 1; ; attempt++) {
          await gate.pass()
          result.calls++
          try {
            page = await client.send(new LookupEventsCommand(input))
            break
          } catch (err) {
            const name = (err as Error).name
            if (name !== 'ThrottlingException' && name !== 'TooManyRequestsException') {
              throw new StorageError(`LookupEvents in ${region} failed: ${name}: ${(err as Error).message}${name === 'AccessDeniedException' ? '; grant cloudtrail:LookupEvents to the capture role' : ''}`, { cause: err })
            }
            result.throttled++
            if (attempt >= maxAttempts) throw new StorageError(`LookupEvents in ${region} is still throttled after ${attempt} attempts; retry later or lower the request rate (other tools may share the 2 requests/s limit)`, { cause: err })
            await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random() / 2))
          }
        }
        for (const e of page.Events ?? []) {
          result.returned++
          let rec: CloudTrailRecord
          try {
            rec = JSON.parse(e.CloudTrailEvent ?? '') as CloudTrailRecord
          } catch {
            result.problems.push(`LookupEvents in ${region}: event ${e.EventId ?? '?'} has no parseable CloudTrailEvent`)
            continue
          }
          const t = eventTimeOf(rec) ?? e.EventTime?.getTime()
          if (t === undefined || t < window.start || t >= window.end || !compiled.matches(rec)) continue
          const json = recordLine(e.CloudTrailEvent ?? '')
          const id = typeof rec.eventID === 'string' ? rec.eventID : e.EventId ?? 'sha256:' + createHash('sha256').update(json).digest('hex')
          result.events.push({ time: t, id, json })
        }
        token = page.NextToken
      } while (token)
    }
  }
  return result
}

/** ListPublicKeys (paginated) as a PublicKeySource. */
export function cloudTrailPublicKeys(clientFor: (region: string) => CloudTrailPort): PublicKeySource {
  return {
    async listPublicKeys(region: string, start: Date, end: Date): Promise<TrailPublicKey[]> {
      const out: TrailPublicKey[] = []
      let token: string | undefined
      do {
        let page
        try {
          page = await clientFor(region).send(new ListPublicKeysCommand({ StartTime: start, EndTime: end, NextToken: token }))
        } catch (err) {
          throw new StorageError(`ListPublicKeys in ${region} failed: ${(err as Error).name}: ${(err as Error).message}; grant cloudtrail:ListPublicKeys to the capture role`, { cause: err })
        }
        for (const k of page.PublicKeyList ?? []) {
          if (!k.Fingerprint || !k.Value) continue
          out.push({ fingerprint: k.Fingerprint, value: Buffer.from(k.Value), validityStart: k.ValidityStartTime?.toISOString(), validityEnd: k.ValidityEndTime?.toISOString() })
        }
        token = page.NextToken
      } while (token)
      return out
    },
  }
}
