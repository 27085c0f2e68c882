/**
 * Safe HTML for the case report (forensics/report/html.ts): every evidence value is text
 * in element bodies and attributes, invisible characters are shown, links stay in the bundle.
 */
import t from 'tap'
import { asText, attributeText, clip, html, Html, memberHref, text } from '../forensics/report/html.js'

t.test('html: every evidence value is text, in bodies and attributes', async (t) => {
  const hostile = `<script>alert(1)</script>"'&`
  t.equal(text(hostile).value, '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;')
  const bidi = text('invoice\u202Etxt.exe\u200B\u0000')
  t.match(bidi.value, /invoice<span class="ctl" title="invisible character U\+202E">⟨U\+202E⟩<\/span>txt\.exe/, 'a bidi override is shown, not obeyed')
  t.notOk(['\u202E', '\u200B', '\u0000'].some((c) => bidi.value.includes(c)), 'no invisible character survives')
  t.equal(attributeText('a"b\u202Ec'), 'a&quot;b⟨U+202E⟩c', 'in attributes the marker is plain text')

  const a = html`<a title="${'"><img src=x onerror=alert(1)>\u202E'}" data-x="${1}">${hostile}</a>`
  t.equal(a.value, '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;⟨U+202E⟩" data-x="1">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</a>')
  t.throws(() => html`<a title="${html`<b>x</b>`}">`, TypeError, 'markup cannot be put into an attribute')
  t.throws(() => html`<a title="x ${['a']}">`, TypeError)
  t.equal(html`<p>${[html`<b>${'<i>'}</b>`, ' & ', 2]}${null}${undefined}${false}${true}</p>`.value, '<p><b>&lt;i&gt;</b> &amp; 2true</p>')
  t.equal(html`<a title="${null}${undefined}${false}">`.value, '<a title="">', 'empty values in attributes')
  t.equal(String(new Html('<b>')), '<b>')
  t.equal(html`<p class="a">x="${'q'}"</p>`.value, '<p class="a">x="q"</p>')

  t.equal(memberHref('artifacts/cap/a%2Fb/x.json'), 'artifacts/cap/a%252Fb/x.json', 'a percent in a member name stays literal')
  t.equal(memberHref('manifests/cap/manifest.json'), 'manifests/cap/manifest.json')
  for (const bad of ['javascript:alert(1)', 'https://evil.example/x', '//evil.example/x', 'artifacts/../../etc/passwd', 'artifacts//x', 'artifacts/a/./b', 'artifacts/<x>', 'REPORT.md']) {
    t.equal(memberHref(bad), undefined, `${bad}: no link`)
  }
  t.equal(clip('abcdef', 4), 'abc…')
  t.equal(clip('ab😀cd', 4), 'ab…', 'a surrogate pair is never cut in half')
  t.equal(clip('abc', 4), 'abc')
  t.equal(asText({ a: 1 }), '{"a":1}')
  t.equal(asText(null), '')
  t.equal(asText(undefined), '')
})
