/**
 * IP address and CIDR matching for `sourceIPAddress` filters (IPv4 and IPv6, including
 * IPv4-mapped IPv6). CloudTrail also writes service names there ("s3.amazonaws.com",
 * "AWS Internal"): those are not addresses and match no CIDR.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { ValidationError } from '../errors.js'

/** A parsed address: 4 or 16 bytes as a bigint plus its bit width. */
interface ParsedIp {
  bits: 32 | 128
  value: bigint
}

/** A compiled `IP` or `IP/len` filter value. */
export interface IpMatcher {
  /** The filter as the user wrote it. */
  source: string
  /** True when `address` (a `sourceIPAddress` value) lies in the range. */
  matches(address: string): boolean
}

function parseIPv4(text: string): bigint {
  let v = 0n
  for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part))
  return v
}

function parseIPv6(text: string): bigint {
  let s = text
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  let tailV4: bigint | undefined
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.', lastColon)) {
    tailV4 = parseIPv4(s.slice(lastColon + 1))
    s = s.slice(0, lastColon + 1) + '0:0'
  }
  const [head, tail] = s.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  let v = 0n
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16))
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4
  return v
}

/** Parses an address; undefined when `text` is not an IP address. */
export function parseIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) return { bits: 32, value: parseIPv4(text) }
  if (isIPv6(text)) {
    const value = parseIPv6(text)
    // ::ffff:a.b.c.d compares as the IPv4 address it carries.
    if (value >> 32n === 0xffffn) return { bits: 32, value: value & 0xffffffffn }
    return { bits: 128, value }
  }
  return undefined
}

/**
 * Compiles `10.0.0.0/8`, `2001:db8::/32` or a single address. Throws a ValidationError
 * naming the value when it is neither.
 */
export function compileIpMatcher(spec: string): IpMatcher {
  const slash = spec.indexOf('/')
  const addrText = slash >= 0 ? spec.slice(0, slash) : spec
  const ip = parseIp(addrText)
  const lenText = slash >= 0 ? spec.slice(slash + 1) : undefined
  const len = lenText === undefined ? ip?.bits : /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN
  if (!ip || len === undefined || !(len >= 0 && len <= (isIPv4(addrText) ? 32 : 128))) {
    throw new ValidationError(`source IP filter '${spec}' is not an IP address or CIDR block (e.g. 203.0.113.7 or 203.0.113.0/24 or 2001:db8::/32)`, { field: 'sourceIp' })
  }
  // A /len on an IPv4-mapped IPv6 address counts the 96 mapped prefix bits.
  const effLen = ip.bits === 32 && !isIPv4(addrText) ? Math.max(0, len - 96) : len
  const shift = BigInt(ip.bits - effLen)
  const network = ip.value >> shift
  return {
    source: spec,
    matches(address: string): boolean {
      const a = parseIp(address)
      return a !== undefined && a.bits === ip.bits && a.value >> shift === network
    },
  }
}
