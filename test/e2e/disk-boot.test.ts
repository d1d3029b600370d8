/**
 * Disk images through the factory (edge + in-process builder, stand-in release upstream), booted
 * under QEMU TCG: `metal-amd64.raw.zst` (dual-boot) decompressed in BIOS mode (GRUB) and UEFI mode
 * (systemd-boot + UKI), `metal-amd64.qcow2` directly, `nocloud-amd64.raw.xz` (UEFI). The stand-in
 * init prints the command line, extensions, schematic ID and the META partition it finds on the
 * virtio disk; META is also decoded from the image file. An overlay schematic's image carries the
 * overlay installer's output on the ESP and its kernel arguments in grub.cfg.
 *
 * One upstream and one edge for the file; at most two QEMUs at a time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'
import { BOOT_FAILURE_PATTERNS, bootQemu, markerLines } from '../helpers/qemu.ts'
import { fatFiles, fatRead, grubFstest, readMeta, readRange, sfdiskJson } from '../helpers/disk-read.ts'

const VERSION = 'v1.12.0'
const MiB = 1024 * 1024
const META_A = '{"externalIPs":["1.2.3.4"]}'
const SCHEMATIC = `customization:
  extraKernelArgs:
    - console=ttyS0
    - panic=-1
  meta:
    - key: 0xa
      value: '${META_A}'
    - key: 0xc
      value: hello disk
  systemExtensions:
    officialExtensions:
      - siderolabs/gvisor
`
const OVERLAY_SCHEMATIC = `overlay:
  image: siderolabs/sbc-raspberrypi
  name: rpi_generic
  options:
    configTxtAppend: dtoverlay=standin
    partitionOffset: 2048
`
const TAIL = 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1'
const METAL_CMDLINE = `talos.platform=metal console=ttyS0 ${TAIL} panic=-1`
const NOCLOUD_CMDLINE = `talos.platform=nocloud console=ttyS0 net.ifnames=0 ${TAIL} panic=-1`
/** dual-boot metal ≥ 1.11: EFI 2101 MiB, BIOS 1 MiB, BOOT 2000 MiB, META 1 MiB */
const META_OFFSET = (2048 + 4102 * 2048) * 512
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'

let up: Upstream
let edge: RunningEdge
let id: string
let overlayId: string
let work: string

beforeAll(async () => {
  up = await startUpstream([VERSION])
  // Secure Boot on, with a key set the factory generates into its data directory
  edge = await startEdge({ ...up.env, FACTORY_SECUREBOOT_ENABLED: 'true' })
  const post = async (body: string) => {
    const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body })
    expect(res.status).toBe(201)
    return ((await res.json()) as { id: string }).id
  }
  id = await post(SCHEMATIC)
  overlayId = await post(OVERLAY_SCHEMATIC)
  work = await mkdtemp(join(tmpdir(), 'disk-boot-'))
}, 240_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

/** Downloads an asset to a file (streamed), checking status and content type. */
async function download(schematic: string, path: string, contentType: string): Promise<string> {
  const res = await fetch(`${edge.url}/image/${schematic}/${VERSION}/${path}`)
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  expect(res.headers.get('content-type')).toBe(contentType)
  const out = join(work, `${schematic.slice(0, 8)}-${path}`)
  await Bun.write(out, res)
  return out
}

async function decompress(cmd: 'zstd' | 'xz', file: string): Promise<string> {
  const out = file.replace(/\.(zst|xz)$/, '')
  await execa('sh', ['-c', `${cmd} -d -c "$1" | cp --sparse=always /dev/stdin "$2"`, 'sh', file, out])
  return out
}

function biosArgs(disk: string, format = 'raw'): string[] {
  return ['-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', '-nic', 'none', '-drive', `file=${disk},format=${format},if=virtio,snapshot=on`]
}

async function uefiArgs(disk: string, name: string): Promise<string[]> {
  const vars = join(work, `${name}-vars.fd`)
  await copyFile('/usr/share/OVMF/OVMF_VARS_4M.fd', vars)
  return [
    '-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', '-nic', 'none', '-machine', 'q35',
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
    '-drive', `file=${disk},format=raw,if=virtio,snapshot=on`,
  ]
}

async function boot(args: string[], name: string): Promise<string> {
  const r = await bootQemu({ args, timeoutMs: 300_000, marker: 'STANDIN-DONE', killOnMarker: 3000, logFile: join(work, `${name}.log`) })
  expect(r.timedOut).toBe(false)
  for (const bad of BOOT_FAILURE_PATTERNS) expect(r.output).not.toContain(bad)
  return r.output
}

/** What the stand-in init saw: the expected cmdline (GRUB prepends BOOT_IMAGE), extensions, schematic, META. */
function expectBooted(output: string, cmdline: string, via: 'grub' | 'sd-boot'): void {
  expect(output).toContain(`STANDIN-TALOS ${VERSION} BOOT-OK`)
  expect(markerLines(output, 'CMDLINE: ')).toEqual([`CMDLINE: ${via === 'grub' ? 'BOOT_IMAGE=/A/vmlinuz ' : ''}${cmdline}`])
  expect(output).toMatch(/EXTENSION: gvisor \S+/)
  expect(output).toContain(`SCHEMATIC: ${id}`)
  expect(output).toMatch(/META-PARTITION: \/dev\/vda4/)
  expect(markerLines(output, 'META: disk:')).toEqual([
    `META: disk:vda4 0xa=${META_A}`,
    'META: disk:vda4 0xc=hello disk',
    'META: disk:vda4 0x11=dual-boot',
  ])
  expect(output).toContain('STANDIN-DONE')
}

describe('metal-amd64.raw.zst (dual-boot)', () => {
  let raw: string

  test('downloads, decompresses to the 4247 MiB layout with the schematic META values', async () => {
    const zst = await download(id, 'metal-amd64.raw.zst', 'application/zstd')
    raw = await decompress('zstd', zst)
    expect((await stat(raw)).size).toBe(4247 * MiB)
    const t = await sfdiskJson(raw)
    expect(t.partitions.map((p) => [p.name, p.start, p.size])).toEqual([
      ['EFI', 2048, 2101 * 2048],
      ['BIOS', 2048 + 2101 * 2048, 2048],
      ['BOOT', 2048 + 2102 * 2048, 2000 * 2048],
      ['META', 2048 + 4102 * 2048, 2048],
    ])
    expect(await readMeta(raw, META_OFFSET)).toEqual([
      { key: 0xa, value: META_A },
      { key: 0xc, value: 'hello disk' },
      { key: 0x11, value: 'dual-boot' },
    ])
  }, 600_000)

  test('boots in BIOS mode (GRUB from BOOT) and in UEFI mode (systemd-boot + UKI)', async () => {
    const [bios, uefi] = await Promise.all([boot(biosArgs(raw), 'metal-bios'), (async () => boot(await uefiArgs(raw, 'metal-uefi'), 'metal-uefi'))()])
    expectBooted(bios, METAL_CMDLINE, 'grub')
    expectBooted(uefi, METAL_CMDLINE, 'sd-boot')
  }, 700_000)
})

describe('other formats and platforms', () => {
  let qcow2: string
  let nocloud: string

  test('metal-amd64.qcow2 and nocloud-amd64.raw.xz build', async () => {
    ;[qcow2, nocloud] = await Promise.all([
      download(id, 'metal-amd64.qcow2', 'application/x-qemu-disk'),
      download(id, 'nocloud-amd64.raw.xz', 'application/x-xz').then((xz) => decompress('xz', xz)),
    ])
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', qcow2])).stdout) as Record<string, unknown>
    expect(info['cluster-size']).toBe(8192)
    expect(info['virtual-size']).toBe(4247 * MiB)
  }, 900_000)

  test('the qcow2 boots as is (BIOS), the nocloud image boots (UEFI) with its platform arguments', async () => {
    const [q, n] = await Promise.all([boot(biosArgs(qcow2, 'qcow2'), 'qcow2-bios'), (async () => boot(await uefiArgs(nocloud, 'nocloud-uefi'), 'nocloud-uefi'))()])
    expectBooted(q, METAL_CMDLINE, 'grub')
    expectBooted(n, NOCLOUD_CMDLINE, 'sd-boot')
  }, 700_000)
})

describe('Secure Boot', () => {
  test('metal-amd64-secureboot.raw.zst: sd-boot layout, signed loader and UKI, enrolment keys, META without the dual-boot marker', async () => {
    const raw = await decompress('zstd', await download(id, 'metal-amd64-secureboot.raw.zst', 'application/zstd'))
    expect((await stat(raw)).size).toBe(2246 * MiB)
    const t = await sfdiskJson(raw)
    expect(t.partitions.map((p) => [p.name, p.start, p.size])).toEqual([
      ['EFI', 2048, 2101 * 2048],
      ['META', 2048 + 2101 * 2048, 2048],
    ])
    expect(await readMeta(raw, (2048 + 2101 * 2048) * 512)).toEqual([
      { key: 0xa, value: META_A },
      { key: 0xc, value: 'hello disk' },
    ])
    const esp = 2048 * 512
    expect(await fatFiles(raw, esp)).toEqual(expect.arrayContaining(['::/loader/keys/auto/PK.auth', '::/loader/keys/auto/KEK.auth', '::/loader/keys/auto/db.auth']))
    expect((await fatRead(raw, esp, '::/loader/loader.conf')).toString()).toBe('# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll if-safe\n')
    const cert = join(work, 'signing-cert.pem')
    await writeFile(cert, await (await fetch(`${edge.url}/secureboot/signing-cert.pem`)).text())
    for (const f of ['::/EFI/boot/BOOTX64.efi', `::/EFI/Linux/Talos-${VERSION}.efi`]) {
      const local = join(work, 'signed.efi')
      await writeFile(local, await fatRead(raw, esp, f))
      const v = await execa('sbverify', ['--cert', cert, local], { reject: false })
      expect(v.stdout + v.stderr).toContain('Signature verification OK')
    }
  }, 600_000)
})

describe('overlay schematic', () => {
  test('GRUB layout from the overlay profile; installer output at the ESP root; overlay kernel args in grub.cfg; GPT entries after the overlay offset, its raw write kept', async () => {
    const raw = await decompress('zstd', await download(overlayId, 'metal-amd64.raw.zst', 'application/zstd'))
    const t = await sfdiskJson(raw)
    // profiles/rpi_generic.yaml pins bootloader: grub (100 MiB ESP)
    expect(t.partitions.map((p) => [p.name, p.size])).toEqual([
      ['EFI', 100 * 2048],
      ['BIOS', 2048],
      ['BOOT', 2000 * 2048],
      ['META', 2048],
    ])
    const sg = (await execa('sgdisk', ['-p', raw])).stdout
    expect(sg).toContain('Main partition table begins at sector 2050')
    // u-boot.bin written by the installer into the disk at 8 KiB
    expect((await readRange(raw, 8192, 26)).toString()).toBe('STANDIN-U-BOOT rpi_generic')
    // entries at LBA 2 + 2048, so the first aligned usable LBA moves from 2048 to 4096
    expect(t.partitions[0]!.start).toBe(4096)
    const esp = 4096 * 512
    const files = await fatFiles(raw, esp)
    expect(files).toEqual(expect.arrayContaining(['::/config.txt', '::/u-boot.bin', '::/start4.elf', '::/bcm2711-rpi-4-b.dtb', '::/EFI/boot/BOOTX64.efi']))
    expect((await fatRead(raw, esp, '::/config.txt')).toString()).toBe('# stand-in config.txt\narm_64bit=1\nkernel=u-boot.bin\n\ndtoverlay=standin\n')
    // nothing of it stayed on BOOT
    expect((await grubFstest(raw, 'ls', '(loop0,gpt3)/')).trim().split(/\s+/)).toEqual(['A/', 'grub/'])
    const cfg = await grubFstest(raw, 'cat', '(loop0,gpt3)/grub/grub.cfg')
    expect(cfg).toContain(`  linux /A/vmlinuz talos.platform=metal console=tty0 console=ttyAMA0,115200 sysctl.kernel.kexec_load_disabled=1 talos.dashboard.disabled=1 ${TAIL}\n`)
    await writeFile(join(work, 'overlay-grub.cfg'), cfg)
  }, 600_000)

  test('metal-arm64.raw.xz (the SBC download): arm64 GRUB on the ESP with the overlay files, no BIOS boot code', async () => {
    const raw = await decompress('xz', await download(overlayId, 'metal-arm64.raw.xz', 'application/x-xz'))
    const t = await sfdiskJson(raw)
    expect(t.partitions.map((p) => p.name)).toEqual(['EFI', 'BIOS', 'BOOT', 'META'])
    const esp = t.partitions[0]!.start * 512
    const files = await fatFiles(raw, esp)
    expect(files).toEqual(expect.arrayContaining(['::/config.txt', '::/u-boot.bin', '::/EFI/boot/BOOTAA64.efi']))
    const loader = await fatRead(raw, esp, '::/EFI/boot/BOOTAA64.efi')
    expect(loader.readUInt16LE(loader.readUInt32LE(0x3c) + 4)).toBe(0xaa64)
    expect((await readRange(raw, 0, 446)).every((b) => b === 0)).toBe(true)
    const cfg = await grubFstest(raw, 'cat', '(loop0,gpt3)/grub/grub.cfg')
    expect(cfg).toContain(`  linux /A/vmlinuz talos.platform=metal console=tty0 console=ttyAMA0,115200 sysctl.kernel.kexec_load_disabled=1 talos.dashboard.disabled=1 ${TAIL}\n`)
  }, 600_000)

  test('other kinds of the overlay schematic still build (the overlay only shapes disk images here)', async () => {
    const initramfs = await fetch(`${edge.url}/image/${overlayId}/${VERSION}/initramfs-arm64.xz`)
    expect(initramfs.status).toBe(200)
    expect((await initramfs.arrayBuffer()).byteLength).toBeGreaterThan(1000)
    // the reference adds the overlay to the profile only for kinds other than kernel and cmdline
    const cmdline = await fetch(`${edge.url}/image/${overlayId}/${VERSION}/cmdline-metal-arm64`)
    expect(await cmdline.text()).toBe(`talos.platform=metal console=ttyAMA0 console=tty0 ${TAIL}`)
  }, 300_000)
})
