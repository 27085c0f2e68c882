import t from 'tap'
import { canonicalJson, canonicalBytes } from '../forensics/canonical-json.js'
import { sha256Hex, hexToBase64, base64ToHex, isSha256Hex, HashingStream } from '../forensics/hash.js'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'

t.test('RFC 8785 examples', async (t) => {
  // key order by UTF-16 code units, from RFC 8785 section 3.2.3
  const sorted = canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' })
  const order = ['Carriage Return', 'One', 'Control', 'Latin Small', 'Euro Sign', 'Emoji', 'Hebrew'].map((v) => sorted.indexOf(v))
  t.same(order, [...order].sort((a, b) => a - b), 'members in UTF-16 code unit order')
  t.ok(order.every((i) => i > 0))
  // numbers use the ECMAScript shortest form
  t.equal(canonicalJson([1e21, 1e-7, -0, 0.1, 333333333.3333333]), '[1e+21,1e-7,0,0.1,333333333.3333333]')
  t.equal(canonicalJson({ b: [true, null, 'x\n"'], a: { d: 1, c: undefined } }), '{"a":{"d":1},"b":[true,null,"x\\n\\""]}')
  t.equal(canonicalJson([undefined]), '[null]')
  t.equal(canonicalJson(new Date('2026-11-29T10:00:00Z')), '"2026-11-29T10:00:00.000Z"')
  t.same(canonicalBytes({ a: 'é' }), Buffer.from('{"a":"é"}'))
})

t.test('refuses what JSON cannot carry', async (t) => {
  t.throws(() => canonicalJson({ a: NaN }), { name: 'ValidationError', message: /\$\.a/ })
  t.throws(() => canonicalJson([Infinity]), { name: 'ValidationError' })
  t.throws(() => canonicalJson({ f: () => 1 }), { name: 'ValidationError', message: /function/ })
  t.throws(() => canonicalJson(10n), { name: 'ValidationError' })
})

t.test('hash helpers', async (t) => {
  const hex = sha256Hex('abc')
  t.equal(hex, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(base64ToHex(hexToBase64(hex)), hex)
  t.ok(isSha256Hex(hex))
  t.notOk(isSha256Hex(hex.toUpperCase()))
  t.notOk(isSha256Hex(42))
  const h = new HashingStream()
  await pipeline(Readable.from([Buffer.from('a'), Buffer.from('bc')]), h, new Writable({ write: (_c, _e, cb) => cb() }))
  t.equal(h.digestHex(), hex)
  t.equal(h.digestHex(), hex, 'digest is stable')
  t.equal(h.bytes, 3)
})
