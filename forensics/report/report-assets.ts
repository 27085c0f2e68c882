/**
 * The case report's only style sheet and only script, inline, with the Content Security
 * Policy that admits exactly these two (by SHA-256) and nothing else: no network, no
 * other script, no plugin, no form target. The page is fully readable without the
 * script; the script only adds the timeline's zoom by time range and kind filters.
 *
 * Both are constants (never built from evidence), so their hashes are fixed per release.
 */
import { createHash } from 'node:crypto'
import { HISTOGRAM_BUCKETS } from './report-model.js'

/** Bar heights are classes (`h0`..`h20`), so the page needs no inline style attribute. */
export const BAR_STEPS = 20

const barClasses = Array.from({ length: BAR_STEPS + 1 }, (_, i) => `.bar.h${i}{height:${i * 5}%}`).join('')

/** The style sheet. */
export const REPORT_CSS = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--alt:#f6f8fa;--err:#b42318;--errbg:#fef3f2;--ok:#1a7f37;--warn:#9a6700;--accent:#0b57d0}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",sans-serif;color:var(--ink);background:var(--bg)}
header,main>section,nav{padding:0 24px}
header{background:var(--alt);border-bottom:1px solid var(--line);padding-top:12px;padding-bottom:12px}
h1{font-size:22px;margin:4px 0 8px}
h2{font-size:18px;margin:28px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
nav{position:sticky;top:0;background:var(--bg);border-bottom:1px solid var(--line);padding-top:6px;padding-bottom:6px;z-index:2}
nav a{margin-right:14px;color:var(--accent);text-decoration:none}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
pre{background:var(--alt);border:1px solid var(--line);padding:8px;overflow:auto;white-space:pre-wrap;word-break:break-all;max-height:24em}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top;unicode-bidi:isolate}
td{overflow-wrap:anywhere}
th{background:var(--alt);position:sticky;top:34px;z-index:1}
tbody tr:nth-child(even){background:#fbfcfd}
td.num,th.num{text-align:right;white-space:nowrap}
#timeline table{table-layout:fixed}
#timeline th:nth-child(1){width:14.5em}#timeline th:nth-child(2){width:8em}#timeline th:nth-child(4){width:22%}#timeline th:nth-child(5){width:20%}#timeline th:nth-child(6){width:12em}
td.time{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.ctl{background:#ffe8a3;color:#6b4d00;border-radius:3px;padding:0 2px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;border:1px solid var(--line);background:var(--alt);white-space:nowrap}
.sev-critical{background:#7a0916;color:#fff;border-color:#7a0916}
.sev-high{background:#d1242f;color:#fff;border-color:#d1242f}
.sev-medium{background:#fb8f44;color:#1b1f24;border-color:#fb8f44}
.sev-low{background:#ddf4ff;color:#0a3069}
.sev-info{background:var(--alt);color:var(--muted)}
.kind{font-size:12px;color:var(--muted);white-space:nowrap}
tr.err td{background:var(--errbg)}
.errtext{color:var(--err);font-weight:600}
.okt{color:var(--ok);font-weight:600}
.badt{color:var(--err);font-weight:600}
.warnt{color:var(--warn);font-weight:600}
.muted{color:var(--muted)}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:6px;margin:8px 0}
#histogram{display:flex;align-items:flex-end;gap:1px;height:80px;border-bottom:1px solid var(--muted);margin:6px 0 2px;padding:0}
.bar{flex:1 1 0;min-width:2px;background:#8fb8f0;border:0;padding:0;margin:0;font:inherit}
.bar.e{background:linear-gradient(#e5534b,#e5534b 30%,#8fb8f0 30%)}
button.bar{cursor:zoom-in}
button.bar:hover,button.bar:focus{background:var(--accent);outline:none}
${barClasses}
.axis{display:flex;justify-content:space-between;font-size:12px;color:var(--muted)}
#zoom{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}
#zoom input[type=text]{width:17em;font-family:ui-monospace,Menlo,Consolas,monospace}
#zoom input.bad{border-color:var(--err);background:var(--errbg)}
#zoom label{white-space:nowrap}
details{margin:4px 0}
summary{cursor:pointer;color:var(--accent)}
@media print{nav,#zoom{display:none}tr[hidden]{display:table-row!important}th{position:static}}
`

/**
 * The script: zoom the timeline to a time range (typed, or by clicking a histogram bar,
 * repeatedly), filter by kind, reset. It reads only numbers and fixed attributes from the
 * page and writes only text and class names: no evidence string passes through it.
 */
export const REPORT_SCRIPT = `(function () {
  'use strict';
  var zoom = document.getElementById('zoom');
  var body = document.getElementById('timeline-rows');
  var hist = document.getElementById('histogram');
  if (!zoom || !body || !hist) return;
  var rows = Array.prototype.slice.call(body.rows);
  var span = { from: Number(zoom.getAttribute('data-from')), to: Number(zoom.getAttribute('data-to')) };
  var fromIn = document.getElementById('zoom-from');
  var toIn = document.getElementById('zoom-to');
  var shown = document.getElementById('zoom-shown');
  var kinds = Array.prototype.slice.call(zoom.querySelectorAll('input[data-kind]'));
  var current = { from: span.from, to: span.to };
  var BUCKETS = ${HISTOGRAM_BUCKETS}, STEPS = ${BAR_STEPS};
  function iso(ms) { return new Date(ms).toISOString(); }
  function on() {
    var k = {};
    kinds.forEach(function (i) { k[i.getAttribute('data-kind')] = i.checked; });
    return k;
  }
  function draw(from, to, points) {
    var width = Math.max(1, Math.ceil((to - from) / BUCKETS));
    var buckets = [];
    for (var b = from; b < to; b += width) buckets.push({ from: b, to: Math.min(to, b + width), n: 0, e: 0 });
    points.forEach(function (p) {
      var x = buckets[Math.floor((p.ms - from) / width)];
      x.n++;
      if (p.err) x.e++;
    });
    var max = buckets.reduce(function (m, x) { return Math.max(m, x.n); }, 0);
    while (hist.firstChild) hist.removeChild(hist.firstChild);
    buckets.forEach(function (x) {
      var bar = document.createElement('button');
      bar.type = 'button';
      bar.className = 'bar h' + (max ? Math.ceil(x.n / max * STEPS) : 0) + (x.e ? ' e' : '');
      bar.title = iso(x.from) + ' \\u2013 ' + iso(x.to) + ': ' + x.n + ' item(s)' + (x.e ? ', ' + x.e + ' failed' : '') + ' (click to zoom in)';
      bar.setAttribute('aria-label', bar.title);
      bar.addEventListener('click', function () { apply(x.from, x.to); });
      hist.appendChild(bar);
    });
    document.getElementById('axis-from').textContent = iso(from);
    document.getElementById('axis-to').textContent = iso(to);
  }
  function apply(from, to) {
    current = { from: from, to: to };
    var k = on(), n = 0, points = [];
    var whole = from <= span.from && to >= span.to;
    rows.forEach(function (r) {
      var t = r.getAttribute('data-t');
      var ms = t === '' ? NaN : Number(t);
      var inRange = isNaN(ms) ? whole : ms >= from && ms < to;
      var visible = inRange && k[r.getAttribute('data-kind')] === true;
      r.hidden = !visible;
      if (visible) n++;
      if (visible && !isNaN(ms)) points.push({ ms: ms, err: r.classList.contains('err') });
    });
    shown.textContent = 'showing ' + n + ' of ' + rows.length + ' rows';
    fromIn.value = iso(from);
    toIn.value = iso(to);
    fromIn.classList.remove('bad');
    toIn.classList.remove('bad');
    draw(from, to, points);
  }
  zoom.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = Date.parse(fromIn.value), t = Date.parse(toIn.value);
    fromIn.classList.toggle('bad', isNaN(f));
    toIn.classList.toggle('bad', isNaN(t) || t <= f);
    if (!isNaN(f) && !isNaN(t) && t > f) apply(f, t);
  });
  document.getElementById('zoom-reset').addEventListener('click', function () { apply(span.from, span.to); });
  kinds.forEach(function (i) { i.addEventListener('change', function () { apply(current.from, current.to); }); });
  zoom.hidden = false;
  document.documentElement.setAttribute('data-zoom', 'ready');
  apply(span.from, span.to);
})();
`

const sha256b64 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64')

/**
 * The Content Security Policy of the page: nothing may load (default-src 'none', which
 * also covers fetch, images, fonts and frames), only the style sheet and script above
 * run, no <base>, no form submission anywhere.
 */
export const REPORT_CSP = `default-src 'none'; style-src 'sha256-${sha256b64(REPORT_CSS)}'; script-src 'sha256-${sha256b64(REPORT_SCRIPT)}'; base-uri 'none'; form-action 'none'`
