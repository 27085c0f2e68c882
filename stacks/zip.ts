/**
 * A deterministic ZIP writer for Lambda code (one file, or a handler with its assets). cdktf's own directory archiving
 * starts one child Node.js process per asset; writing the archive here keeps synth in one
 * process and makes the archive bytes (and so Lambda's CodeSha256) a function of the code
 * alone: fixed timestamp, fixed permissions, no extra fields.
 */
import { deflateRawSync } from 'node:zlib'

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32 (IEEE), as ZIP requires. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

// 1980-01-01 00:00:00, the earliest DOS date: no build time leaks into the archive.
const DOS_TIME = 0
const DOS_DATE = (0 << 9) | (1 << 5) | 1

/**
 * The fields the local header (from offset 4) and the central directory header (from
 * offset 6) share, in the same order: version needed 2.0, UTF-8 names, deflate, DOS time
 * and date, CRC-32, compressed and uncompressed size, name length.
 */
function writeCommonFields(header: Buffer, at: number, e: { crc: number; compressed: number; size: number; nameLength: number }): void {
  header.writeUInt16LE(20, at) // version needed: 2.0 (deflate)
  header.writeUInt16LE(0x0800, at + 2) // UTF-8 names
  header.writeUInt16LE(8, at + 4) // deflate
  header.writeUInt16LE(DOS_TIME, at + 6)
  header.writeUInt16LE(DOS_DATE, at + 8)
  header.writeUInt32LE(e.crc, at + 10)
  header.writeUInt32LE(e.compressed, at + 14)
  header.writeUInt32LE(e.size, at + 18)
  header.writeUInt16LE(e.nameLength, at + 22)
}

/** A ZIP archive holding one file (`name`, mode 0644) compressed with deflate. */
export function zipSingleFile(name: string, content: Uint8Array): Buffer {
  return zipFiles([{ name, content }])
}

/** A ZIP archive of several files (in the given order, mode 0644), each compressed with deflate. */
export function zipFiles(files: readonly { name: string; content: Uint8Array }[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const { name, content } of files) {
    const fileName = Buffer.from(name, 'utf8')
    const data = deflateRawSync(content, { level: 6 })
    const crc = crc32(content)
    const entry = { crc, compressed: data.length, size: content.length, nameLength: fileName.length }

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    writeCommonFields(local, 4, entry)
    local.writeUInt16LE(0, 28)

    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4) // made by: Unix, 2.0 (so the mode below applies)
    writeCommonFields(central, 6, entry)
    central.writeUInt16LE(0, 30) // extra
    central.writeUInt16LE(0, 32) // comment
    central.writeUInt16LE(0, 34) // disk
    central.writeUInt16LE(0, 36) // internal attributes
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38) // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42) // local header offset

    locals.push(local, fileName, data)
    centrals.push(central, fileName)
    offset += local.length + fileName.length + data.length
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(0, 4)
  end.writeUInt16LE(0, 6)
  end.writeUInt16LE(files.length, 8)
  end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  end.writeUInt16LE(0, 20)
  return Buffer.concat([...locals, ...centrals, end])
}
