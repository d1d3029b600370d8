import { describe, expect, test } from 'bun:test'
import { InvalidInputError, NotFoundError } from '../../src/errors.ts'
import { assetFileName, parseArch, parseAssetPath, parsePlatformArch, prefixError, splitSidecar, PATH_ERROR_PREFIX, type AssetRequest } from '../../src/asset/path.ts'

const MiB = 1024 * 1024
type Expect = Omit<AssetRequest, 'path'>
const r = (kind: AssetRequest['kind'], platform: string, arch: 'amd64' | 'arm64', secureboot = false, outFormat: AssetRequest['outFormat'] = 'raw'): Expect => ({
  kind, platform, arch, secureboot, outFormat,
})
const img = (platform: string, arch: 'amd64' | 'arm64', secureboot: boolean, outFormat: AssetRequest['outFormat'], diskFormat: 'raw' | 'qcow2' | 'vhd' | 'ova', mib: number, diskFormatOptions?: string): Expect => ({
  ...r('image', platform, arch, secureboot, outFormat),
  imageOptions: diskFormatOptions === undefined ? { diskSize: mib * MiB, diskFormat } : { diskSize: mib * MiB, diskFormat, diskFormatOptions },
})

describe('parseAssetPath: reference unit vectors (TestParseFromPath)', () => {
  test.each([
    ['kernel-amd64', r('kernel', 'metal', 'amd64')],
    ['kernel-arm64', r('kernel', 'metal', 'arm64')],
    ['cmdline-metal-arm64', r('cmdline', 'metal', 'arm64')],
    ['cmdline-aws-amd64-secureboot', r('cmdline', 'aws', 'amd64', true)],
    ['initramfs-amd64.xz', r('initramfs', 'metal', 'amd64')],
    ['metal-arm64-secureboot.iso', r('iso', 'metal', 'arm64', true)],
    ['metal-amd64-secureboot-uki.efi', r('uki', 'metal', 'amd64', true)],
    ['metal-amd64-uki.efi', r('uki', 'metal', 'amd64')],
    ['installer-amd64.tar', r('installer', 'metal', 'amd64')],
    ['metal-installer-amd64.tar', r('installer', 'metal', 'amd64')],
    ['digital-ocean-installer-amd64.tar', r('installer', 'digital-ocean', 'amd64')],
    ['metal-arm64.raw.xz', img('metal', 'arm64', false, '.xz', 'raw', 1246)],
    ['metal-arm64.raw.zst', img('metal', 'arm64', false, '.zst', 'raw', 1246)],
    ['aws-amd64-secureboot.qcow2.tar.gz', img('aws', 'amd64', true, '.tar.gz', 'qcow2', 8192, 'cluster_size=8k')],
    ['azure-amd64.vhd', img('azure', 'amd64', false, 'raw', 'vhd', 8192, 'subformat=fixed,force_size')],
    ['digital-ocean-amd64.raw.gz', img('digital-ocean', 'amd64', false, '.gz', 'raw', 8192)],
  ] as const)('%s', (path, expected) => {
    expect(parseAssetPath(path)).toEqual({ path, ...expected })
  })

  test.each([
    ['kernel-foo', 'invalid architecture: "foo"'],
    ['metal-rpi_generic-arm64.raw.xz', 'invalid architecture: "rpi_generic-arm64"'],
    ['metal-amd64.ssd', 'invalid profile path: "metal-amd64.ssd"'],
  ])('%s → %s', (path, message) => {
    expect(() => parseAssetPath(path)).toThrow(InvalidInputError)
    expect(() => parseAssetPath(path)).toThrow(message)
  })
})

describe('parseAssetPath: every form of §6.2', () => {
  test.each([
    // kernel / initramfs with iPXE arch aliases
    ['kernel-x86_64', r('kernel', 'metal', 'amd64')],
    ['kernel-i386', r('kernel', 'metal', 'amd64')],
    ['initramfs-arm64.xz', r('initramfs', 'metal', 'arm64')],
    ['initramfs-x86_64.xz', r('initramfs', 'metal', 'amd64')],
    // cmdline
    ['cmdline-metal-amd64', r('cmdline', 'metal', 'amd64')],
    ['cmdline-metal-x86_64', r('cmdline', 'metal', 'amd64')],
    ['cmdline-equinixMetal-amd64', r('cmdline', 'equinixMetal', 'amd64')],
    ['cmdline-digital-ocean-amd64', r('cmdline', 'digital-ocean', 'amd64')],
    ['cmdline-metal-arm64-secureboot', r('cmdline', 'metal', 'arm64', true)],
    // iso
    ['metal-amd64.iso', r('iso', 'metal', 'amd64')],
    ['nocloud-arm64.iso', r('iso', 'nocloud', 'arm64')],
    ['metal-amd64-secureboot.iso', r('iso', 'metal', 'amd64', true)],
    // uki
    ['nocloud-amd64-uki.efi', r('uki', 'nocloud', 'amd64')],
    ['metal-arm64-secureboot-uki.efi', r('uki', 'metal', 'arm64', true)],
    // installers
    ['installer-arm64.tar', r('installer', 'metal', 'arm64')],
    ['installer-amd64-secureboot.tar', r('installer', 'metal', 'amd64', true)],
    ['aws-installer-arm64.tar', r('installer', 'aws', 'arm64')],
    ['nocloud-installer-amd64.tar', r('installer', 'nocloud', 'amd64')],
    ['metal-installer-amd64-secureboot.tar', r('installer', 'metal', 'amd64', true)],
    // disk images: every compression, every disk format
    ['metal-amd64.raw', img('metal', 'amd64', false, 'raw', 'raw', 1246)],
    ['metal-amd64.raw.gz', img('metal', 'amd64', false, '.gz', 'raw', 1246)],
    ['metal-amd64.raw.tar.gz', img('metal', 'amd64', false, '.tar.gz', 'raw', 1246)],
    ['metal-amd64-secureboot.raw.xz', img('metal', 'amd64', true, '.xz', 'raw', 1246)],
    ['metal-amd64.qcow2', img('metal', 'amd64', false, 'raw', 'qcow2', 1246, 'cluster_size=8k')],
    ['metal-amd64.qcow2.zst', img('metal', 'amd64', false, '.zst', 'qcow2', 1246, 'cluster_size=8k')],
    ['nocloud-amd64.raw.xz', img('nocloud', 'amd64', false, '.xz', 'raw', 1246)],
    ['nocloud-arm64-secureboot.qcow2', img('nocloud', 'arm64', true, 'raw', 'qcow2', 1246, 'cluster_size=8k')],
    ['aws-arm64.raw.xz', img('aws', 'arm64', false, '.xz', 'raw', 8192)],
    ['azure-arm64-secureboot.vhd.xz', img('azure', 'arm64', true, '.xz', 'vhd', 8192, 'subformat=fixed,force_size')],
    ['azure-amd64.qcow2', img('azure', 'amd64', false, 'raw', 'qcow2', 8192, 'subformat=fixed,force_size')],
    ['gcp-amd64.raw.tar.gz', img('gcp', 'amd64', false, '.tar.gz', 'raw', 8192)],
    ['vmware-amd64.ova', img('vmware', 'amd64', false, 'raw', 'ova', 8192)],
    ['vmware-arm64-secureboot.ova.xz', img('vmware', 'arm64', true, '.xz', 'ova', 8192)],
    ['exoscale-amd64.qcow2.zst', img('exoscale', 'amd64', false, '.zst', 'qcow2', 10240, 'cluster_size=8k')],
    ['oracle-arm64.qcow2', img('oracle', 'arm64', false, 'raw', 'qcow2', 8192, 'cluster_size=8k')],
    ['alibabacloud-amd64.qcow2', img('alibabacloud', 'amd64', false, 'raw', 'qcow2', 1246, 'cluster_size=8k')],
    ['alibabacloud-amd64.raw', img('alibabacloud', 'amd64', false, 'raw', 'raw', 1246, 'cluster_size=8k')],
    ['akamai-amd64.raw.gz', img('akamai', 'amd64', false, '.gz', 'raw', 1246)],
    ['hcloud-amd64.raw.xz', img('hcloud', 'amd64', false, '.xz', 'raw', 1246)],
    ['scaleway-arm64.raw.zst', img('scaleway', 'arm64', false, '.zst', 'raw', 1246)],
    ['upcloud-amd64.raw.xz', img('upcloud', 'amd64', false, '.xz', 'raw', 8192)],
    ['vultr-amd64.raw.zst', img('vultr', 'amd64', false, '.zst', 'raw', 8192)],
    ['cloudstack-amd64-secureboot.raw.gz', img('cloudstack', 'amd64', true, '.gz', 'raw', 8192)],
    ['opennebula-amd64.raw.zst', img('opennebula', 'amd64', false, '.zst', 'raw', 1246)],
    ['openstack-arm64.raw.xz', img('openstack', 'arm64', false, '.xz', 'raw', 1246)],
    // platforms without a default profile keep 8192 MiB; names are not validated here
    ['equinixMetal-amd64.raw.xz', img('equinixMetal', 'amd64', false, '.xz', 'raw', 8192)],
    ['qemu-amd64.raw', img('qemu', 'amd64', false, 'raw', 'raw', 8192)],
    ['foo-arm64.iso', r('iso', 'foo', 'arm64')],
    // ordering quirks: first matching rule wins
    ['kernel-metal-amd64.iso', null],
    ['-installer-amd64.tar', r('installer', '', 'amd64')],
  ] as const)('%s', (path, expected) => {
    if (expected === null) {
      expect(() => parseAssetPath(path)).toThrow('invalid architecture: "metal-amd64.iso"')
      return
    }
    expect(parseAssetPath(path)).toEqual({ path, ...expected })
  })

  test.each([
    ['kernel-amd64-secureboot', 'invalid architecture: "amd64-secureboot"'],
    ['kernel-', 'invalid architecture: ""'],
    ['initramfs-amd64', 'invalid profile path: "initramfs-amd64"'],
    ['initramfs-amd64.zst', 'invalid profile path: "initramfs-amd64"'],
    ['initramfs-foo.xz', 'invalid architecture: "foo"'],
    ['cmdline-metal', 'invalid platform-arch: "metal"'],
    ['cmdline-metal-secureboot', 'invalid platform-arch: "metal"'],
    ['cmdline-metal-riscv64', 'invalid architecture: "riscv64"'],
    ['metal.iso', 'invalid platform-arch: "metal"'],
    ['metal-amd64-secureboot-secureboot.iso', 'invalid architecture: "amd64-secureboot"'],
    ['metal-amd64.img', 'invalid profile path: "metal-amd64.img"'],
    ['metal-amd64.raw.bz2', 'invalid profile path: "metal-amd64.raw.bz2"'],
    ['metal-amd64.tar.gz', 'invalid profile path: "metal-amd64"'],
    ['metal-amd64.zst', 'invalid profile path: "metal-amd64"'],
    ['installer-amd64.tar.gz', 'invalid profile path: "installer-amd64"'],
    ['installer-foo.tar', 'invalid architecture: "foo"'],
    ['metal-installer-amd64.tar.xz', 'invalid profile path: "metal-installer-amd64.tar"'],
    ['metal-installer-foo.tar', 'invalid architecture: "foo"'],
    ['.raw', 'invalid platform-arch: ""'],
    ['', 'invalid profile path: ""'],
    ['metal-amd64-uki.efi.sig', 'invalid profile path: "metal-amd64-uki.efi.sig"'],
    ['cmdline-metal-amd64.iso', 'invalid architecture: "amd64.iso"'],
  ])('rejects %p', (path, message) => {
    expect(() => parseAssetPath(path)).toThrow(InvalidInputError)
    expect(() => parseAssetPath(path)).toThrow(message)
  })

  test('digital-amd64 stays platform "digital" (not digital-ocean)', () => {
    expect(parseAssetPath('digital-amd64.raw')).toMatchObject({ platform: 'digital', arch: 'amd64' })
  })
})

describe('helpers', () => {
  test.each([
    ['amd64', 'amd64'],
    ['arm64', 'arm64'],
    ['x86_64', 'amd64'],
    ['i386', 'amd64'],
  ] as const)('parseArch(%s)', (text, arch) => {
    expect(parseArch(text)).toBe(arch)
  })

  test.each(['AMD64', 'aarch64', 'arm', ''])('parseArch rejects %p', (text) => {
    expect(() => parseArch(text)).toThrow(`invalid architecture: ${JSON.stringify(text)}`)
  })

  test('parsePlatformArch handles digital-ocean and secureboot', () => {
    expect(parsePlatformArch('digital-ocean-arm64-secureboot')).toEqual({ platform: 'digital-ocean', arch: 'arm64', secureboot: true })
    expect(parsePlatformArch('metal-x86_64')).toEqual({ platform: 'metal', arch: 'amd64', secureboot: false })
  })

  test.each([
    ['metal-amd64.iso.sha256', 'metal-amd64.iso', 'sha256'],
    ['metal-amd64.iso.sha512', 'metal-amd64.iso', 'sha512'],
    ['metal-amd64.iso.sigstore.json', 'metal-amd64.iso', 'sigstore'],
    ['metal-amd64.iso', 'metal-amd64.iso', null],
  ] as const)('splitSidecar(%s)', (path, rest, sidecar) => {
    expect(splitSidecar(path)).toEqual({ path: rest, sidecar })
  })

  test.each([
    'kernel-amd64', 'initramfs-arm64.xz', 'cmdline-aws-amd64-secureboot', 'metal-amd64.iso', 'metal-arm64-secureboot-uki.efi',
    'installer-amd64-secureboot.tar', 'aws-installer-arm64.tar', 'metal-amd64.raw.zst', 'aws-amd64-secureboot.qcow2.tar.gz',
    'azure-amd64.vhd', 'vmware-arm64.ova', 'digital-ocean-amd64.raw.gz',
  ])('assetFileName round-trips %s', (path) => {
    expect(assetFileName(parseAssetPath(path))).toBe(path)
  })

  test('assetFileName canonicalises iPXE arch names', () => {
    expect(assetFileName(parseAssetPath('kernel-x86_64'))).toBe('kernel-amd64')
  })

  test('prefixError keeps the class and prefixes the message', () => {
    let caught: unknown
    try {
      parseAssetPath('metal-amd64.ssd')
    } catch (e) {
      caught = prefixError(e, PATH_ERROR_PREFIX)
    }
    expect(caught).toBeInstanceOf(InvalidInputError)
    expect((caught as Error).message).toBe('error parsing profile from path: invalid profile path: "metal-amd64.ssd"')
    const nf = prefixError(new NotFoundError('x'), 'p: ')
    expect(nf).toBeInstanceOf(NotFoundError)
    const plain = new Error('boom')
    expect(prefixError(plain, 'p: ')).toBe(plain)
  })
})
