/**
 * The page (forensics/report/render-report.ts and its style, script and policy in
 * report-assets.ts): self-contained, a strict hash-based CSP, readable without script.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { MemoryStore } from './fixtures/memory-store.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'
import { planCaseReport, seedSliceCapture, trailEvent } from './fixtures/report-case.js'
import { REPORT_CSP, REPORT_CSS, REPORT_SCRIPT } from '../forensics/report/report-assets.js'
import { humanBytes } from '../forensics/report/render-sections.js'

t.test('the page is self-contained: strict CSP, no external reference, readable without script', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  await seedSliceCapture(store, signer, 'case-p', 'p', [trailEvent('e1', '2026-11-28T01:00:00Z')])
  const { html: page } = await planCaseReport(store, signer, 'case-p')
  const b64 = (s: string): string => createHash('sha256').update(s).digest('base64')
  t.ok(page.startsWith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy"'), 'the policy comes before anything else')
  t.equal(REPORT_CSP, `default-src 'none'; style-src 'sha256-${b64(REPORT_CSS)}'; script-src 'sha256-${b64(REPORT_SCRIPT)}'; base-uri 'none'; form-action 'none'`)
  t.ok(page.includes(`<style>${REPORT_CSS}</style>`) && page.includes(`<script>${REPORT_SCRIPT}</script>`), 'the hashed style and script, byte for byte')
  t.equal(page.match(/<script/g)?.length, 1, 'one script')
  t.equal(page.match(/<style/g)?.length, 1, 'one style sheet')
  t.notMatch(page, /\b(src|srcset|action|formaction|background|poster)=/i, 'nothing to load')
  t.notMatch(page, /href="(?!#|artifacts\/|manifests\/|custody\/)/, 'links only inside the page or the bundle')
  t.notMatch(page, /url\(|@import|https?:\/\//i, 'no remote reference in style or text')
  t.notMatch(page, / style=/, 'no inline style attribute (the policy would refuse it)')
  t.notMatch(page, / on[a-z]+=/i, 'no inline event handler')
  t.match(page, /<form id="zoom" hidden/, 'the zoom controls stay hidden without script')
  t.notMatch(page, /<tr[^>]* hidden/, 'every row is visible without script')
  t.notMatch(REPORT_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|Function\(/, 'the script never parses markup')
  t.equal(humanBytes(512), '512 B')
  t.equal(humanBytes(5 * 1024 ** 5), '5120.0 TiB')
})
