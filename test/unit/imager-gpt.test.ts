/**
 * The GPT writer (imager-spec §7.2): the reference's label-derived GUIDs, its allocation (1 MiB
 * alignment, back-to-back partitions, a size-0 partition taking the rest), 4 KiB sectors, the
 * overlay's skipped LBAs, and the on-disk structures checked by a test-side parser (CRCs, backup
 * header, protective MBR). Independent tools read real images in test/integration/imager-disk.
 */
import { describe, expect, test } from 'bun:test'
import { crc32 } from 'node:zlib'
import { InvalidInputError } from '../../src/errors.ts'
import { ATTR_LEGACY_BIOS_BOOTABLE, guidFromBytes, guidFromLabel, guidToBytes, gptWrites, PARTITION_TYPE, planGpt, type PartitionSpec } from '../../builder/imager/gpt.ts'
import { diskPartitions } from '../../builder/imager/disk-layout.ts'

const MiB = 1024 * 1024

test.each([
  ['talos-image-disk', 'D92D45B3-CDE9-8760-BE9F-A2A71FAC8D11'],
  ['EFI', 'BCA5174B-0118-8A6A-AF0B-2C6E1585ACAE'],
  ['BIOS', 'A2A02FF5-D88D-8E6E-9C95-26B9B6C80BC3'],
  ['BOOT', '24C73076-4092-85DD-9D98-686A2DBF6D81'],
  ['META', 'CF04F137-101E-8EC6-9627-FA3F51CDABB8'],
  ['STATE', 'F7F88648-DF7C-8ACB-B4D2-6F124659D923'],
  ['EPHEMERAL', 'C5E02400-0E5E-80BC-99EC-53B3E45AD6C4'],
  ['IMAGECACHE', '3B5449BC-C21F-8009-8B51-18945967F8DF'],
])('GUIDFromLabel(%s) = %s', (label, guid) => {
  expect(guidFromLabel(label)).toBe(guid)
})

test('GUIDs are stored mixed-endian', () => {
  expect(Buffer.from(guidToBytes(PARTITION_TYPE.efi)).toString('hex')).toBe('28732ac11ff8d211ba4b00a0c93ec93b')
  expect(guidFromBytes(guidToBytes(PARTITION_TYPE.biosBoot))).toBe(PARTITION_TYPE.biosBoot)
})

describe('allocation', () => {
  test('metal amd64 ≥ 1.11, 512-byte sectors: the reference example', () => {
    const l = planGpt(4453302272, 512, diskPartitions('v1.11.0', 'dual-boot'))
    expect(l.partitions.map((p) => [p.label, p.firstLBA, p.lastLBA])).toEqual([
      ['EFI', 2048, 4304895],
      ['BIOS', 4304896, 4306943],
      ['BOOT', 4306944, 8402943],
      ['META', 8402944, 8404991],
    ])
    expect(l.firstUsableLBA).toBe(2048)
    expect(l.lastLBA).toBe(4453302272 / 512 - 1)
    expect(l.backupEntriesLBA).toBe(l.lastLBA - 32)
    expect(l.lastUsableLBA).toBe(l.lastLBA - 33)
    expect(l.partitions[1]!.attributes).toBe(ATTR_LEGACY_BIOS_BOOTABLE)
  })

  test('4096-byte sectors: 4 entry sectors, 256-LBA alignment', () => {
    const l = planGpt(2355101696, 4096, diskPartitions('v1.12.0', 'sd-boot'))
    expect(l.alignment).toBe(256)
    expect(l.primaryEntriesLBA).toBe(2)
    expect(l.firstUsableLBA).toBe(256)
    expect(l.backupEntriesLBA).toBe(l.lastLBA - 4)
    expect(l.partitions.map((p) => [p.label, p.firstLBA, p.lastLBA - p.firstLBA + 1])).toEqual([
      ['EFI', 256, 2101 * 256],
      ['META', 256 + 2101 * 256, 256],
    ])
  })

  test('an overlay offset moves the primary entries and the first usable LBA', () => {
    const l = planGpt(2246 * MiB, 512, diskPartitions('v1.12.0', 'grub'), { skipLBAs: 2048 })
    expect(l.primaryEntriesLBA).toBe(2050)
    expect(l.firstUsableLBA).toBe(4096)
    expect(l.partitions[0]!.firstLBA).toBe(4096)
  })

  test('a size-0 partition ends at the last aligned LBA (EPHEMERAL before Talos 1.8)', () => {
    const l = planGpt(1246 * MiB, 512, diskPartitions('v1.7.6', 'grub'))
    const eph = l.partitions.at(-1)!
    expect(eph.label).toBe('EPHEMERAL')
    expect(eph.firstLBA).toBe(l.partitions.at(-2)!.lastLBA + 1)
    expect(eph.lastLBA + 1).toBe(Math.floor(l.lastUsableLBA / 2048) * 2048)
  })

  test('partitions that do not fit, bad sizes and long names are input errors', () => {
    const efi: PartitionSpec = { label: 'EFI', size: 100 * MiB, type: PARTITION_TYPE.efi }
    expect(() => planGpt(50 * MiB, 512, [efi])).toThrow(InvalidInputError)
    expect(() => planGpt(200 * MiB, 512, [{ ...efi, size: 1000 }])).toThrow(InvalidInputError)
    expect(() => planGpt(200 * MiB, 1024, [efi])).toThrow(InvalidInputError)
    expect(() => gptWrites(planGpt(200 * MiB, 512, [{ ...efi, label: 'x'.repeat(37) }]))).toThrow(InvalidInputError)
  })
})

describe('on-disk structures', () => {
  /** Assembles the pieces into a buffer covering the first and last 64 KiB of a small disk. */
  function image(size: number, sector: number, parts: PartitionSpec[]): { buf: Buffer; size: number } {
    const layout = planGpt(size, sector, parts)
    const buf = Buffer.alloc(size)
    for (const w of gptWrites(layout)) buf.set(w.data, w.offset)
    return { buf, size }
  }

  function header(buf: Buffer, at: number) {
    const h = buf.subarray(at, at + 92)
    const copy = Buffer.from(h)
    copy.writeUInt32LE(0, 16)
    return {
      signature: h.subarray(0, 8).toString(),
      revision: h.readUInt32LE(8),
      size: h.readUInt32LE(12),
      crcOk: crc32(copy) === h.readUInt32LE(16),
      my: Number(h.readBigUInt64LE(24)),
      alternate: Number(h.readBigUInt64LE(32)),
      firstUsable: Number(h.readBigUInt64LE(40)),
      lastUsable: Number(h.readBigUInt64LE(48)),
      disk: guidFromBytes(h.subarray(56, 72)),
      entries: Number(h.readBigUInt64LE(72)),
      count: h.readUInt32LE(80),
      entrySize: h.readUInt32LE(84),
      entriesCrc: h.readUInt32LE(88),
    }
  }

  test.each([512, 4096])('primary and backup headers, entries and CRCs (%d-byte sectors)', (sector) => {
    const size = 64 * MiB
    const { buf } = image(size, sector, [
      { label: 'EFI', size: 8 * MiB, type: PARTITION_TYPE.efi },
      { label: 'BIOS', size: MiB, type: PARTITION_TYPE.biosBoot, attributes: ATTR_LEGACY_BIOS_BOOTABLE },
      { label: 'META', size: MiB, type: PARTITION_TYPE.linux },
    ])
    const last = size / sector - 1
    const p = header(buf, sector)
    const b = header(buf, last * sector)
    expect(p).toMatchObject({ signature: 'EFI PART', revision: 0x10000, size: 92, crcOk: true, my: 1, alternate: last, entries: 2, count: 128, entrySize: 128, disk: 'D92D45B3-CDE9-8760-BE9F-A2A71FAC8D11' })
    expect(b).toMatchObject({ crcOk: true, my: last, alternate: 1, entries: last - 16384 / sector, firstUsable: p.firstUsable, lastUsable: p.lastUsable })
    const entries = buf.subarray(2 * sector, 2 * sector + 16384)
    expect(crc32(entries)).toBe(p.entriesCrc)
    expect(buf.subarray(b.entries * sector, b.entries * sector + 16384).equals(entries)).toBe(true)
    const e1 = entries.subarray(128, 256)
    expect(guidFromBytes(e1.subarray(0, 16))).toBe(PARTITION_TYPE.biosBoot)
    expect(guidFromBytes(e1.subarray(16, 32))).toBe(guidFromLabel('BIOS'))
    expect(e1.readBigUInt64LE(48)).toBe(4n)
    expect(e1.subarray(56, 64).toString('utf16le')).toBe('BIOS')
    expect(entries.subarray(3 * 128).every((x) => x === 0)).toBe(true)
  })

  test('protective MBR: one 0xEE entry from LBA 1, boot code area untouched, length capped at 2^32-1', () => {
    const layout = planGpt(64 * MiB, 512, [{ label: 'EFI', size: MiB, type: PARTITION_TYPE.efi }])
    const pieces = gptWrites(layout)
    expect(pieces.every((w) => w.offset >= 446)).toBe(true)
    const entry = pieces.find((w) => w.offset === 446)!.data
    expect([...entry.subarray(0, 8)]).toEqual([0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff])
    expect(Buffer.from(entry).readUInt32LE(8)).toBe(1)
    expect(Buffer.from(entry).readUInt32LE(12)).toBe(64 * 2048 - 1)
    expect([...pieces.find((w) => w.offset === 510)!.data]).toEqual([0x55, 0xaa])
    const huge = gptWrites(planGpt(4 * 1024 * 1024 * MiB, 512, [{ label: 'EFI', size: MiB, type: PARTITION_TYPE.efi }]))
    expect(Buffer.from(huge.find((w) => w.offset === 446)!.data).readUInt32LE(12)).toBe(0xffffffff)
  })
})
