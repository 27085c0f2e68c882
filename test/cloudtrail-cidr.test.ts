/**
 * Source IP filters (forensics/cloudtrail/cidr.ts): IPv4, IPv6 and mapped addresses, CIDR blocks.
 */
import t from 'tap'
import { compileIpMatcher, parseIp } from '../forensics/cloudtrail/cidr.js'

t.test('IPv4, IPv6 and IPv4-mapped addresses parse and match CIDR blocks; malformed blocks are refused', async (t) => {
  t.same(parseIp('10.0.0.1'), { bits: 32, value: 0x0a000001n })
  t.same(parseIp('::ffff:10.0.0.1'), { bits: 32, value: 0x0a000001n }, 'IPv4-mapped compares as IPv4')
  t.same(parseIp('::1'), { bits: 128, value: 1n })
  t.same(parseIp('::'), { bits: 128, value: 0n })
  t.same(parseIp('2001:db8::'), { bits: 128, value: 0x20010db8n << 96n })
  t.same(parseIp('fe80::1%eth0'), { bits: 128, value: (0xfe80n << 112n) | 1n })
  t.same(parseIp('1:2:3:4:5:6:7:8'), { bits: 128, value: 0x00010002000300040005000600070008n })
  t.same(parseIp('64:ff9b::192.0.2.33'), { bits: 128, value: (0x64ff9bn << 96n) | 0xc0000221n })
  t.equal(parseIp('s3.amazonaws.com'), undefined)
  t.equal(parseIp('AWS Internal'), undefined)

  const v4 = compileIpMatcher('10.0.0.0/8')
  t.equal(v4.source, '10.0.0.0/8')
  t.ok(v4.matches('10.200.1.1'))
  t.ok(v4.matches('::ffff:10.1.1.1'))
  t.notOk(v4.matches('11.0.0.1'))
  t.notOk(v4.matches('::a00:1'), 'an IPv6 address is not in an IPv4 block')
  t.notOk(v4.matches('s3.amazonaws.com'))
  t.ok(compileIpMatcher('0.0.0.0/0').matches('8.8.8.8'))
  t.ok(compileIpMatcher('2001:db8::/32').matches('2001:db8:ffff::1'))
  t.notOk(compileIpMatcher('2001:db8::/32').matches('2001:db9::1'))
  t.ok(compileIpMatcher('2001:db8::7').matches('2001:db8:0:0:0:0:0:7'))
  t.ok(compileIpMatcher('::ffff:10.0.0.0/104').matches('10.9.9.9'), 'a mapped /104 is an IPv4 /8')
  t.notOk(compileIpMatcher('::ffff:10.0.0.0/104').matches('11.0.0.1'))
  t.ok(compileIpMatcher('::ffff:10.0.0.0/64').matches('1.2.3.4'), 'a mapped prefix shorter than 96 covers every IPv4 address')
  for (const bad of ['x', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/ab', '10.0.0.0/1234', '::/129', 'foo/8']) {
    t.throws(() => compileIpMatcher(bad), { name: 'ValidationError', field: 'sourceIp' }, bad)
  }
})
