/**
 * The META partition's contents (imager-spec §7.7): the Talos ADV, two identical 256 KiB copies
 * at offsets 0 and 256 KiB, big-endian `magic1 | {tag u32, size u32, value}… | zero fill |
 * SHA-256 | magic2`. The legacy syslinux ADV at the end of the partition stays zero, as in a
 * fresh reference image.
 *
 * Entries keep the order of first appearance (a later value for the same key replaces the
 * earlier one in place, as the reference's map does); the reference's order is Go map order, so
 * images with more than one key are not byte-identical to it, but decode to the same values.
 */
import { createHash } from 'node:crypto'
import { InvalidInputError } from '../../src/errors.ts'
import type { MetaValue } from '../../src/schematic/types.ts'

export const ADV_LENGTH = 256 * 1024
const MAGIC1 = 0x5a4b3c2d
const MAGIC2 = 0xa5b4c3d2
/** payload room: the block minus magic1, checksum and magic2 (and the reference's 4 spare bytes) */
export const ADV_DATA_LENGTH = ADV_LENGTH - 40

/** One ADV copy for `values` (UTF-8 values). Throws InvalidInputError when they do not fit. */
export function encodeAdv(values: readonly MetaValue[]): Uint8Array {
  const byKey = new Map<number, Uint8Array>()
  for (const v of values) byKey.set(v.key, new TextEncoder().encode(v.value))
  let size = 0
  for (const value of byKey.values()) size += 8 + value.byteLength
  if (size > ADV_DATA_LENGTH) throw new InvalidInputError(`META values take ${size} bytes, more than the ${ADV_DATA_LENGTH} the META partition holds`)

  const buf = new Uint8Array(ADV_LENGTH)
  const dv = new DataView(buf.buffer)
  dv.setUint32(0, MAGIC1)
  let o = 4
  for (const [key, value] of byKey) {
    dv.setUint32(o, key)
    dv.setUint32(o + 4, value.byteLength)
    buf.set(value, o + 8)
    o += 8 + value.byteLength
  }
  dv.setUint32(ADV_LENGTH - 4, MAGIC2)
  buf.set(createHash('sha256').update(buf).digest(), ADV_LENGTH - 36)
  return buf
}

/** What goes at the start of the META partition: both ADV copies (the rest stays zero). */
export function metaPartitionHead(values: readonly MetaValue[]): Uint8Array {
  const adv = encodeAdv(values)
  const out = new Uint8Array(2 * ADV_LENGTH)
  out.set(adv, 0)
  out.set(adv, ADV_LENGTH)
  return out
}
