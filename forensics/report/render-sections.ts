/**
 * The case report's sections after the timeline: findings by severity, captures (with
 * digest verdicts and what could not be captured), containment, the custody chain, the
 * artifacts with their SHA-256 and S3 coordinates, and the verification state with the
 * commands that re-check the bundle.
 */
import { asText, clip, html, memberHref, type Html } from './html.js'
import type { CaptureView, ReportModel } from './report-model.js'
import { custodyActor, custodySubject, severityBadge } from './render-timeline.js'

/** Bytes as the report prints them (binary units, one decimal, no locale). */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]}`
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) ?? ''

/** A link to a bundle member, or just its name when it cannot be a link. */
function memberLink(member: string, label: string = member): Html {
  const href = memberHref(member)
  return href ? html`<a href="${href}">${label}</a>` : html`<span class="mono">${label}</span>`
}

/** Findings grouped by severity, most severe first. */
export function renderFindings(model: ReportModel): Html {
  const total = model.findings.reduce((n, g) => n + g.items.length, 0)
  return html`<section id="findings"><h2>Findings by severity</h2>
${total === 0 ? html`<p>No capture derived a finding.</p>` : ''}
${model.findings.map(
  (g) => html`<h3>${severityBadge(g.severity)} ${g.items.length} finding${g.items.length === 1 ? '' : 's'}</h3>
<table><thead><tr><th>finding</th><th>resource</th><th>type</th><th>capture</th></tr></thead><tbody>
${g.items.map(
  ({ captureId, finding: f }) =>
    html`<tr><td>${asText(f.title)}${f.detail !== undefined ? html`<details><summary>detail</summary><pre>${json(f.detail)}</pre></details>` : ''}</td><td class="mono">${asText(f.resource)}</td><td>${asText(f.type)}</td><td class="mono"><a href="#capture-${captureId}">${clip(captureId, 24)}</a></td></tr>\n`,
)}</tbody></table>`,
)}
</section>`
}

function verdicts(c: CaptureView): Html {
  const s = c.slice
  if (!s) return html``
  const v = Object.entries(s.verdicts)
  return html`<dt>digest verdicts</dt><dd>${v.length ? v.map(([k, n], i) => html`${i ? ', ' : ''}<span class="${k === 'valid' ? 'okt' : 'badt'}">${n} ${k}</span>`) : 'no file was scanned'}${s.chainFindings ? html`; <span class="badt">${s.chainFindings} digest chain finding(s)</span>` : ''}${s.files.length ? html`<details><summary>${s.files.length} file(s) scanned</summary><table><thead><tr><th>file</th><th>verdict</th><th class="num">matches</th><th>why</th></tr></thead><tbody>${s.files.map((f) => html`<tr${f.verdict === 'valid' ? '' : html` class="err"`}><td class="mono">${f.where}</td><td>${f.verdict}</td><td class="num">${f.matched}</td><td>${f.reason}</td></tr>`)}</tbody></table></details>` : ''}</dd>
<dt>CloudTrail events</dt><dd>${s.eventsInSlice ?? s.eventLines ?? s.events.length}${s.window ? html` in [${s.window.start}, ${s.window.end})` : ''}${s.badLines ? html`; <span class="badt">${s.badLines} line(s) not JSON</span>` : ''}</dd>
${s.notes.filter((n) => !n.startsWith('the capture has no')).map((n) => html`<dt>note</dt><dd class="warnt">${n}</dd>`)}`
}

/** One block per capture. */
export function renderCaptures(model: ReportModel): Html {
  return html`<section id="captures"><h2>Captures</h2>
${model.captures.length === 0 ? html`<p>No committed capture is part of this report.</p>` : ''}
${model.captures.map((c) => {
  const m = c.manifest
  return html`<h3 id="capture-${c.captureId}">${asText(m.collector?.name)} <span class="mono muted">${c.captureId}</span></h3>
<dl class="facts">
<dt>status</dt><dd>${m.status === 'complete' ? html`<span class="okt">complete</span>` : html`<span class="badt">${asText(m.status)}</span>`}</dd>
<dt>collector</dt><dd>${asText(m.collector?.name)} ${asText(m.collector?.version)}</dd>
<dt>trigger</dt><dd>${asText(m.trigger?.source)}: <span class="mono">${asText(m.trigger?.id)}</span></dd>
<dt>actor</dt><dd>${asText(m.actor?.principalArn) || '—'}${m.actor?.requestId ? html` (request ${asText(m.actor.requestId)})` : ''}</dd>
<dt>target</dt><dd class="mono">${clip(asText(m.target), 2000)}</dd>
<dt>time</dt><dd class="mono">${asText(m.startedAt)} – ${asText(m.endedAt)}</dd>
<dt>artifacts</dt><dd>${m.artifacts.length} (${humanBytes(c.bytes)})</dd>
<dt>manifest</dt><dd>${memberLink(c.manifestMember)} SHA-256 <span class="mono">${c.manifestSha256}</span>; signature ${c.signature === 'verified' ? html`<span class="okt">verifies</span>` : html`<span class="badt">${c.signature === 'missing' ? 'is missing' : 'does NOT verify'}</span>`} with <code>public-key.pem</code></dd>
${verdicts(c)}
${m.summary !== undefined ? html`<dt>summary</dt><dd><details><summary>${clip(asText(m.summary), 160)}</summary><pre>${json(m.summary)}</pre></details></dd>` : ''}
</dl>
${m.errors.length ? html`<p class="errtext">${m.errors.length} item(s) could not be captured (a refusal is evidence too):</p><table><thead><tr><th>what</th><th>code</th><th>message</th></tr></thead><tbody>${m.errors.map((e) => html`<tr><td>${asText(e.what)}</td><td>${asText(e.code)}</td><td>${clip(asText(e.message), 1000)}</td></tr>`)}</tbody></table>` : ''}`
})}
</section>`
}

/** Containment steps (custody entries with the `contained` action). */
export function renderContainment(model: ReportModel): Html {
  return html`<section id="containment"><h2>Containment</h2>
${model.containment.length === 0
  ? html`<p>No containment action is recorded in this case's custody chain.</p>`
  : html`<table><thead><tr><th>time (UTC)</th><th>who</th><th>what</th><th>entry</th></tr></thead><tbody>${model.containment.map((e) => html`<tr><td class="time">${asText(e.time)}</td><td>${custodyActor(e)}</td><td>${custodySubject(e)}</td><td><a href="#custody-${String(e.seq)}">#${String(e.seq)}</a></td></tr>`)}</tbody></table>`}
</section>`
}

/** Every custody entry, with the chain's verification result. */
export function renderCustody(model: ReportModel): Html {
  const head = model.source.custodyHead
  return html`<section id="custody"><h2>Custody chain</h2>
<p>${model.custody.length} entr${model.custody.length === 1 ? 'y' : 'ies'}${head ? html`, head #${String(head.seq)} <span class="mono">${head.hash}</span>` : ''}. ${model.chainFindings.length === 0 ? html`<span class="okt">Links, hashes and signatures verify with <code>public-key.pem</code>.</span>` : html`<span class="badt">The chain does NOT verify (${model.chainFindings.length} problem(s)):</span>`}</p>
${model.chainFindings.length ? html`<ul>${model.chainFindings.map((f) => html`<li class="errtext">${f.message} [${f.code}]</li>`)}</ul>` : ''}
<table><thead><tr><th class="num">seq</th><th>time (UTC)</th><th>action</th><th>actor</th><th>subject</th><th>hash</th></tr></thead><tbody>
${model.custody.map((c) =>
  c.entry
    ? html`<tr id="custody-${String(c.seq)}"><td class="num">${memberLink(c.member, String(c.seq))}</td><td class="time">${asText(c.entry.time)}</td><td>${asText(c.entry.action)}</td><td>${custodyActor(c.entry)}</td><td>${clip(custodySubject(c.entry), 1000)}</td><td class="mono" title="${asText(c.entry.hash)}">${asText(c.entry.hash).slice(0, 16)}…</td></tr>\n`
    : html`<tr id="custody-${String(c.seq)}" class="err"><td class="num">${memberLink(c.member, String(c.seq))}</td><td colspan="5" class="errtext">not a JSON custody entry</td></tr>\n`,
)}</tbody></table>
</section>`
}

/** Every artifact (up to the cap) with SHA-256 and S3 coordinates. */
export function renderArtifacts(model: ReportModel): Html {
  const bucket = model.source.bucket
  return html`<section id="artifacts"><h2>Artifacts</h2>
<p>${model.artifactsTotal} artifacts, ${humanBytes(model.artifactBytes)}, each hashed at capture time and recorded in its signed manifest.${model.artifacts.length < model.artifactsTotal ? html` The first ${model.artifacts.length} are listed; <code>bundle.json</code> lists all.` : ''}</p>
<table><thead><tr><th>file in the bundle</th><th class="num">size</th><th>SHA-256</th><th>evidence object</th><th>source</th></tr></thead><tbody>
${model.artifacts.map(({ member, artifact: a }) => {
  const src = a.source && typeof a.source === 'object' ? a.source : undefined
  return html`<tr><td>${member ? memberLink(member) : html`<span class="mono">${a.path}</span>`}</td><td class="num">${String(a.size)}</td><td class="mono">${a.sha256}</td><td class="mono">s3://${bucket}/${a.key}<br><span class="muted">version</span> ${a.versionId}</td><td class="mono">${src ? Object.entries(src).map(([k, v], i) => html`${i ? html`<br>` : ''}<span class="muted">${k}</span> ${clip(asText(v), 300)}`) : '—'}</td></tr>\n`
})}</tbody></table>
</section>`
}

/** What was verified when the report was generated, and how to re-check the bundle. */
export function renderVerification(model: ReportModel): Html {
  const { source } = model
  const signed = model.captures.filter((c) => c.signature === 'verified').length
  const file = `${source.caseId}.zip`
  return html`<section id="verification"><h2>Verification</h2>
<h3>State of the evidence this page was generated from</h3>
<ul>
<li>Manifest signatures: ${signed === model.captures.length ? html`<span class="okt">${signed} of ${model.captures.length} verify</span>` : html`<span class="badt">${signed} of ${model.captures.length} verify</span>`} with the signing key below.</li>
<li>Custody chain: ${model.custody.length} entries, ${model.chainFindings.length === 0 ? html`<span class="okt">intact</span>` : html`<span class="badt">${model.chainFindings.length} problem(s)</span>`} (links, hashes, signatures).</li>
<li>Artifacts: SHA-256 and size as recorded in the signed manifests; building a bundle re-hashes every artifact and aborts on any difference.</li>
<li>This page is generated from the signed evidence only, with no clock: it is listed in <code>SHA256SUMS</code>, and <code>forensics verify</code> re-derives it from the bundled manifests, custody chain and CloudTrail slices and fails if a single byte differs.</li>
</ul>
<h3>What <code>forensics verify</code> checks</h3>
<table><thead><tr><th>check</th><th>what it proves</th></tr></thead><tbody>
${source.checks.map((c) => html`<tr><td><code>${c.name}</code></td><td>${c.description}</td></tr>\n`)}</tbody></table>
<h3>Re-check the bundle</h3>
<p>With the tool (offline, exit code 0 only when every check holds):</p>
<pre>forensics verify ${file}</pre>
<p>With only <code>sha256sum</code> and <code>openssl</code>, in the unpacked bundle (<code>unzip -q ${file}</code> or <code>tar xzf ${source.caseId}.tar.gz</code>):</p>
<pre># every file matches SHA256SUMS
sha256sum -c SHA256SUMS

# every manifest is signed by the key in public-key.pem (each line must end in "Verified OK")
for m in manifests/*/manifest.json; do
  printf '%s: ' "$m"
  printf %s "$(sha256sum "$m" | cut -c1-64)" \\
    | openssl dgst -sha256 -verify public-key.pem -signature "$m.sig"
done

# the key's fingerprint (first 16 hex digits): compare with the one your organisation publishes
openssl pkey -pubin -in public-key.pem -outform DER | sha256sum | cut -c1-16</pre>
<p class="muted">The plain tools do not check the custody chain, files no manifest lists, or that this page, <code>REPORT.md</code> and <code>bundle.json</code> agree with the signed evidence; <code>forensics verify</code> does.</p>
</section>
<section id="signing-key"><h2>Signing key</h2>
<dl class="facts"><dt>fingerprint</dt><dd class="mono"><b>${source.publicKey.fingerprint}</b></dd><dt>key</dt><dd class="mono">${source.publicKey.signerKeyId}</dd><dt>public key</dt><dd><code>public-key.pem</code></dd></dl>
<pre>${source.publicKeyPem.trim()}</pre>
<p class="muted">A valid signature from a key you do not trust proves nothing: check the fingerprint.</p>
</section>`
}
