/**
 * Every platform of the reference's table as a disk image request (factory-spec §6.2–§6.3,
 * imager-spec §2.6–§2.7, §3.3): the URL gives format and compression, the platform's built-in
 * profile gives size and qemu-img options, FillDefaults adds the boot partitions, and the command
 * line carries the platform's arguments. Platforms newer than the target Talos are refused.
 */
import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { parseAssetPath } from '../../src/asset/path.ts'
import { buildProfile, fillProfileDefaults, profileCmdline, type BuildProfileOptions } from '../../src/asset/profile.ts'

const MiB = 1024 * 1024
const ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'
const OPTS: BuildProfileOptions = {
  schematicId: ID,
  secureBoot: { secureBootSigner: { keyPath: '/k', certPath: '/c' }, pcrSigner: { keyPath: '/p' } },
  hostArch: 'amd64',
}
const TAIL = 'slab_nomerge pti=on consoleblank=0 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'

/** platform → [default file suffix, base MiB, disk format, qemu-img options, amd64 platform args (≥ 1.14)] */
const PLATFORMS: Record<string, [string, number, string, string | undefined, string]> = {
  metal: ['raw.zst', 1246, 'raw', undefined, 'console=tty0'],
  aws: ['raw.zst', 8192, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0 nvme_core.io_timeout=4294967295'],
  azure: ['vhd.zst', 8192, 'vhd', 'subformat=fixed,force_size', 'console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 talos.dashboard.disabled=1 sysctl.kernel.kexec_load_disabled=1'],
  gcp: ['raw.tar.gz', 8192, 'raw', undefined, 'console=ttyS0 net.ifnames=0 talos.dashboard.disabled=1 sysctl.kernel.kexec_load_disabled=1'],
  'digital-ocean': ['raw.gz', 8192, 'raw', undefined, 'console=ttyS0 console=tty0 console=tty1 net.ifnames=0'],
  hcloud: ['raw.zst', 1246, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0'],
  nocloud: ['raw.zst', 1246, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0'],
  openstack: ['raw.zst', 1246, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0'],
  oracle: ['qcow2.zst', 8192, 'qcow2', 'cluster_size=8k', 'console=tty1 console=ttyS0 net.ifnames=0 talos.dashboard.disabled=1'],
  vmware: ['ova', 8192, 'ova', undefined, 'talos.config=guestinfo console=tty0 console=ttyS0 earlyprintk=ttyS0,115200 net.ifnames=0'],
  vultr: ['raw.zst', 8192, 'raw', undefined, 'net.ifnames=0'],
  upcloud: ['raw.zst', 8192, 'raw', undefined, 'net.ifnames=0'],
  exoscale: ['qcow2.zst', 10240, 'qcow2', 'cluster_size=8k', 'console=tty1 console=ttyS0 net.ifnames=0'],
  scaleway: ['raw.zst', 1246, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0 talos.dashboard.disabled=1'],
  akamai: ['raw.gz', 1246, 'raw', undefined, 'console=ttyS0 console=tty0 console=tty1 net.ifnames=0'],
  alibabacloud: ['qcow2', 1246, 'qcow2', 'cluster_size=8k', 'console=tty1 console=ttyS0 net.ifnames=0'],
  cloudstack: ['raw.zst', 8192, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0'],
  opennebula: ['raw.zst', 1246, 'raw', undefined, 'console=tty1 console=ttyS0 net.ifnames=0'],
  equinixMetal: ['raw.xz', 8192, 'raw', undefined, 'console=ttyS1,115200n8'],
}
const SECUREBOOT_VARIANTS = ['metal', 'azure', 'cloudstack', 'nocloud', 'opennebula', 'openstack', 'vmware']

const plan = async (path: string, version: string) => fillProfileDefaults((await buildProfile(parseAssetPath(path), { customization: {} }, version, OPTS)).profile)

describe('every platform (Talos v1.14.0, amd64)', () => {
  test.each(Object.entries(PLATFORMS))('%s', async (platform, [suffix, base, format, options, args]) => {
    const p = await plan(`${platform}-amd64.${suffix}`, 'v1.14.0')
    // dual-boot: + (2000 − 1000) MiB boot adjustment + 1 MiB BIOS + 2000 MiB BOOT
    expect(p.output.imageOptions).toMatchObject({ diskSize: (base + 3001) * MiB, diskFormat: format, bootloader: 'dual-boot' })
    expect(p.output.imageOptions?.diskFormatOptions).toBe(options)
    expect(profileCmdline(p)).toBe(`talos.platform=${platform} ${args} ${TAIL}`)
  })

  test.each(SECUREBOOT_VARIANTS)('%s Secure Boot variant: sd-boot, + 1000 MiB', async (platform) => {
    const [suffix, base] = PLATFORMS[platform]!
    const p = await plan(`${platform}-amd64-secureboot.${suffix}`, 'v1.14.0')
    expect(p.output.imageOptions).toMatchObject({ diskSize: (base + 1000) * MiB, bootloader: 'sd-boot' })
    expect(p.secureboot).toBe(true)
  })

  test('arm64 variants use their own console (metal, vmware, equinixMetal)', async () => {
    expect(profileCmdline(await plan('metal-arm64.raw.xz', 'v1.14.0'))).toBe(`talos.platform=metal console=ttyAMA0 console=tty0 ${TAIL}`)
    expect(profileCmdline(await plan('vmware-arm64.ova', 'v1.14.0'))).toBe(`talos.platform=vmware talos.config=guestinfo console=tty0 console=ttyAMA0 net.ifnames=0 ${TAIL}`)
    expect(profileCmdline(await plan('equinixMetal-arm64.raw.xz', 'v1.14.0'))).toBe(`talos.platform=equinixMetal console=ttyAMA0,115200 ${TAIL}`)
  })
})

describe('platform minimum versions (disk images)', () => {
  test.each([
    ['akamai-amd64.raw.gz', 'v1.6.7', '1.7.0'],
    ['opennebula-amd64.raw.zst', 'v1.6.0', '1.7.0'],
    ['cloudstack-amd64.raw.gz', 'v1.8.0-alpha.1', '1.8.0-alpha.2'],
    ['alibabacloud-amd64.qcow2', 'v1.14.0-beta.1', '1.14.0-beta.2'],
    ['exoscale-amd64.qcow2', 'v1.2.0', '1.3.0'],
  ])('%s @ %s → 400', async (path, version, min) => {
    const err = await plan(path, version).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toBe(`platform ${path.split('-')[0]} is not supported for Talos version ${version} (it needs ${min} or later)`)
  })

  test.each([
    ['akamai-amd64.raw.gz', 'v1.7.0'],
    ['cloudstack-amd64.raw.gz', 'v1.8.0-alpha.2'],
    ['alibabacloud-amd64.qcow2', 'v1.14.0-beta.2'],
  ])('%s @ %s builds', async (path, version) => {
    expect((await plan(path, version)).output.kind).toBe('image')
  })

  test('other kinds keep the reference behaviour', async () => {
    const p = await buildProfile(parseAssetPath('cmdline-akamai-amd64'), { customization: {} }, 'v1.6.7', OPTS)
    expect(p.profile.platform).toBe('akamai')
  })
})
