/**
 * Disk images from the native imager (mini release inputs, Debian's systemd-boot), read back with
 * independent tools: sfdisk/sgdisk (table, labels, sizes, GUIDs, 4 KiB sectors), mtools and
 * fsck.vfat (ESP), GRUB's grub-fstest plus xfs_repair/xfs_db (BOOT), a test-side META decoder,
 * qemu-img info/check (qcow2, vhd, vmdk), tar (ova, GCP archive) and the decompressors.
 *
 * Builds are sparse and mostly small (Talos 1.10 GRUB layouts are 1246 MiB); every test sizes
 * its timeout for a busy 2-core machine.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runImager } from '../../builder/imager/index.ts'
import { guidFromLabel } from '../../builder/imager/gpt.ts'
import { ensureMiniRelease, type MiniRelease } from '../helpers/mini-release.ts'
import { makeTestKeys, type TestKeys } from '../helpers/sb-keys.ts'
import { allocatedBytes, fatFiles, fdiskTable, fatRead, grubFstest, qemuImgCheck, qemuImgInfo, readMeta, readRange, sfdiskJson, sgdiskVerify } from '../helpers/disk-read.ts'

const MiB = 1024 * 1024
const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'
const SDBOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi'
const META_VALUE = '{"externalIPs":["1.2.3.4"]}'

let mini: MiniRelease
let legacy: MiniRelease
let work: string
let keys: TestKeys
let n = 0

beforeAll(async () => {
  ;[mini, legacy] = await Promise.all([ensureMiniRelease('modern'), ensureMiniRelease('legacy')])
  work = await mkdtemp(join(tmpdir(), 'imager-disk-'))
  keys = await makeTestKeys(join(work, 'keys'))
}, 300_000)
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

interface DiskProfile {
  version?: string
  bootloader?: string
  diskFormat?: string
  diskFormatOptions?: string
  sectorSize?: number
  outFormat?: string
  diskSize?: number
  platform?: string
  meta?: { key: number; value: string }[]
  secureboot?: boolean
  release?: MiniRelease
}

function profile(o: DiskProfile): string {
  const r = o.release ?? mini
  const lines = ['arch: amd64', `platform: ${o.platform ?? 'metal'}`, `secureboot: ${o.secureboot ?? false}`, `version: ${o.version ?? 'v1.10.0'}`, 'customization:', '  extraKernelArgs: [console=ttyS0]']
  if (o.meta) {
    lines.push('  metaContents:')
    for (const m of o.meta) lines.push(`    - key: ${m.key}`, `      value: ${JSON.stringify(m.value)}`)
  }
  lines.push('input:', `  kernel: {path: ${r.vmlinuz}}`, `  initramfs: {path: ${r.initramfs}}`, `  sdStub: {path: ${STUB}}`, `  sdBoot: {path: ${SDBOOT}}`)
  if (o.secureboot) {
    lines.push('  secureboot:', `    secureBootSigner: {keyPath: ${keys.signingKey}, certPath: ${keys.signingCert}}`, `    pcrSigner: {keyPath: ${keys.pcrKey}}`)
  }
  lines.push('  systemExtensions:', '    - imageRef: ""', `      tarballPath: ${r.extensions.plain}`)
  lines.push('output:', '  kind: image', '  imageOptions:', `    diskSize: ${o.diskSize ?? 1246 * MiB}`, `    diskFormat: ${o.diskFormat ?? 'raw'}`)
  if (o.diskFormatOptions) lines.push(`    diskFormatOptions: ${o.diskFormatOptions}`)
  if (o.sectorSize) lines.push(`    diskSectorSize: ${o.sectorSize}`)
  if (o.bootloader) lines.push(`    bootloader: ${o.bootloader}`)
  lines.push(`  outFormat: ${o.outFormat ?? 'raw'}`, '')
  return lines.join('\n')
}

async function build(o: DiskProfile, name: string): Promise<string> {
  const out = join(work, `${++n}-${name}`)
  await runImager(profile(o), { output: out, cacheDir: join(work, 'cache'), workDir: join(work, 'scratch') })
  return out
}

/** A partition's bytes copied out (sparse) for tools that want a filesystem file. */
async function extract(image: string, offset: number, bytes: number, name: string): Promise<string> {
  const out = join(work, name)
  await execa('dd', [`if=${image}`, `of=${out}`, 'bs=1M', `skip=${offset}`, `count=${bytes}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none'])
  return out
}

const labels = (t: { partitions: { name: string }[] }) => t.partitions.map((p) => p.name)

describe('GRUB layout (Talos 1.10, raw)', () => {
  let img: string
  beforeAll(async () => {
    img = await build({ bootloader: 'grub', meta: [{ key: 0xa, value: META_VALUE }] }, 'grub.raw')
  }, 240_000)

  test('GPT: labels, sizes, types, label-derived GUIDs, BIOS attribute; sgdisk finds no problem', async () => {
    expect((await stat(img)).size).toBe(1246 * MiB)
    const t = await sfdiskJson(img)
    expect(t.id).toBe('D92D45B3-CDE9-8760-BE9F-A2A71FAC8D11')
    expect(t.sectorsize).toBe(512)
    expect(labels(t)).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    expect(t.partitions.map((p) => [p.start, p.size])).toEqual([
      [2048, 100 * 2048],
      [2048 + 100 * 2048, 2048],
      [2048 + 101 * 2048, 1000 * 2048],
      [2048 + 1101 * 2048, 2048],
    ])
    expect(t.partitions.map((p) => p.uuid)).toEqual(['EFI', 'BIOS', 'BOOT', 'META'].map(guidFromLabel))
    expect(t.partitions.map((p) => p.type)).toEqual([
      'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
      '21686148-6449-6E6F-744E-656564454649',
      '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
      '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
    ])
    expect(t.partitions[1]!.attrs).toBe('LegacyBIOSBootable')
    expect(await sgdiskVerify(img)).toContain('No problems found')
  })

  test('the image is sparse: it occupies a small fraction of its size', async () => {
    expect(await allocatedBytes(img)).toBeLessThan(64 * MiB)
  })

  test('ESP: GRUB EFI loader only, a clean FAT32 labelled EFI', async () => {
    expect(await fatFiles(img, 2048 * 512)).toEqual(['::/EFI/', '::/EFI/boot/', '::/EFI/boot/BOOTX64.efi'])
    const efi = await extract(img, 2048 * 512, 100 * MiB, 'grub-efi.img')
    const fsck = await execa('fsck.vfat', ['-n', efi])
    expect(fsck.stdout).toMatch(/4 files, \d+\/\d+ clusters/)
    expect(fsck.exitCode).toBe(0)
    const boot = await readRange(efi, 0, 512)
    expect(boot.subarray(0x47, 0x52).toString()).toBe('EFI        ')
    expect(boot.subarray(0x52, 0x5a).toString()).toBe('FAT32   ')
  })

  test('BOOT: GRUB itself reads the XFS (kernel, initramfs, grub.cfg); xfs_repair finds nothing; feature set GRUB 2.06 knows', async () => {
    expect((await grubFstest(img, 'ls', '(loop0,gpt3)/')).trim().split(/\s+/)).toEqual(['A/', 'grub/'])
    const cfg = await grubFstest(img, 'cat', '(loop0,gpt3)/grub/grub.cfg')
    expect(cfg).toStartWith('set default="A - Talos v1.10.0"\n')
    expect(cfg).toContain('  linux /A/vmlinuz talos.platform=metal console=ttyS0 init_on_alloc=1 ')
    expect(cfg).toContain('talos.experimental.wipe=system:EPHEMERAL,STATE\n')
    const kernel = await execa('grub-fstest', [img, 'cmp', '(loop0,gpt3)/A/vmlinuz', mini.vmlinuz], { reject: false })
    expect(kernel.exitCode).toBe(0)
    const boot = await extract(img, (2048 + 101 * 2048) * 512, 1000 * MiB, 'grub-boot.img')
    await execa('xfs_repair', ['-n', boot])
    const version = (await execa('xfs_db', ['-r', '-c', 'version', boot])).stdout
    expect(version).toContain('BIGTIME')
    expect(version).not.toContain('NREXT64')
    expect((await execa('xfs_db', ['-r', '-c', 'uuid', '-c', 'label', boot])).stdout).toContain(guidFromLabel('BOOT').toLowerCase())
  })

  test('BIOS boot: boot.img code in the MBR points at core.img in the BIOS partition', async () => {
    const mbr = await readRange(img, 0, 512)
    expect(mbr.readBigUInt64LE(0x5c)).toBe(BigInt(2048 + 100 * 2048))
    expect([...mbr.subarray(0x66, 0x68)]).toEqual([0x90, 0x90])
    expect([...mbr.subarray(510, 512)]).toEqual([0x55, 0xaa])
    expect(mbr[450]).toBe(0xee)
    const core = await readRange(img, (2048 + 100 * 2048) * 512, 512)
    expect(core.readBigUInt64LE(0x1f4)).toBe(BigInt(2048 + 100 * 2048 + 1))
  })

  test('META: both ADV copies hold the profile values; no dual-boot marker for GRUB', async () => {
    expect(await readMeta(img, (2048 + 1101 * 2048) * 512)).toEqual([{ key: 0xa, value: META_VALUE }])
  })

  test('.xz, .gz and .zst decompress to the same disk', async () => {
    const sum = async (path: string) => createHash('sha256').update(await readRange(path, 0, 4 * MiB)).digest('hex')
    const want = await sum(img)
    for (const [fmt, cmd] of [
      ['.zst', ['zstd', '-d', '-q', '-c']],
      ['.xz', ['xz', '-d', '-c']],
      ['.gz', ['gzip', '-d', '-c']],
    ] as const) {
      const out = await build({ bootloader: 'grub', outFormat: fmt, meta: [{ key: 0xa, value: META_VALUE }] }, `grub.raw${fmt}`)
      const raw = join(work, `decompressed${fmt}.raw`)
      await execa('sh', ['-c', `${cmd.join(' ')} "$1" | cp --sparse=always /dev/stdin "$2"`, 'sh', out, raw])
      expect((await stat(raw)).size).toBe(1246 * MiB)
      expect(await sum(raw)).toBe(want)
      expect(await readMeta(raw, (2048 + 1101 * 2048) * 512)).toEqual([{ key: 0xa, value: META_VALUE }])
      await rm(raw)
    }
  }, 300_000)
})

describe('dual-boot (Talos 1.12)', () => {
  test('4096-byte sectors: valid table when read with 4 KiB sectors, EFI/BIOS/BOOT/META, dual-boot META marker, FAT with 4 KiB sectors', async () => {
    const out = await build({ version: 'v1.12.0', sectorSize: 4096, outFormat: '.zst', meta: [{ key: 0xc, value: 'hello' }] }, 'dual4k.raw.zst')
    const img = join(work, 'dual4k.raw')
    await execa('zstd', ['-d', '-q', '-f', out, '-o', img])
    expect((await stat(img)).size).toBe(4247 * MiB)
    const t = await fdiskTable(img, 4096)
    expect(t.sectorsize).toBe(4096)
    expect(labels(t)).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    expect(t.partitions.map((p) => [p.start, p.size])).toEqual([
      [256, 2101 * 256],
      [256 + 2101 * 256, 256],
      [256 + 2102 * 256, 2000 * 256],
      [256 + 4102 * 256, 256],
    ])
    expect(t.lastlba).toBe((4247 * MiB) / 4096 - 1 - 4 - 1)
    const meta = (256 + 4102 * 256) * 4096
    expect(await readMeta(img, meta)).toEqual([
      { key: 0xc, value: 'hello' },
      { key: 0x11, value: 'dual-boot' },
    ])
    const esp = 256 * 4096
    expect((await readRange(img, esp, 512)).readUInt16LE(11)).toBe(4096)
    expect(await fatFiles(img, esp)).toEqual(['::/EFI/', '::/EFI/Linux/', '::/EFI/Linux/Talos-v1.12.0.efi', '::/EFI/boot/', '::/EFI/boot/BOOTX64.efi', '::/loader/', '::/loader/loader.conf'])
    expect((await fatRead(img, esp, '::/loader/loader.conf')).toString()).toBe('# systemd-boot configuration\n\ntimeout 10\n')
    expect((await fatRead(img, esp, '::/EFI/boot/BOOTX64.efi')).equals(await readFile(SDBOOT))).toBe(true)
    await rm(img)
  }, 240_000)

  test('Secure Boot: sd-boot layout, signed loader and UKI, enrolment keys and secure-boot-enroll in loader.conf', async () => {
    const img = await build({ version: 'v1.12.0', secureboot: true }, 'sb.raw')
    const t = await sfdiskJson(img)
    expect(labels(t)).toEqual(['EFI', 'META'])
    expect(t.partitions[0]!.size).toBe(2101 * 2048)
    // no dual-boot marker, no values: META stays zero
    expect((await readRange(img, t.partitions[1]!.start * 512, 4096)).every((b) => b === 0)).toBe(true)
    const esp = 2048 * 512
    const files = await fatFiles(img, esp)
    expect(files).toEqual(expect.arrayContaining(['::/loader/keys/auto/PK.auth', '::/loader/keys/auto/KEK.auth', '::/loader/keys/auto/db.auth', '::/EFI/Linux/Talos-v1.12.0.efi']))
    expect((await fatRead(img, esp, '::/loader/loader.conf')).toString()).toBe('# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll if-safe\n')
    for (const f of ['::/EFI/boot/BOOTX64.efi', '::/EFI/Linux/Talos-v1.12.0.efi']) {
      const local = join(work, 'signed.efi')
      await writeFile(local, await fatRead(img, esp, f))
      const v = await execa('sbverify', ['--cert', keys.signingCert, local], { reject: false })
      expect(v.stdout + v.stderr).toContain('Signature verification OK')
    }
  }, 240_000)
})

describe('disk formats', () => {
  test('qcow2 with cluster_size=8k: qemu-img info/check, same table after converting back', async () => {
    const out = await build({ bootloader: 'grub', diskFormat: 'qcow2', diskFormatOptions: 'cluster_size=8k' }, 'disk.qcow2')
    const info = await qemuImgInfo(out)
    expect(info.format).toBe('qcow2')
    expect(info['cluster-size']).toBe(8192)
    expect(info['virtual-size']).toBe(1246 * MiB)
    expect(await qemuImgCheck(out, 'qcow2')).toContain('No errors were found')
    const raw = join(work, 'from-qcow2.raw')
    await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', out, raw])
    expect(labels(await sfdiskJson(raw))).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    await rm(raw)
  }, 240_000)

  test('vhd fixed with force_size (Azure): exact virtual size, footer after the data, qemu-img check', async () => {
    const out = await build({ platform: 'azure', bootloader: 'grub', diskFormat: 'vhd', diskFormatOptions: 'subformat=fixed,force_size' }, 'disk.vhd')
    expect((await stat(out)).size).toBe(1246 * MiB + 512)
    const info = await qemuImgInfo(out, 'vpc')
    expect(info['virtual-size']).toBe(1246 * MiB)
    expect((await readRange(out, 1246 * MiB, 8)).toString()).toBe('conectix')
    await qemuImgCheck(out, 'vpc').catch((err: { stderr?: string }) => {
      // qemu-img cannot check vpc images ("This image format does not support checks"), which is fine
      expect(String(err.stderr)).toContain('does not support checks')
    })
    expect(labels(await sfdiskJson(out))).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    expect(await allocatedBytes(out)).toBeLessThan(64 * MiB)
  }, 240_000)

  test('ova: tar of disk.ovf, disk.mf, disk.vmdk; manifest hashes match; stream-optimised VMDK of the disk size', async () => {
    const out = await build({ platform: 'vmware', bootloader: 'grub', diskFormat: 'ova' }, 'disk.ova')
    expect((await execa('tar', ['-tf', out])).stdout.split('\n')).toEqual(['disk.ovf', 'disk.mf', 'disk.vmdk'])
    const dir = join(work, 'ova')
    await mkdir(dir, { recursive: true })
    await execa('tar', ['-xf', out, '-C', dir])
    const sha = async (f: string) => createHash('sha256').update(await readFile(join(dir, f))).digest('hex')
    expect(await readFile(join(dir, 'disk.mf'), 'utf8')).toBe(`SHA256(disk.vmdk)= ${await sha('disk.vmdk')}\nSHA256(disk.ovf)= ${await sha('disk.ovf')}\n`)
    const ovf = await readFile(join(dir, 'disk.ovf'), 'utf8')
    expect(ovf).toContain(`ovf:size="${(await stat(join(dir, 'disk.vmdk'))).size}"`)
    expect(ovf).toContain('ovf:capacity="1246"')
    expect(ovf).toContain('vmw:key="disk.EnableUUID" vmw:value="true"')
    const info = await qemuImgInfo(join(dir, 'disk.vmdk'))
    expect(info.format).toBe('vmdk')
    expect(info['virtual-size']).toBe(1246 * MiB)
    expect(JSON.stringify(info['format-specific'])).toContain('streamOptimized')
    expect(await qemuImgCheck(join(dir, 'disk.vmdk'), 'vmdk')).toContain('No errors were found')
  }, 240_000)

  test('GCP .tar.gz: one sparse member disk.raw of the disk size, extracting it gives the disk', async () => {
    const out = await build({ platform: 'gcp', bootloader: 'grub', outFormat: '.tar.gz' }, 'gcp.raw.tar.gz')
    expect((await readRange(out, 0, 2)).toString('hex')).toBe('1f8b')
    const list = (await execa('tar', ['-tvzf', out])).stdout.trim().split('\n')
    expect(list).toHaveLength(1)
    expect(list[0]).toMatch(/^-rw-r--r-- 0\/0 +1306525696 2019-06-01 \d\d:\d\d disk\.raw$/)
    const dir = join(work, 'gcp')
    await mkdir(dir, { recursive: true })
    await execa('tar', ['-xzf', out, '-C', dir, '--sparse'])
    expect(labels(await sfdiskJson(join(dir, 'disk.raw')))).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    expect(await allocatedBytes(out)).toBeLessThan(64 * MiB)
  }, 240_000)
})

describe('versions', () => {
  test('Talos < 1.8: STATE and EPHEMERAL follow META, EPHEMERAL takes the rest', async () => {
    const img = await build({ version: 'v1.7.6', release: legacy }, 'legacy.raw')
    const t = await sfdiskJson(img)
    expect(labels(t)).toEqual(['EFI', 'BIOS', 'BOOT', 'META', 'STATE', 'EPHEMERAL'])
    const [, , , meta, state, eph] = t.partitions
    expect(state!.start).toBe(meta!.start + 2048)
    expect(state!.size).toBe(100 * 2048)
    expect(eph!.start).toBe(state!.start + state!.size)
    // the last aligned LBA before the backup entries (go-blockdevice rounds the free range down)
    expect(eph!.start + eph!.size).toBe(Math.floor(t.lastlba / 2048) * 2048)
    expect(eph!.uuid).toBe(guidFromLabel('EPHEMERAL'))
    expect(await sgdiskVerify(img)).toContain('No problems found')
  }, 240_000)
})
