/**
 * The pieces of a disk image: partition layouts per bootloader and version, the dual-boot META
 * marker, the META ADV (decoded by the test-side reader), grub.cfg and the BIOS boot patches,
 * the XFS protofile, FAT type choice, loader.conf, the OVF descriptor, compressor flags, and the
 * sparse copies (holes stay holes, with and without SEEK_DATA).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, chmod, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { ImagerToolError } from '../../builder/imager/errors.ts'
import { diskMetaValues, diskPartitions } from '../../builder/imager/disk-layout.ts'
import { encodeAdv, metaPartitionHead, ADV_DATA_LENGTH } from '../../builder/imager/meta-partition.ts'
import { grubConfig, patchBiosGrub } from '../../builder/imager/grub-disk.ts'
import { grubQuote } from '../../builder/imager/grub.ts'
import { xfsProtofile } from '../../builder/imager/xfs.ts'
import { fatBits } from '../../builder/imager/fat.ts'
import { loaderConf, efiBootPath } from '../../builder/imager/disk.ts'
import { ovfDescriptor, ovfManifest } from '../../builder/imager/ova.ts'
import { compressorFor } from '../../builder/imager/compress.ts'
import { DiskFile, createSparseFile, forEachDataChunk, forceHoleScan } from '../../builder/imager/disk-file.ts'
import { OutputSink } from '../../builder/imager/output.ts'
import { allocatedBytes, decodeAdv } from '../helpers/disk-read.ts'

const MiB = 1024 * 1024

describe('layouts (imager-spec §7.2, factory-spec §6.9)', () => {
  const sizes = (version: string, bl: 'sd-boot' | 'dual-boot' | 'grub') => diskPartitions(version, bl).map((p) => [p.label, p.size / MiB, p.content])
  test.each([
    ['v1.12.0', 'sd-boot', [['EFI', 2101, 'vfat'], ['META', 1, 'zeroes']]],
    ['v1.10.3', 'sd-boot', [['EFI', 1101, 'vfat'], ['META', 1, 'zeroes']]],
    ['v1.11.0', 'dual-boot', [['EFI', 2101, 'vfat'], ['BIOS', 1, 'zeroes'], ['BOOT', 2000, 'xfs'], ['META', 1, 'zeroes']]],
    ['v1.10.0', 'dual-boot', [['EFI', 1101, 'vfat'], ['BIOS', 1, 'zeroes'], ['BOOT', 1000, 'xfs'], ['META', 1, 'zeroes']]],
    ['v1.13.0', 'grub', [['EFI', 100, 'vfat'], ['BIOS', 1, 'zeroes'], ['BOOT', 2000, 'xfs'], ['META', 1, 'zeroes']]],
    ['v1.9.5', 'grub', [['EFI', 100, 'vfat'], ['BIOS', 1, 'zeroes'], ['BOOT', 1000, 'xfs'], ['META', 1, 'zeroes']]],
    ['v1.7.6', 'grub', [['EFI', 100, 'vfat'], ['BIOS', 1, 'zeroes'], ['BOOT', 1000, 'xfs'], ['META', 1, 'zeroes'], ['STATE', 100, 'none'], ['EPHEMERAL', 0, 'none']]],
    ['v1.7.6', 'sd-boot', [['EFI', 1101, 'vfat'], ['META', 1, 'zeroes'], ['STATE', 100, 'none'], ['EPHEMERAL', 0, 'none']]],
  ] as const)('%s %s', (version, bl, want) => {
    expect(sizes(version, bl)).toEqual(want.map((w) => [...w]))
  })

  test('META key 0x11 "dual-boot" only for amd64 dual-boot images of Talos ≥ 1.10, after the profile values', () => {
    const v = [{ key: 0xa, value: 'x' }]
    expect(diskMetaValues(v, 'v1.12.0', 'dual-boot', 'amd64', false)).toEqual([{ key: 0xa, value: 'x' }, { key: 0x11, value: 'dual-boot' }])
    expect(diskMetaValues([], 'v1.10.0', 'dual-boot', 'amd64', false)).toEqual([{ key: 0x11, value: 'dual-boot' }])
    expect(diskMetaValues(v, 'v1.9.0', 'dual-boot', 'amd64', false)).toEqual(v)
    expect(diskMetaValues(v, 'v1.12.0', 'grub', 'amd64', false)).toEqual(v)
    expect(diskMetaValues(v, 'v1.12.0', 'sd-boot', 'amd64', true)).toEqual(v)
    expect(diskMetaValues([], 'v1.12.0', 'sd-boot', 'arm64', false)).toEqual([])
  })
})

describe('META partition (imager-spec §7.7)', () => {
  test('ADV: values in order, a repeated key replaced in place, checksum and magics verified by the test reader', () => {
    const adv = Buffer.from(encodeAdv([{ key: 0xa, value: 'first' }, { key: 0xc, value: 'ünïcode' }, { key: 0xa, value: 'second' }]))
    expect(adv.length).toBe(256 * 1024)
    expect(decodeAdv(adv)).toEqual([{ key: 0xa, value: 'second' }, { key: 0xc, value: 'ünïcode' }])
    expect(adv.subarray(0, 4).toString('hex')).toBe('5a4b3c2d')
    expect(adv.readUInt32BE(4)).toBe(0xa)
    expect(adv.readUInt32BE(8)).toBe(6)
  })

  test('two identical copies; the payload limit is the reference’s', () => {
    const head = Buffer.from(metaPartitionHead([{ key: 6, value: 'A' }]))
    expect(head.length).toBe(512 * 1024)
    expect(head.subarray(0, 256 * 1024).equals(head.subarray(256 * 1024))).toBe(true)
    expect(decodeAdv(Buffer.from(encodeAdv([{ key: 1, value: "x".repeat(ADV_DATA_LENGTH - 8) }])))[0]!.value.length).toBe(ADV_DATA_LENGTH - 8)
    expect(() => encodeAdv([{ key: 1, value: 'x'.repeat(ADV_DATA_LENGTH - 7) }])).toThrow(InvalidInputError)
  })
})

describe('GRUB', () => {
  test('grub.cfg as the reference writes it, with the reset entry and escaping', () => {
    expect(grubConfig({ version: 'v1.12.0', cmdline: 'talos.platform=metal a=$b;c', reset: true })).toBe(
      'set default="A - Talos v1.12.0"\n\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n' +
        'menuentry "A - Talos v1.12.0" {\n  set gfxmode=auto\n  set gfxpayload=text\n  linux /A/vmlinuz talos.platform=metal a=\\$b\\;c\n  initrd /A/initramfs.xz\n}\n' +
        'menuentry "Reset Talos installation and return to maintenance mode" {\n  set gfxmode=auto\n  set gfxpayload=text\n' +
        '  linux /A/vmlinuz talos.platform=metal a=\\$b\\;c talos.experimental.wipe=system:EPHEMERAL,STATE\n  initrd /A/initramfs.xz\n}\n',
    )
    expect(grubConfig({ version: 'v1.3.0', cmdline: 'x', reset: false })).not.toContain('Reset')
    expect(grubQuote('\\{}&$|;<>"x')).toBe('\\\\\\{\\}\\&\\$\\|\\;\\<\\>\\"x')
  })

  test('BIOS patches: boot.img gets the core LBA and NOPs, core.img the blocklist start; only 446 bytes of MBR code', () => {
    const boot = new Uint8Array(512).fill(0xcc)
    const core = new Uint8Array(3 * 512).fill(0xdd)
    const { mbr, core: patched } = patchBiosGrub({ boot, core }, 4304896, MiB)
    expect(mbr.byteLength).toBe(446)
    const m = Buffer.from(mbr)
    expect(m.readBigUInt64LE(0x5c)).toBe(4304896n)
    expect([m[0x66], m[0x67]]).toEqual([0x90, 0x90])
    expect(Buffer.from(patched).readBigUInt64LE(0x1f4)).toBe(4304897n)
    expect(patched[0x1fc]).toBe(0xdd)
    expect(boot[0x5c]).toBe(0xcc)
    expect(() => patchBiosGrub({ boot, core: new Uint8Array(MiB + 1) }, 1, MiB)).toThrow('does not fit')
  })
})

describe('files', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'disk-parts-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('XFS protofile: root, files before subdirectories, sorted, modes, symlinks, `$` closing each directory', async () => {
    const root = join(dir, 'boot')
    await mkdir(join(root, 'grub'), { recursive: true })
    await mkdir(join(root, 'A'), { recursive: true })
    await writeFile(join(root, 'A/vmlinuz'), 'k')
    await writeFile(join(root, 'A/initramfs.xz'), 'i')
    await writeFile(join(root, 'grub/grub.cfg'), 'c')
    await writeFile(join(root, 'top'), 't')
    await symlink('A/vmlinuz', join(root, 'link'))
    await chmod(root, 0o755)
    for (const d of ['A', 'grub']) await chmod(join(root, d), 0o755)
    await chmod(join(root, 'grub/grub.cfg'), 0o600)
    await chmod(join(root, 'A/vmlinuz'), 0o4755)
    for (const f of ['A/initramfs.xz', 'top']) await chmod(join(root, f), 0o644)
    expect(await xfsProtofile(root)).toBe(
      [
        '/',
        '0 0',
        'd--755 0 0',
        ` link l--777 0 0 A/vmlinuz`,
        ` top ---644 0 0 ${root}/top`,
        ' A d--755 0 0',
        `  initramfs.xz ---644 0 0 ${root}/A/initramfs.xz`,
        `  vmlinuz -u-755 0 0 ${root}/A/vmlinuz`,
        ' $',
        ' grub d--755 0 0',
        `  grub.cfg ---600 0 0 ${root}/grub/grub.cfg`,
        ' $',
        '$',
        '',
      ].join('\n'),
    )
    await writeFile(join(root, 'has space'), 'x')
    await expect(xfsProtofile(root)).rejects.toThrow(ImagerToolError)
  })

  test('FAT32 unless the partition is too small for it with 4 KiB sectors', () => {
    expect(fatBits(100 * MiB, 512)).toBe(32)
    expect(fatBits(2101 * MiB, 4096)).toBe(32)
    expect(fatBits(100 * MiB, 4096)).toBe(16)
  })

  test('loader.conf, removable-media loader paths', () => {
    expect(loaderConf(null)).toBe('# systemd-boot configuration\n\ntimeout 10\n')
    expect(loaderConf('force')).toBe('# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll force\n')
    expect(efiBootPath('amd64')).toBe('EFI/boot/BOOTX64.efi')
    expect(efiBootPath('arm64')).toBe('EFI/boot/BOOTAA64.efi')
  })

  test('OVF descriptor and manifest', () => {
    const ovf = ovfDescriptor({ vmdkSize: 12345, diskSize: 11736711168 })
    expect(ovf).toStartWith('<?xml version="1.0" encoding="UTF-8"?>\n')
    expect(ovf).toContain('ovf:href="disk.vmdk" ovf:size="12345"')
    expect(ovf).toContain('ovf:capacity="11193" ovf:capacityAllocationUnits="byte * 2^20"')
    expect(ovf).toContain('vmw:osType="other3xLinux64Guest"')
    expect(ovf).toContain('<vssd:VirtualSystemType>vmx-15</vssd:VirtualSystemType>')
    expect(ovf).toContain('ovf:key="talos.config"')
    expect(ovf).toContain('ovf:transport="com.vmware.guestInfo"')
    expect(ovf.match(/<[A-Za-z:]+[ >]/g)?.length).toBe(ovf.match(/<\/[A-Za-z:]+>|\/>/g)?.length)
    expect(ovfManifest('aa', 'bb')).toBe('SHA256(disk.vmdk)= aa\nSHA256(disk.ovf)= bb\n')
  })

  test('compressors: multi-threaded, stdout, reference levels for xz and gzip', () => {
    expect(compressorFor('raw')).toBeNull()
    expect(compressorFor('.zst')).toEqual({ cmd: 'zstd', args: ['-c', '-q', '-3', '-T0'] })
    expect(compressorFor('.xz')).toEqual({ cmd: 'xz', args: ['-z', '-c', '-q', '-0', '-T0'] })
    expect(compressorFor('.gz')).toEqual({ cmd: 'pigz', args: ['-c', '-6', '--no-time'] })
    expect(compressorFor('.tar.gz')).toEqual(compressorFor('.gz'))
  })

  test.each([false, true])('sparse copies keep holes and data (hole scan forced: %p)', async (scan) => {
    forceHoleScan(scan)
    try {
      const src = join(dir, `src-${scan}`)
      await createSparseFile(src, 64 * MiB)
      const fh = await open(src, 'r+')
      await fh.write(Buffer.from('start'), 0, 5, 0)
      await fh.write(Buffer.from('middle'), 0, 6, 20 * MiB + 7)
      await fh.write(Buffer.alloc(MiB), 0, MiB, 30 * MiB) // allocated zeros stay out of the copy
      await fh.write(Buffer.from('end'), 0, 3, 64 * MiB - 3)
      await fh.close()
      const seen: [number, number][] = []
      expect(await forEachDataChunk(src, Number.MAX_SAFE_INTEGER, async (o, d) => void seen.push([o, o + d.byteLength]))).toBe(64 * MiB)
      const covers = (at: number) => seen.some(([a, b]) => a <= at && at < b)
      expect([0, 20 * MiB + 7, 64 * MiB - 1].every(covers)).toBe(true)
      expect(seen.some(([a, b]) => a < 31 * MiB && b > 30 * MiB)).toBe(false)
      expect(seen.reduce((n, [a, b]) => n + b - a, 0)).toBeLessThanOrEqual(3 * 128 * 1024)

      const disk = await DiskFile.create(join(dir, `disk-${scan}`), 128 * MiB)
      await disk.place(src, 32 * MiB, 64 * MiB)
      expect(Buffer.from(await disk.readAt(32 * MiB + 20 * MiB + 7, 6)).toString()).toBe('middle')
      await disk.close()
      expect(await allocatedBytes(join(dir, `disk-${scan}`))).toBeLessThan(2 * MiB)

      const out = join(dir, `out-${scan}`)
      const sink = await OutputSink.open(out)
      await sink.write(Buffer.from('HDR'))
      await sink.appendSparseFile(src)
      await sink.close({ sync: false })
      const data = await readFile(out)
      expect(data.length).toBe(3 + 64 * MiB)
      expect(data.subarray(0, 8).toString()).toBe('HDRstart')
      expect(data.subarray(3 + 20 * MiB + 7, 3 + 20 * MiB + 13).toString()).toBe('middle')
      expect(data.subarray(data.length - 3).toString()).toBe('end')
      expect(await allocatedBytes(out)).toBeLessThan(2 * MiB)
    } finally {
      forceHoleScan(false)
    }
  })
})
