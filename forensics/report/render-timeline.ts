/**
 * The timeline section of the case report: an overview histogram, the zoom controls
 * (hidden until the script shows them) and one table row per item — CloudTrail events,
 * captures, findings, containment steps and custody entries — ordered by time.
 */
import { asText, clip, html, type Html } from './html.js'
import { BAR_STEPS } from './report-assets.js'
import { CONTAINMENT_ACTION, TIMELINE_KINDS, type HistogramBucket, type ReportModel, type TimelineItem } from './report-model.js'
import type { CustodyEntry } from '../custody.js'

const iso = (ms: number): string => new Date(ms).toISOString()

/** Kind labels as the page shows them. */
const KIND_LABEL: Record<(typeof TIMELINE_KINDS)[number], string> = {
  event: 'CloudTrail event',
  capture: 'capture',
  finding: 'finding',
  containment: 'containment',
  custody: 'custody',
}

const KIND_PLURAL: Record<(typeof TIMELINE_KINDS)[number], string> = {
  event: 'CloudTrail events',
  capture: 'captures',
  finding: 'findings',
  containment: 'containment steps',
  custody: 'custody entries',
}

/** A severity badge (the class comes from a fixed list, never from the value). */
export function severityBadge(severity: unknown): Html {
  const s = String(severity)
  const known = ['critical', 'high', 'medium', 'low', 'info'].includes(s)
  return html`<span class="badge${known ? ` sev-${s}` : ''}">${s}</span>`
}

/** The subject of a custody entry in one line. */
export function custodySubject(e: CustodyEntry): string {
  const s = (typeof e.subject === 'object' && e.subject !== null ? e.subject : {}) as Record<string, unknown>
  if (e.action === 'captured') return `capture ${asText(s.captureId ?? s.key)} (manifest SHA-256 ${asText(s.sha256).slice(0, 16)}…)`
  if (e.action === 'bundled') return `bundle ${asText(s.file)} SHA-256 ${asText(s.sha256).slice(0, 16)}… (${asText(s.format)}, ${Array.isArray(s.captureIds) ? s.captureIds.length : 0} captures)`
  if (e.action === 'note' && s.note !== undefined) return asText(s.note)
  return Object.entries(s)
    .map(([k, v]) => `${k}: ${asText(v)}`)
    .join('; ')
}

/** Who acted, for a custody entry. */
export function custodyActor(e: CustodyEntry): string {
  const a = (typeof e.actor === 'object' && e.actor !== null ? e.actor : {}) as Record<string, unknown>
  return [a.principalArn, a.tool, a.requestId ? `request ${asText(a.requestId)}` : undefined].filter((x) => x !== undefined && x !== '').map(asText).join(' · ')
}

function verdictText(v: Record<string, number>): string {
  const parts = Object.entries(v).map(([k, n]) => `${n} ${k}`)
  return parts.length ? parts.join(', ') : 'none'
}

function row(item: TimelineItem): Html {
  const t = Number.isFinite(item.ms) ? String(item.ms) : ''
  const timeCell = html`<td class="time">${item.time || '(no time)'}</td>`
  const kind = html`<td class="kind">${KIND_LABEL[item.kind]}</td>`
  if (item.kind === 'event') {
    const e = item.event
    const failed = e.errorCode !== ''
    return html`<tr class="k-event${failed ? ' err' : ''}" data-kind="event" data-t="${t}">${timeCell}${kind}<td><b>${e.eventName || '(no eventName)'}</b> <span class="muted">${e.eventSource}</span>${e.target ? html`<br><span class="mono">${clip(e.target, 300)}</span>` : ''}${e.readOnly === undefined ? '' : html` <span class="muted">${e.readOnly ? 'read' : 'write'}</span>`}${failed ? html`<br><span class="errtext">✗ ${e.errorCode}</span>${e.errorMessage ? html`: ${clip(e.errorMessage, 300)}` : ''}` : ''}</td><td>${clip(e.who, 300) || '(unknown)'}${e.userName ? html`<br><span class="muted">user</span> ${e.userName}` : ''}${e.accessKeyId ? html`<br><span class="muted">key</span> <span class="mono">${e.accessKeyId}</span>` : ''}${e.issuer ? html`<br><span class="muted">via</span> ${e.issuer}` : ''}</td><td>${e.sourceIp || '(no IP)'}${e.region ? html`<br><span class="muted">${e.region}${e.account ? ` · ${e.account}` : ''}</span>` : ''}${e.userAgent ? html`<br><span class="muted">${clip(e.userAgent, 160)}</span>` : ''}</td><td class="mono">${e.eventId}<br><a href="#capture-${e.captureId}">${clip(e.captureId, 24)}</a></td></tr>`
  }
  if (item.kind === 'capture') {
    const c = item.capture
    const m = c.manifest
    const partial = m.status !== 'complete'
    return html`<tr class="k-capture${partial ? ' err' : ''}" data-kind="capture" data-t="${t}">${timeCell}${kind}<td><b>${asText(m.collector?.name)}</b> capture ${partial ? html`<span class="errtext">${asText(m.status)}</span>` : html`<span class="okt">${asText(m.status)}</span>`}, ended ${asText(m.endedAt)}; ${m.artifacts.length} artifacts${c.slice ? html`; digest verdicts: ${verdictText(c.slice.verdicts)}` : ''}${m.errors.length ? html`; <span class="errtext">${m.errors.length} not captured</span>` : ''}</td><td>${asText(m.actor?.principalArn) || '—'}</td><td>${asText(m.trigger?.source)}: ${clip(asText(m.trigger?.id), 120)}</td><td class="mono"><a href="#capture-${c.captureId}">${clip(c.captureId, 24)}</a></td></tr>`
  }
  if (item.kind === 'finding') {
    const f = item.finding
    return html`<tr class="k-finding" data-kind="finding" data-t="${t}">${timeCell}${kind}<td>${severityBadge(f.severity)} ${asText(f.title)}</td><td>—</td><td>${asText(f.resource)}</td><td class="mono"><a href="#capture-${item.captureId}">${clip(item.captureId, 24)}</a></td></tr>`
  }
  const e = item.entry
  return html`<tr class="k-${item.kind}" data-kind="${item.kind}" data-t="${t}">${timeCell}${kind}<td><b>${asText(e.action)}</b>: ${clip(custodySubject(e), 400)}</td><td>${custodyActor(e) || '—'}</td><td>—</td><td class="mono"><a href="#custody-${String(e.seq)}">#${String(e.seq)}</a></td></tr>`
}

function bars(buckets: readonly HistogramBucket[]): Html {
  const max = buckets.reduce((m, b) => Math.max(m, b.count), 0)
  return html`${buckets.map((b) => html`<span class="bar h${max ? Math.ceil((b.count / max) * BAR_STEPS) : 0}${b.errors ? ' e' : ''}" title="${iso(b.from)} – ${iso(b.to)}: ${b.count} item(s)${b.errors ? `, ${b.errors} failed` : ''}"></span>`)}`
}

/** The timeline section. */
export function renderTimeline(model: ReportModel): Html {
  const { timeline, span, events } = model
  const counts = TIMELINE_KINDS.map((k) => ({ kind: k, n: timeline.filter((i) => i.kind === k).length }))
  const eventNote = events.capped
    ? html`<p class="note">The slices hold ${events.total} CloudTrail events; the first ${events.shown} in time order are shown. Every event is in the bundle (<code>artifacts/&lt;capture&gt;/events.jsonl.gz</code>).</p>`
    : ''
  const dedupNote = events.deduplicated ? html`<p class="muted">${events.deduplicated} events captured by more than one slice are listed once.</p>` : ''
  return html`<section id="timeline"><h2>Timeline</h2>
<p>${timeline.length} items${span ? html` from <span class="mono">${iso(span.from)}</span> to <span class="mono">${iso(span.to - 1)}</span>` : ''} (all times UTC): ${counts.map((c, i) => html`${i ? ', ' : ''}${c.n} ${c.n === 1 ? KIND_LABEL[c.kind] : KIND_PLURAL[c.kind]}`)}. Rows in red failed (CloudTrail errors, partial captures).</p>
${eventNote}${dedupNote}
<form id="zoom" hidden data-from="${span ? String(span.from) : '0'}" data-to="${span ? String(span.to) : '1'}">
<label>from <input type="text" id="zoom-from" spellcheck="false" aria-label="from (ISO 8601, UTC)"></label>
<label>to <input type="text" id="zoom-to" spellcheck="false" aria-label="to, exclusive (ISO 8601, UTC)"></label>
<button type="submit">zoom</button> <button type="button" id="zoom-reset">whole case</button>
${TIMELINE_KINDS.map((k) => html`<label><input type="checkbox" data-kind="${k}" checked> ${KIND_LABEL[k]}</label> `)}
<span id="zoom-shown" class="muted"></span>
</form>
<div id="histogram" role="group" aria-label="items over time">${bars(model.histogram)}</div>
<div class="axis"><span id="axis-from">${span ? iso(span.from) : ''}</span><span id="axis-to">${span ? iso(span.to) : ''}</span></div>
<table><thead><tr><th>time (UTC)</th><th>kind</th><th>what</th><th>who</th><th>from where</th><th>reference</th></tr></thead>
<tbody id="timeline-rows">
${timeline.map((i) => html`${row(i)}\n`)}</tbody></table>
${model.containment.length === 0 ? '' : html`<p>${model.containment.length} containment step(s) recorded (custody action <code>${CONTAINMENT_ACTION}</code>).</p>`}
</section>`
}
