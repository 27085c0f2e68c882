import t from 'tap'
import {
  validateCaseId,
  deriveCaptureId,
  validateCaptureId,
  validateArtifactPath,
  encodeKeySegment,
  artifactKey,
  manifestKey,
  manifestSignatureKey,
  custodyKey,
  custodySeqFromKey,
  drillReportKey,
} from '../forensics/keys.js'

t.test('case ids', async (t) => {
  t.equal(validateCaseId('IR-2026.11_29'), 'IR-2026.11_29')
  for (const bad of ['', 'a/b', '../x', '..', '.', 'x'.repeat(65), 'a b', 'a\u0000b', 'ü', 42, undefined]) {
    t.throws(() => validateCaseId(bad), { name: 'ValidationError', field: 'caseId' }, `rejects ${JSON.stringify(bad)}`)
  }
})

t.test('capture ids are deterministic per (collector, event)', async (t) => {
  const a = deriveCaptureId('bucket-config', 'evt-1')
  t.equal(a, deriveCaptureId('bucket-config', 'evt-1'))
  t.not(a, deriveCaptureId('bucket-config', 'evt-2'))
  t.not(a, deriveCaptureId('object-versions', 'evt-1'))
  t.match(a, /^bucket-config-[0-9a-f]{20}$/)
  t.equal(validateCaptureId(a), a)
  t.throws(() => validateCaptureId('../x'), { name: 'ValidationError' })
  t.throws(() => deriveCaptureId('Bad Name', 'e'), { name: 'ValidationError' })
  t.throws(() => deriveCaptureId('ok', ''), { name: 'ValidationError', field: 'trigger.id' })
})

t.test('artifact paths refuse hostile input', async (t) => {
  t.equal(validateArtifactPath('config/policy.json'), 'config/policy.json')
  for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', 'a/./b', 'a\u0000b', 'a\\b', 'x'.repeat(513), 7]) {
    t.throws(() => validateArtifactPath(bad), { name: 'ValidationError' }, `rejects ${JSON.stringify(bad).slice(0, 30)}`)
  }
})

t.test('encodeKeySegment makes any key one safe, unique segment', async (t) => {
  const keys = ['../../etc/passwd', '/abs', 'C:\\x', 'CON', 'a b+c%d', 'ü/日本', '.hidden', '', 'x'.repeat(1000), 'x'.repeat(999) + 'y']
  const out = keys.map(encodeKeySegment)
  t.equal(new Set(out).size, keys.length, 'unique')
  for (const s of out) {
    t.match(s, /^[A-Za-z0-9_.%~-]+$/)
    t.notOk(s.startsWith('.'))
    t.ok(s.length <= 180)
    t.doesNotThrow(() => validateArtifactPath(`versions/${s}`))
  }
  t.equal(decodeURIComponent(encodeKeySegment('a b+c%d')), 'a b+c%d')
})

t.test('key layout', async (t) => {
  const c = deriveCaptureId('x', 'e')
  t.equal(artifactKey('case1', c, 'a/b.json'), `cases/case1/captures/${c}/artifacts/a/b.json`)
  t.equal(manifestKey('case1', c), `cases/case1/captures/${c}/manifest.json`)
  t.equal(manifestSignatureKey('case1', c), `cases/case1/captures/${c}/manifest.json.sig`)
  t.equal(custodyKey('case1', 7), 'cases/case1/custody/00000007.json')
  t.equal(custodySeqFromKey(custodyKey('case1', 12)), 12)
  t.equal(custodySeqFromKey('cases/case1/custody/x.json'), undefined)
  t.equal(drillReportKey('d1'), 'drills/d1/report.json')
  t.throws(() => artifactKey('../c', c, 'a'), { name: 'ValidationError' })
})
