/**
 * Test-side PE reader, independent of the imager's code: the section table of a PE file with
 * each section's contents (its first VirtualSize bytes), in table order.
 */
export interface PeSectionContents {
  name: string
  vma: number
  data: Buffer
}

export function peSections(buf: Buffer): PeSectionContents[] {
  const pe = buf.readUInt32LE(0x3c)
  if (buf.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error('not a PE file')
  const n = buf.readUInt16LE(pe + 6)
  const opt = buf.readUInt16LE(pe + 20)
  const table = pe + 24 + opt
  const out: PeSectionContents[] = []
  for (let i = 0; i < n; i++) {
    const o = table + 40 * i
    const name = buf.subarray(o, o + 8).toString('latin1').replace(/\0+$/, '')
    const vsize = buf.readUInt32LE(o + 8)
    const vma = buf.readUInt32LE(o + 12)
    const ptr = buf.readUInt32LE(o + 20)
    out.push({ name, vma, data: buf.subarray(ptr, ptr + vsize) })
  }
  return out
}

/** Contents of the first section called `name`, as text. */
export function sectionText(buf: Buffer, name: string): string | undefined {
  return peSections(buf).find((s) => s.name === name)?.data.toString('utf8')
}
