import t from 'tap'
import { existsSync } from 'node:fs'
import { serveScans, type FromScanWorker, type ToScanWorker } from '../forensics/inspection/scan-protocol.js'
import { compileRules, compileYaraModule, scanWithRules, yaraWasmPath } from '../forensics/inspection/yara-engine.js'
import { parseIocLists } from '../forensics/inspection/ioc-list.js'
import { inScope, inspectionCaseId, parseUploadEvent } from '../forensics/inspection/upload-event.js'
import { inspectionFromEnv, INSPECTION_ENV } from '../forensics/inspection/inspection-env.js'
import { highestSeverity, inspectObject } from '../forensics/inspection/inspect-object.js'
import { toInspectionFinding, INSPECTION_SCHEMA } from '../forensics/inspection/inspection-result.js'
import { inspectionResultOf, routeInspectionResult } from '../forensics/inspection/route-inspection.js'
import { MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'
import { EICAR, TEST_RULES } from './fixtures/inspection/inspection.js'

/** The worker's side of the protocol, in this thread. */
function inProcessWorker(): { send(m: ToScanWorker): FromScanWorker } {
  let listener: ((m: ToScanWorker) => void) | undefined
  let last: FromScanWorker | undefined
  serveScans({ on: (_e, l) => (listener = l), postMessage: (m) => (last = m) })
  return {
    send(m) {
      listener?.(m)
      return last as FromScanWorker
    },
  }
}

t.test('the scan protocol: load, scan, refuse a bad file by name', async (t) => {
  t.ok(existsSync(yaraWasmPath()), 'the .wasm is found in the package')
  const w = inProcessWorker()
  t.same(w.send({ type: 'load', sources: [{ name: 'test-rules.yar', text: TEST_RULES }] }), { type: 'loaded', rules: 1 })
  const hit = w.send({ type: 'scan', id: 7, data: new Uint8Array(EICAR) })
  t.match(hit, { type: 'matches', id: 7, matches: [{ rule: 'eicar_test_file', severity: 'high', tags: ['test'], patterns: [{ identifier: '$eicar', offset: 28 }] }] })
  t.match(w.send({ type: 'scan', id: 8, data: new TextEncoder().encode('x = DownloadString("http://e") ; IEX $x ; AKIAABCDEFGHIJKLMNOP') }), { matches: [{ rule: 'suspicious_powershell_download', severity: 'medium' }, { rule: 'aws_access_key_in_upload', severity: 'low' }] })
  t.match(w.send({ type: 'load', sources: [{ name: 'ok.yar', text: 'rule a { condition: true }' }, { name: 'broken.yar', text: 'rule b {' }] }), { type: 'load-failed', name: 'RuleLoadError', file: 'broken.yar', message: /broken\.yar does not compile/ })
})

t.test('the engine is compiled once per process and handed to every scan worker', async (t) => {
  const module = await compileYaraModule()
  t.ok(module instanceof WebAssembly.Module, 'the .wasm compiles in the scanner\'s thread')
  t.equal(await compileYaraModule(), module, 'a second scanner gets the same compiled module (V8 shares its machine code with each worker)')
  const exports = WebAssembly.Module.exports(module!).map((e) => e.name)
  t.ok(['compiler_new', 'compiler_build', 'rules_scan'].every((n) => exports.includes(n)), 'it is the YARA-X engine the worker instantiates')
  const w = inProcessWorker()
  t.same(w.send({ type: 'load', sources: [{ name: 'test-rules.yar', text: TEST_RULES }], module }), { type: 'loaded', rules: 1 }, 'a load request carrying the module compiles the rules')
})

t.test('severity comes from meta, case-insensitive; unknown or missing is medium', async (t) => {
  const rules = compileRules([{ name: 'sev.yar', text: 'rule a { meta: severity = "CRITICAL" condition: true } rule b { meta: severity = "whatever" condition: true } rule c { condition: true }' }])
  t.same(scanWithRules(rules, new Uint8Array([1])).map((m) => [m.rule, m.severity]), [['a', 'critical'], ['b', 'medium'], ['c', 'medium']])
  rules.free()
  t.equal(highestSeverity(['low', 'critical', 'medium']), 'critical')
  t.equal(highestSeverity([]), undefined)
})

t.test('IOC lists: sha256sum output, comments, upper case; a bad line names file and line', async (t) => {
  const idx = parseIocLists([{ name: 'a.txt', text: `# header\n\n${'A'.repeat(64)}  evil.exe\r\n` }, { name: 'b.txt', text: `${'a'.repeat(64)}\n${'b'.repeat(64)}\n` }])
  t.same([...idx.entries()], [['a'.repeat(64), 'a.txt'], ['b'.repeat(64), 'b.txt']], 'first list wins a duplicate')
  t.throws(() => parseIocLists([{ name: 'c.txt', text: `${'a'.repeat(64)}\nmd5:abc\n` }]), { name: 'ValidationError', message: /IOC list c\.txt line 2 is not a SHA-256: "md5:abc"/ })
})

t.test('upload events: EventBridge and own shapes, scope, case ids', async (t) => {
  const now = () => new Date('2026-12-02T08:00:00Z')
  t.match(parseUploadEvent({ bucket: 'b-1', key: 'k', versionId: 'v1', id: 'mine' }, now), { bucket: 'b-1', key: 'k', versionId: 'v1', eventId: 'mine', time: '2026-12-02T08:00:00.000Z' })
  t.match(parseUploadEvent({ bucket: 'b-1', key: 'k' }, now).eventId, /^event:[0-9a-f]{64}$/, 'a stable id without one')
  t.match(parseUploadEvent({ source: 'aws.s3', 'detail-type': 'Object Created', time: 1764662400, detail: { bucket: { name: 'b-1' }, object: { key: 'k' } } }, now), { time: '2026-12-02T08:00:00.000Z', eventId: /^event:/ }, 'a non-string time is not trusted')
  t.throws(() => parseUploadEvent('x'), /must be a JSON object/)
  t.throws(() => parseUploadEvent({ bucket: 'b-1' }), { name: 'ValidationError', message: /needs "bucket" and "key"/ })
  t.throws(() => parseUploadEvent({ key: 'k' }), { name: 'ValidationError', message: /needs "bucket"/ })
  t.throws(() => parseUploadEvent({ 'detail-type': 'Object Created', detail: { bucket: { name: 'b' } } }), /without detail\.bucket\.name or detail\.object\.key/)
  t.throws(() => parseUploadEvent({ source: 'aws.s3', 'detail-type': 'Object Created', detail: 'x' }), /without detail/)
  const buckets = [{ bucket: 'b-1', prefixes: [], account: '1' }, { bucket: 'b-2', prefixes: ['in/'], account: '1' }]
  t.ok(inScope(buckets, 'b-1', 'anything'))
  t.ok(inScope(buckets, 'b-2', 'in/x'))
  t.notOk(inScope(buckets, 'b-2', 'out/x'))
  t.notOk(inScope(buckets, 'b-3', 'in/x'))
  const u = { bucket: 'a'.repeat(63), key: 'k', eventId: 'e', time: '2026-12-02T00:00:00Z' }
  t.equal(inspectionCaseId({ caseIdTemplate: 'inspection-{bucket}-{date}' }, u).length, 64, 'cut to 64 characters')
})

t.test('FORENSICS_INSPECTION: missing, not JSON, invalid', async (t) => {
  t.throws(() => inspectionFromEnv({}), { name: 'ValidationError', message: /FORENSICS_INSPECTION is not set/ })
  t.throws(() => inspectionFromEnv({ [INSPECTION_ENV]: '{' }), /is not JSON/)
  t.throws(() => inspectionFromEnv({ [INSPECTION_ENV]: JSON.stringify({ enabled: true }) }), /is invalid: inspection\.buckets/)
})

t.test('inspectObject: read failures and longer-than-announced bodies', async (t) => {
  const opts = { iocs: new Map<string, string>(), maxObjectBytes: 8, timeBudgetMs: 1000 }
  const failing = { name: 'f', open: async () => ({ body: (async function* () { yield new Uint8Array(3); throw new Error('connection reset') })() }) }
  t.match(await inspectObject(failing, opts), { verdict: 'error', size: 3, reason: /reading f failed after 3 bytes: connection reset/ })
  let destroyed = false
  const lying = { name: 'l', open: async () => ({ size: 4, body: Object.assign((async function* () { yield new Uint8Array(6); yield new Uint8Array(6) })(), { destroy: () => (destroyed = true) }) }) }
  t.match(await inspectObject(lying, opts), { verdict: 'skipped-too-large', size: 12 })
  t.ok(destroyed, 'the body is closed')
  const ioc = new Map([['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'empty.txt']])
  const slowScanner = { scan: async () => { throw new Error('over budget') } }
  const empty = { name: 'e', open: async () => ({ body: (async function* () {})() }) }
  t.match(await inspectObject(empty, { ...opts, iocs: ioc, scanner: slowScanner }), { verdict: 'hit', severity: 'high', reason: /over budget/ }, 'a known hash stays a hit when the scan fails')
})

t.test('results: findings for every verdict, malformed results refused', async (t) => {
  const base = { schema: INSPECTION_SCHEMA, eventId: 'e1', inspectedAt: '2026-12-02T00:00:00Z', reportClean: false } as const
  const local = toInspectionFinding({ ...base, verdict: { verdict: 'deleted', object: { name: '/tmp/x' }, rules: [], iocs: [] } })
  t.match(local, { severity: 'Informational', evidences: [], resources: [{ uid: '/tmp/x', name: '/tmp/x' }], finding_info: { analytic: { name: 'inspection' } } })
  t.equal(inspectionResultOf({ schema: 'other' }), undefined)
  t.throws(() => inspectionResultOf({ schema: INSPECTION_SCHEMA, verdict: {} }), /without verdict or eventId/)
  const hit = { ...base, verdict: { verdict: 'hit' as const, severity: 'high' as const, object: { name: 's3://b/k', bucket: 'b', key: 'k' }, rules: [], iocs: [] }, capture: { caseId: 'c', bucket: 'b', keys: ['k'], id: 'inspection:e1' } }
  await t.rejects(routeInspectionResult(hit, { siem: new MemorySiemPublisher() }), { name: 'ValidationError', message: /FORENSICS_CAPTURE_FUNCTIONS/ }, 'a hit that asks for a capture needs an invoker')
})
