/**
 * report.html in a real browser: headless Chromium (Debian's package, no network) opens
 * the page from an unpacked bundle built by the real collectors through the CLI.
 *
 * 1. A case from the vendored CloudTrail datasets (OTRF EC2-proxy exfiltration, Splunk
 *    open-bucket) plus a bucket-config capture of a public bucket: the timeline shows the
 *    expected events (failed calls marked), the finding, captures and custody; zoom by
 *    time range and kind filters work; without JavaScript everything is still there.
 * 2. A case whose evidence is hostile (object keys, user names, policy text and CloudTrail
 *    fields holding `<script>`, event handlers, `javascript:` URLs, RTL overrides): with
 *    the Content Security Policy switched off, nothing executes and every value is text.
 *
 * Screenshots go to .forensics/report-screenshots/.
 */
import t, { type Test } from 'tap'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CreateBucketCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'
import { cliEnv, runCli, sh, tempDir } from './fixtures/bundle-cli.js'
import { buildArchive, loadDataset, makeTrailKey, uploadArchive, type ScopeSpec } from './fixtures/cloudtrail/archive.js'
import { startCloudTrailServer } from './fixtures/cloudtrail/cloudtrail-server.js'
import { browserTest, openBrowser, screenshot, type BrowserSession } from './fixtures/browser.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import { sha256Hex } from '../forensics/hash.js'
import { LocalSigner } from '../forensics/signer.js'

const D = (s: string): number => Date.parse(s)
const distinct = (events: Array<Record<string, unknown>>): Array<Record<string, unknown>> => [...new Map(events.map((e) => [String(e.eventID), e])).values()]

/** Rows of the timeline as the browser shows them. */
async function rows(page: BrowserSession['page'], selector = '#timeline-rows tr'): Promise<{ kind: string; hidden: boolean; err: boolean; text: string }[]> {
  return page.$$eval(selector, (trs) => trs.map((tr) => ({ kind: tr.getAttribute('data-kind') ?? '', hidden: (tr as HTMLElement).hidden || getComputedStyle(tr).display === 'none', err: tr.classList.contains('err'), text: (tr as HTMLElement).innerText })))
}

t.test('report.html in headless Chromium', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  await createLockedBucket(s3, 'evidence')
  const trailKey = makeTrailKey()
  const server = await startCloudTrailServer({ publicKeys: [{ der: trailKey.der, fingerprint: trailKey.fingerprint, start: D('2019-01-01T00:00:00Z'), end: D('2030-01-01T00:00:00Z') }] })
  t.teardown(() => server.close())
  const { signer, pem } = testSignerWithPem()
  const dir = tempDir(t, 'report-browser-')
  const env = { ...cliEnv(emulator, dir, pem), AWS_ENDPOINT_URL_CLOUDTRAIL: server.endpoint }
  const cli = async (argv: string[]): Promise<void> => {
    const r = await runCli(argv, env)
    if (r.code !== 0) throw new Error(`forensics ${argv.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`)
  }
  const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  /**
   * Seals every committed capture of the case with its `captured` custody entry, as the
   * custody recorder does: `forensics capture cloudtrail` does not record it yet (the CLI
   * capture paths are issue 13). Idempotent, so a no-op once the CLI records it itself.
   */
  const seal = async (caseId: string): Promise<void> => {
    const chain = new CustodyChain(store, signer, caseId)
    for await (const o of store.list(`cases/${caseId}/captures/`)) {
      const m = /^cases\/[^/]+\/captures\/([^/]+)\/manifest\.json$/.exec(o.key)
      if (!m) continue
      const { bytes, versionId } = await store.getBytes(o.key)
      await recordCaptured(chain, { manifestKey: o.key, manifestVersionId: versionId, manifestSha256: sha256Hex(bytes), captureId: m[1] }, { tool: 'custody-recorder (test)' })
    }
  }
  /** Bundles a case with the CLI, unpacks it with the real unzip, returns the page's URL. */
  const bundle = async (t: Test, caseId: string): Promise<string> => {
    await seal(caseId)
    const zip = join(dir, `${caseId}.zip`)
    await cli(['bundle', caseId, '-o', zip])
    await cli(['verify', zip])
    const out = join(dir, `${caseId}-unpacked`)
    mkdirSync(out)
    t.equal(sh(`unzip -q ${JSON.stringify(zip)}`, out).status, 0, `${caseId}: unzip`)
    return pathToFileURL(join(out, 'report.html')).href
  }

  const otrf = distinct(loadDataset('otrf-ec2-proxy-s3-exfiltration'))
  const splunk = distinct(loadDataset('splunk-s3-open-bucket'))
  const hostileEvents = [
    {
      eventVersion: '1.09',
      eventID: 'hostile-1',
      eventTime: '2026-11-28T10:00:00Z',
      eventSource: '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
      eventName: '<img src=x onerror="window.__pwned=2;alert(2)">',
      awsRegion: 'us-east-1',
      sourceIPAddress: '\u202E1.0.0.721',
      userAgent: '"><svg onload=alert(3)>',
      userIdentity: { type: 'IAMUser', principalId: 'P', arn: 'javascript:alert(4)', accountId: '999999999999', userName: '<script>window.__pwned=5;alert(5)</script>' },
      requestParameters: { bucketName: 'hostile-bucket', key: 'javascript:window.__pwned=6//' },
      errorCode: '<b onmouseover=alert(7)>Denied</b>',
      errorMessage: '</td></tr></table><script>alert(8)</script>',
      recipientAccountId: '999999999999',
    },
  ]
  const scopes: ScopeSpec[] = [
    { account: '123456789123', region: 'us-east-1', trailName: 'lab', events: loadDataset('otrf-ec2-proxy-s3-exfiltration') },
    { account: '591511147606', region: 'us-west-2', trailName: 'lab', events: loadDataset('splunk-s3-open-bucket') },
    { account: '999999999999', region: 'us-east-1', trailName: 'lab', events: hostileEvents },
  ]
  await uploadArchive(s3, buildArchive({ bucket: 'trail-archive', prefix: 'ct' }, scopes, trailKey, { fileEveryMs: 3600_000 }))

  // built and checked whether or not a browser is here; the browser tests below open them
  let datasetsUrl = ''
  await t.test('a case from the vendored CloudTrail data: its bundle carries report.html', async (t) => {
    await cli(['capture', 'cloudtrail', '--case', 'datasets', '--start', '2020-09-14T00:00:00Z', '--end', '2020-09-15T00:00:00Z', '--archive', 's3://trail-archive/ct'])
    await cli(['capture', 'cloudtrail', '--case', 'datasets', '--start', '2025-02-11T00:00:00Z', '--end', '2025-02-12T00:00:00Z', '--archive', 's3://trail-archive/ct'])
    // the bucket of the Splunk recording, public as the recording left it
    const bucket = 'test-open-bucket-1739304249'
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }] }) }))
    await cli(['capture', 'bucket-config', '--case', 'datasets', '--bucket', bucket])
    datasetsUrl = await bundle(t, 'datasets')
    const page = readFileSync(fileURLToPath(datasetsUrl), 'utf8')
    t.equal(page.match(/<tr class="k-event/g)?.length, otrf.length + splunk.length, 'every distinct event of both recordings is a timeline row')
    t.match(page, /jose-attackrange/)
    t.match(page, /public grant present/)
  })

  await browserTest(t, 'a case from the vendored CloudTrail data in Chromium: timeline, findings, zoom, no network', async (t) => {
    const url = datasetsUrl
    const b = await openBrowser(t)
    await b.page.goto(url)
    t.equal(await b.page.getAttribute('html', 'data-zoom'), 'ready', 'the inline script ran under the page\'s Content Security Policy')
    t.same(b.requests, [url], 'the page requested nothing but itself')
    t.same(b.consoleErrors, [], 'no refused script, style or load')
    t.same(b.pageErrors, [])
    t.same(b.dialogs, [])

    const all = await rows(b.page)
    const events = all.filter((r) => r.kind === 'event')
    t.equal(events.length, otrf.length + splunk.length, `${otrf.length} + ${splunk.length} distinct CloudTrail events on the timeline`)
    const failed = [...otrf, ...splunk].filter((e) => e.errorCode)
    t.equal(events.filter((r) => r.err).length, failed.length, `${failed.length} failed calls marked`)
    const refused = events.find((r) => r.err && /PutBucketPolicy/.test(r.text))
    t.match(refused?.text, /AccessDenied/, 'the refused PutBucketPolicy of the Splunk recording is marked with its error')
    t.match(refused?.text, /jose-attackrange/, 'who')
    t.match(refused?.text, /107\.206\.142\.157/, 'from where')
    const exfil = events.filter((r) => /GetObject/.test(r.text) && /ring\.txt/.test(r.text))
    t.equal(exfil.length, 2, 'the OTRF exfiltration reads of ring.txt')
    t.match(exfil[0].text, /assumed-role\/MordorNginxStack-BankingWAFRole/)
    t.equal(all.filter((r) => r.kind === 'capture').length, 3, 'three captures')
    t.ok(all.filter((r) => r.kind === 'custody').length >= 3, 'custody entries')
    const finding = all.find((r) => r.kind === 'finding')
    t.match(finding?.text, /high\s+public grant present/, 'the public-grant finding is on the timeline')
    t.match(await b.page.innerText('#findings'), /public grant present[\s\S]*arn:aws:s3:::test-open-bucket-1739304249/)
    t.match(await b.page.innerText('#captures'), /digest verdicts\s+\d+ valid/, 'digest verdicts per slice capture')
    t.match(await b.page.innerText('#signing-key'), new RegExp(new LocalSigner(pem).keyId.slice(6)), 'the signing key fingerprint')
    t.match(await b.page.innerText('#verification'), /sha256sum -c SHA256SUMS[\s\S]*openssl dgst -sha256 -verify public-key\.pem/)
    t.comment(`screenshots: ${await screenshot(b.page, 'datasets-case')} ${await screenshot(b.page, 'datasets-case-full', { fullPage: true })}`)

    // zoom to the Splunk recording's day: only its events remain
    await b.page.fill('#zoom-from', '2025-02-11T00:00:00Z')
    await b.page.fill('#zoom-to', '2025-02-12T00:00:00Z')
    await b.page.click('#zoom button[type=submit]')
    let visible = (await rows(b.page)).filter((r) => !r.hidden)
    t.equal(visible.length, splunk.length, 'zoomed to one day: the Splunk events only')
    t.ok(visible.every((r) => r.kind === 'event' && /jose-attackrange/.test(r.text)))
    t.equal(await b.page.innerText('#zoom-shown'), `showing ${splunk.length} of ${all.length} rows`)
    // click the busiest bar of the redrawn histogram to zoom further
    const bars = await b.page.$$eval('#histogram button.bar', (bs) => bs.map((x) => Number((x.getAttribute('title') ?? '').match(/: (\d+) item/)?.[1] ?? 0)))
    t.equal(bars.reduce((n, x) => n + x, 0), splunk.length, 'the histogram is redrawn for the zoomed range')
    const busiest = bars.indexOf(Math.max(...bars))
    await b.page.locator('#histogram button.bar').nth(busiest).click()
    visible = (await rows(b.page)).filter((r) => !r.hidden)
    t.equal(visible.length, bars[busiest], 'a bar zooms to its own range')
    t.comment(`screenshot: ${await screenshot(b.page, 'datasets-case-zoomed')}`)
    // a bad range is refused, not applied
    await b.page.fill('#zoom-to', 'not a time')
    await b.page.click('#zoom button[type=submit]')
    t.equal(await b.page.getAttribute('#zoom-to', 'class'), 'bad')
    t.equal((await rows(b.page)).filter((r) => !r.hidden).length, bars[busiest])
    // kinds: hide events, then the whole case again
    await b.page.click('#zoom-reset')
    await b.page.uncheck('#zoom input[data-kind=event]')
    visible = (await rows(b.page)).filter((r) => !r.hidden)
    t.equal(visible.length, all.length - events.length, 'events filtered out')
    await b.page.check('#zoom input[data-kind=event]')
    t.equal((await rows(b.page)).filter((r) => !r.hidden).length, all.length, 'the whole case again')
    t.same(b.requests, [url], 'still nothing requested')

    t.test('without JavaScript the page reads the same', async (t) => {
      const plain = await openBrowser(t, { javaScript: false })
      await plain.page.goto(url)
      t.equal(await plain.page.getAttribute('html', 'data-zoom'), null, 'the script did not run')
      t.equal(await plain.page.isVisible('#zoom'), false, 'no dead controls')
      const r = await rows(plain.page)
      t.equal(r.length, all.length)
      t.ok(r.every((x) => !x.hidden), 'every row is shown')
      t.equal(r.filter((x) => x.kind === 'event').length, events.length)
      t.ok(await plain.page.isVisible('#histogram span.bar'), 'the overview histogram is static markup')
      t.same(plain.requests, [url])
      await screenshot(plain.page, 'datasets-case-no-js')
    })
  })

  let hostileUrl = ''
  await t.test('a case of hostile evidence: its bundle carries report.html, every value escaped', async (t) => {
    await cli(['capture', 'cloudtrail', '--case', 'hostile', '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-29T00:00:00Z', '--archive', 's3://trail-archive/ct', '--account', '999999999999'])
    const bucket = 'hostile-bucket'
    const keys = ['<script>window.__pwned=9;alert(9)</script>.txt', 'javascript:alert(10)', 'invoice\u202Efdp.exe', '"><img src=x onerror=alert(11)>']
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `bytes of ${key}` }))
    const policy = { Version: '2012-10-17', Statement: [{ Sid: '</pre><script>window.__pwned=12;alert(12)</script>', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }] }
    await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }))
    await cli(['capture', 'bucket-config', '--case', 'hostile', '--bucket', bucket])
    await cli(['capture', 'object-versions', '--case', 'hostile', '--bucket', bucket, ...keys.flatMap((k) => ['--key', k])])
    await new CustodyChain(store, signer, 'hostile').append({ action: 'note', actor: { tool: '<script>alert(13)</script>' }, subject: { note: '<img src=x onerror=alert(14)> handed over \u202Etxt.exe' } })
    hostileUrl = await bundle(t, 'hostile')
    const page = readFileSync(fileURLToPath(hostileUrl), 'utf8')
    t.notMatch(page, /<(img|svg|iframe|b) /, 'no injected element in the markup')
    t.equal(page.match(/<script/g)?.length, 1, 'one script element: the page\'s own')
    t.match(page, /&lt;script&gt;window\.__pwned=5;alert\(5\)&lt;\/script&gt;/)
    t.notOk(page.includes('\u202E'), 'no RTL override in the page')
  })

  await browserTest(t, 'hostile evidence is text in Chromium: nothing executes, even with the Content Security Policy off', async (t) => {
    const url = hostileUrl

    for (const bypassCSP of [true, false]) {
      const b = await openBrowser(t, { bypassCSP })
      await b.page.goto(url)
      const label = bypassCSP ? 'CSP off' : 'CSP on'
      t.same(b.dialogs, [], `${label}: no dialog`)
      t.same(b.pageErrors, [], `${label}: no script error`)
      t.same(b.requests, [url], `${label}: nothing requested (no image, no frame)`)
      t.same(b.consoleErrors, [], `${label}: nothing was even refused: no injected script or style exists`)
      const dom = await b.page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: unknown }).__pwned,
        scripts: document.scripts.length,
        handlers: [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName} ${a.name}`)),
        embeds: document.querySelectorAll('iframe, img, svg, object, embed, frame, video, audio, link, base, meta[http-equiv=refresh]').length,
        links: [...document.querySelectorAll('a[href]')].map((a) => (a as HTMLAnchorElement).protocol),
        text: document.body.innerText,
        zoom: document.documentElement.getAttribute('data-zoom'),
      }))
      t.equal(dom.pwned, undefined, `${label}: no injected global`)
      t.equal(dom.scripts, 1, `${label}: only the page's own script`)
      t.same(dom.handlers, [], `${label}: no event handler attribute anywhere`)
      t.equal(dom.embeds, 0, `${label}: no injected element that loads or renders anything`)
      t.ok(dom.links.length > 0 && dom.links.every((p) => p === 'file:'), `${label}: every link stays in the bundle (no javascript: URL)`)
      t.equal(dom.zoom, 'ready', `${label}: the page's own script still works`)
      for (const s of ['<img src=x onerror="window.__pwned=2;alert(2)">', '<script>window.__pwned=5;alert(5)</script>', 'javascript:alert(4)', '"><svg onload=alert(3)>', '</td></tr></table><script>alert(8)</script>', '<script>window.__pwned=9;alert(9)</script>.txt', 'javascript:alert(10)', '</pre><script>window.__pwned=12;alert(12)</script>', '<script>alert(13)</script>', '<img src=x onerror=alert(14)>']) {
        t.ok(dom.text.includes(s), `${label}: shown as text: ${s}`)
      }
      t.notOk(dom.text.includes('\u202E'), `${label}: no RTL override reaches the page`)
      t.match(dom.text, /invoice⟨U\+202E⟩fdp\.exe/, `${label}: the override is shown where it was`)
      t.match(dom.text, /⟨U\+202E⟩1\.0\.0\.721/)
      if (!bypassCSP) {
        t.comment(`screenshot: ${await screenshot(b.page, 'hostile-case-full', { fullPage: true })}`)
        await b.page.locator('#timeline-rows').scrollIntoViewIfNeeded()
        t.comment(`screenshot: ${await screenshot(b.page, 'hostile-case')}`)
        await b.page.locator('#artifacts').scrollIntoViewIfNeeded()
        t.comment(`screenshot: ${await screenshot(b.page, 'hostile-case-artifacts')}`)
      }
    }
  })
})
