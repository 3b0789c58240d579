/**
 * A PDF LZWDecode encoder (ISO 32000-1 §7.4.4: codes of 9 to 12 bits, most significant bit
 * first, EarlyChange 1, 256 = clear table, 257 = end of data), for test PDFs whose content
 * stream pdf.js must decode synchronously: it inflates FlateDecode streams asynchronously
 * (DecompressionStream), which hands the event loop turns that LZW does not.
 */

const CLEAR = 256
const END = 257
const FIRST = 258
/** Codes given out before the table is cleared (the decoder holds 4096). */
const TABLE_FULL = 4000

/** The code lengths the decoder reads with, tracked the way it tracks them. */
class DecoderWidth {
  next = FIRST
  width = 9
  first = true
  /** The decoder adds a table entry for every code but the first after a clear. */
  read() {
    if (!this.first) {
      this.next++
      if (((this.next + 1) & this.next) === 0) this.width = Math.min(Math.log2(this.next + 1) + 1, 12)
    }
    this.first = false
  }
  clear() {
    this.next = FIRST
    this.width = 9
    this.first = true
  }
}

/**
 * The codes of `bytes` (plain LZW), cut at the first code boundary past `TABLE_FULL` table
 * entries where `cutWhere(position)` holds; `used` says how many bytes they cover.
 */
function lzwCodes(bytes: Uint8Array, cutWhere: (position: number) => boolean): { codes: number[]; used: number } {
  const table = new Map<number, number>()
  const codes: number[] = []
  let next = FIRST
  let w = bytes[0]
  for (let i = 1; i < bytes.length; i++) {
    const c = bytes[i]
    const key = w * 256 + c
    const known = table.get(key)
    if (known !== undefined) {
      w = known
      continue
    }
    codes.push(w)
    if (next >= TABLE_FULL && cutWhere(i)) return { codes, used: i }
    if (next >= 4090) throw new Error('lzwCodes: no place to cut before the table is full')
    table.set(key, next++)
    w = c
  }
  codes.push(w)
  return { codes, used: bytes.length }
}

/** Packs codes, each table's codes followed by a clear, into one LZWDecode stream. */
function pack(tables: number[][]): Uint8Array {
  const out: number[] = []
  const width = new DecoderWidth()
  let bits = 0
  let pending = 0
  const put = (code: number) => {
    pending = (pending << width.width) | code
    bits += width.width
    while (bits >= 8) {
      out.push((pending >>> (bits - 8)) & 0xff)
      bits -= 8
    }
    pending &= (1 << bits) - 1
  }
  for (const codes of tables) {
    for (const code of codes) {
      put(code)
      width.read()
    }
    put(CLEAR)
    width.clear()
  }
  put(END)
  if (bits > 0) out.push((pending << (8 - bits)) & 0xff)
  return new Uint8Array(out)
}

/**
 * `head`, then `unit` repeated until about `bytes` in all, then `tail`, LZW-encoded. The
 * repetition is encoded once, for a table's worth of whole units, and its codes are repeated,
 * so tens of MB take milliseconds and come to about 1/200 of their size.
 */
export function lzwRepeated(head: string, unit: string, bytes: number, tail: string): Uint8Array {
  const enc = new TextEncoder()
  const unitBytes = enc.encode(unit)
  const sample = enc.encode(unit.repeat(Math.ceil((4 * 1024 * 1024) / unit.length)))
  const cycle = lzwCodes(sample, (position) => position % unitBytes.length === 0)
  if (cycle.used === sample.length) throw new Error('lzwRepeated: the unit does not fill a table')
  const cycles = Math.max(1, Math.round(bytes / cycle.used))
  const tables = [lzwCodes(enc.encode(head), () => false).codes]
  for (let i = 0; i < cycles; i++) tables.push(cycle.codes)
  tables.push(lzwCodes(enc.encode(tail), () => false).codes)
  return pack(tables)
}
