import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { parseAssetPath } from '../../src/asset/path.ts'
import {
  cloneProfile,
  buildProfile,
  fillProfileDefaults,
  installerProfile,
  overlayProfileFragment,
  parseEnrollKeys,
  profileCmdline,
  profileOutputPath,
  profileToYaml,
  resolveOfficialExtension,
  validateProfile,
  type BuildProfileOptions,
  type Profile,
  type ResolvedImage,
  type SecureBootAssets,
} from '../../src/asset/profile.ts'
import { cacheKeyMaterial, profileCacheKey } from '../../src/asset/cache-key.ts'
import { parseSchematic } from '../../src/schematic/parse.ts'
import type { Schematic } from '../../src/schematic/types.ts'
import { Quirks } from '../../src/talos/quirks.ts'

const MiB = 1024 * 1024

const ID = {
  empty: '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba',
  extArgsMeta: '6ba13d510dcc57f233b9b498d34a3c919c1abdd5675b46ad53cf4f2e66362f82',
  overlay: '1da25204d18e6db95cb65ce2e38424b2ad94b2519a53aef34e45f07cc73ca5e8',
  aliased: '42c5a897579913a97ad7edc56c0d858bc4dd8639951e02b084edbb2e190a7898',
  wellKnown: 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6',
  sector4k: '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea',
  embedded: '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c',
}

/** The extension catalogue of the reference's profile_test.go mock. */
const CATALOGUE: Record<string, ResolvedImage> = {
  'siderolabs/amd-ucode': { ref: 'ghcr.io/siderolabs/amd-ucode:2023048', digest: 'sha256:amd-ucode' },
  'siderolabs/intel-ucode': { ref: 'ghcr.io/siderolabs/intel-ucode:20210608', digest: 'sha256:intel-ucode' },
  'siderolabs/gasket-driver': { ref: 'ghcr.io/siderolabs/gasket-driver:20240101', digest: 'sha256:gasket-driver' },
  'siderolabs/nvidia-container-toolkit-lts': { ref: 'ghcr.io/siderolabs/nvidia-container-toolkit-lts:v535.0.0-v1.15.0', digest: 'sha256:nvidia-toolkit' },
  'siderolabs/nvidia-open-gpu-kernel-modules-lts': { ref: 'ghcr.io/siderolabs/nvidia-open-gpu-kernel-modules-lts:v535.0.0', digest: 'sha256:nvidia-open' },
  'siderolabs/nonfree-kmod-nvidia-lts': { ref: 'ghcr.io/siderolabs/nonfree-kmod-nvidia-lts:v535.0.0', digest: 'sha256:nvidia-nonfree' },
  'siderolabs/nvidia-fabricmanager': { ref: 'ghcr.io/siderolabs/nvidia-fabricmanager:v535.0.0', digest: 'sha256:nvidia-fabric' },
  'siderolabs/i915-ucode': { ref: 'ghcr.io/siderolabs/i915-ucode:2023048', digest: 'sha256:i915-ucode' },
  'siderolabs/amdgpu-firmware': { ref: 'ghcr.io/siderolabs/amdgpu-firmware:2023048', digest: 'sha256:amdgpu-firmware' },
}

/** rpi_generic `profiles/rpi_generic.yaml` as parsed YAML. */
const RPI_PROFILE = overlayProfileFragment({
  arch: 'arm64',
  platform: 'metal',
  secureboot: false,
  output: { kind: 'image', outFormat: '.xz', imageOptions: { diskSize: 1306525696, diskFormat: 'raw', bootloader: 'grub' } },
})

const SB_ASSETS: SecureBootAssets = {
  secureBootSigner: { keyPath: 'sign-key.pem', certPath: 'sign-cert.pem' },
  pcrSigner: { keyPath: 'pcr-key.pem' },
}

const opts = (schematicId: string, extra: Partial<BuildProfileOptions> = {}): BuildProfileOptions => ({
  schematicId,
  resolveExtension: (name) => CATALOGUE[name] ?? null,
  resolveOverlay: (name) =>
    name === 'rpi_generic' ? { name, ref: 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0', digest: 'sha256:sbc-raspberrypi', profile: RPI_PROFILE } : null,
  secureBoot: SB_ASSETS,
  hostArch: 'amd64',
  ...extra,
})

type Kind = 'iso' | 'image' | 'installer'
const pathFor = (kind: Kind, arch: string, sb: boolean) => {
  const s = sb ? '-secureboot' : ''
  return kind === 'iso' ? `metal-${arch}${s}.iso` : kind === 'image' ? `metal-${arch}${s}.raw.zst` : `installer-${arch}${s}.tar`
}

/** The reference's defaultExpectedProfile, for path-derived base profiles. */
function expectedDefault(version: string, arch: string, kind: Kind, sb: boolean, schematicId = ID.empty): Profile {
  const q = new Quirks(version)
  const p: Profile = {
    arch,
    platform: 'metal',
    secureboot: sb ? true : null,
    name: 'Talos',
    version,
    customization: {},
    input: {
      kernel: { path: '' },
      initramfs: { path: '' },
      systemExtensions: [{ imageRef: '', tarballPath: `${schematicId}-${q.supportsOverlay()}.tar` }],
    },
    output: { kind, outFormat: 'raw' },
  }
  if (kind === 'image') p.output = { kind, outFormat: '.zst', imageOptions: { diskSize: 1246 * MiB, diskFormat: 'raw' } }
  if (kind === 'installer') {
    p.input.baseInstaller = { imageRef: `${q.supportsUnifiedInstaller() ? 'siderolabs/installer-base' : 'siderolabs/installer'}:${version}`, ociPath: `${arch}-installer-${version}` }
  }
  if (sb) p.input.secureboot = structuredClone(SB_ASSETS)
  return p
}

const VERSIONS = ['v1.5.0', 'v1.6.0', 'v1.7.0', 'v1.8.0', 'v1.9.0', 'v1.10.0', 'v1.11.0', 'v1.12.0', 'v1.13.0']
const MATRIX = VERSIONS.flatMap((v) => (['amd64', 'arm64'] as const).flatMap((a) => [false, true].flatMap((sb) => (['iso', 'image', 'installer'] as const).map((k) => [v, a, sb, k] as const))))

const build = (path: string, schematic: Schematic, version: string, o: BuildProfileOptions) => buildProfile(parseAssetPath(path), schematic, version, o)

describe('EnhanceFromSchematic matrix (profile_test.go)', () => {
  test.each(MATRIX)('default %s %s sb=%p %s', async (version, arch, sb, kind) => {
    const { profile } = await build(pathFor(kind, arch, sb), { customization: {} }, version, opts(ID.empty))
    expect(profile).toEqual(expectedDefault(version, arch, kind, sb))
  })

  test.each(MATRIX)('extensions + kernel args + meta %s %s sb=%p %s', async (version, arch, sb, kind) => {
    const schematic: Schematic = {
      customization: {
        systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/intel-ucode'] },
        extraKernelArgs: ['noapic', 'nolapic'],
        meta: [{ key: 0xa, value: 'foo' }],
      },
    }
    const { profile, dependencies } = await build(pathFor(kind, arch, sb), schematic, version, opts(ID.extArgsMeta))
    const expected = expectedDefault(version, arch, kind, sb, ID.extArgsMeta)
    expected.input.systemExtensions = [
      { imageRef: '', ociPath: `${arch}-sha256:amd-ucode` },
      { imageRef: '', ociPath: `${arch}-sha256:intel-ucode` },
      ...expected.input.systemExtensions!,
    ]
    if (kind !== 'installer') {
      expected.customization = { extraKernelArgs: ['noapic', 'nolapic'], metaContents: [{ key: 10, value: 'foo' }] }
    } else if (sb || new Quirks(version).supportsUnifiedInstaller()) {
      expected.customization = { extraKernelArgs: ['noapic', 'nolapic'] }
    }
    expect(profile).toEqual(expected)
    expect(dependencies.filter((d) => d.kind === 'extension')).toEqual([
      { kind: 'extension', arch, name: 'siderolabs/amd-ucode', ref: 'ghcr.io/siderolabs/amd-ucode:2023048', digest: 'sha256:amd-ucode', path: `${arch}-sha256:amd-ucode` },
      { kind: 'extension', arch, name: 'siderolabs/intel-ucode', ref: 'ghcr.io/siderolabs/intel-ucode:20210608', digest: 'sha256:intel-ucode', path: `${arch}-sha256:intel-ucode` },
    ])
  })

  test.each(['v1.7.0', 'v1.8.0', 'v1.9.0', 'v1.10.0', 'v1.11.0'].flatMap((v) => (['image', 'installer'] as const).map((k) => [v, k] as const)))(
    'rpi_generic overlay + extensions + kernel args %s %s',
    async (version, kind) => {
      const schematic: Schematic = {
        overlay: { name: 'rpi_generic', image: 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0' },
        customization: {
          extraKernelArgs: ['noapic', 'nolapic'],
          systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/intel-ucode'] },
        },
      }
      const { profile, dependencies } = await build(pathFor(kind, 'arm64', false), schematic, version, opts(ID.overlay))
      const expected = expectedDefault(version, 'arm64', kind, false, ID.overlay)
      expected.input.systemExtensions = [
        { imageRef: '', ociPath: 'arm64-sha256:amd-ucode' },
        { imageRef: '', ociPath: 'arm64-sha256:intel-ucode' },
        { imageRef: '', tarballPath: `${ID.overlay}-true.tar` },
      ]
      expected.input.overlayInstaller = { imageRef: '', ociPath: 'arm64-sha256:sbc-raspberrypi' }
      expected.overlay = { name: 'rpi_generic', image: { imageRef: '', ociPath: 'amd64-sha256:sbc-raspberrypi' } }
      if (kind === 'image') {
        expected.customization = { extraKernelArgs: ['noapic', 'nolapic'] }
        expected.output.imageOptions = { diskSize: 1246 * MiB, diskFormat: 'raw', bootloader: 'grub' }
      } else {
        if (new Quirks(version).supportsUnifiedInstaller()) expected.customization = { extraKernelArgs: ['noapic', 'nolapic'] }
        expected.output.imageOptions = { diskSize: 0, bootloader: 'grub' }
      }
      expect(profile).toEqual(expected)
      expect(dependencies.filter((d) => d.kind === 'overlay').map((d) => d.path)).toEqual(['amd64-sha256:sbc-raspberrypi', 'arm64-sha256:sbc-raspberrypi'])
    },
  )

  test.each(MATRIX)('aliased extensions %s %s sb=%p %s', async (version, arch, sb, kind) => {
    const schematic: Schematic = {
      customization: {
        systemExtensions: {
          officialExtensions: [
            'siderolabs/nvidia-container-toolkit',
            'siderolabs/nvidia-open-gpu-kernel-modules',
            'siderolabs/nonfree-kmod-nvidia',
            'siderolabs/nvidia-fabricmanager',
            'siderolabs/i915-ucode',
            'siderolabs/amdgpu-firmware',
          ],
        },
      },
    }
    const { profile } = await build(pathFor(kind, arch, sb), schematic, version, opts(ID.aliased))
    const expected = expectedDefault(version, arch, kind, sb, ID.aliased)
    expected.input.systemExtensions = [
      ...['nvidia-toolkit', 'nvidia-open', 'nvidia-nonfree', 'nvidia-fabric', 'i915-ucode', 'amdgpu-firmware'].map((d) => ({ imageRef: '', ociPath: `${arch}-sha256:${d}` })),
      ...expected.input.systemExtensions!,
    ]
    expect(profile).toEqual(expected)
  })

  test.each(VERSIONS.flatMap((v) => (['amd64', 'arm64'] as const).map((a) => [v, a] as const)))('SecureBoot ISO with well-known certs %s %s', async (version, arch) => {
    const schematic: Schematic = { customization: { secureboot: { includeWellKnownCertificates: true } } }
    const { profile } = await build(pathFor('iso', arch, true), schematic, version, opts(ID.wellKnown))
    const expected = expectedDefault(version, arch, 'iso', true, ID.wellKnown)
    expected.input.secureboot!.includeWellKnownCerts = true
    expect(profile).toEqual(expected)
  })

  test.each(['v1.12.0', 'v1.13.0'].flatMap((v) => (['amd64', 'arm64'] as const).map((a) => [v, a] as const)))('embedded machine configuration %s %s', async (version, arch) => {
    const config = 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: worker-33'
    const { profile } = await build(pathFor('image', arch, false), { customization: { embeddedMachineConfiguration: config } }, version, opts(ID.embedded))
    const expected = expectedDefault(version, arch, 'image', false, ID.embedded)
    expected.customization = { embeddedMachineConfiguration: config }
    expect(profile).toEqual(expected)
  })

  test.each(VERSIONS.flatMap((v) => (['amd64', 'arm64'] as const).map((a) => [v, a] as const)))('4k sector disk image %s %s', async (version, arch) => {
    const { profile } = await build(pathFor('image', arch, false), { customization: { diskImage: { sectorSize: 4096 } } }, version, opts(ID.sector4k))
    const expected = expectedDefault(version, arch, 'image', false, ID.sector4k)
    expected.output.imageOptions!.diskSectorSize = 4096
    expect(profile).toEqual(expected)
  })
})

describe('enrollKeys (TestEnhanceFromSchematicEnrollKeys)', () => {
  const s = (enrollKeys: string): Schematic => ({ customization: { secureboot: { enrollKeys } } })
  test('force on a SecureBoot disk image sets image options', async () => {
    const { profile } = await build('metal-amd64-secureboot.raw.zst', s('force'), 'v1.13.0', opts(ID.empty))
    expect(profile.output.imageOptions?.sdBootEnrollKeys).toBe('force')
  })
  test('force on a SecureBoot ISO sets ISO options', async () => {
    const { profile } = await build('metal-amd64-secureboot.iso', s('FORCE'), 'v1.13.0', opts(ID.empty))
    expect(profile.output.isoOptions).toEqual({ sdBootEnrollKeys: 'force' })
  })
  test('ignored for UKI/installer and without SecureBoot', async () => {
    expect((await build('metal-amd64-secureboot-uki.efi', s('force'), 'v1.13.0', opts(ID.empty))).profile.output).toEqual({ kind: 'uki', outFormat: 'raw' })
    const plain = (await build('metal-amd64.raw.zst', s('bogus'), 'v1.13.0', opts(ID.empty))).profile
    expect(plain.output.imageOptions?.sdBootEnrollKeys).toBeUndefined()
  })
  test('bogus value is rejected', async () => {
    const err = build('metal-amd64-secureboot.raw.zst', s('bogus'), 'v1.13.0', opts(ID.empty))
    await expect(err).rejects.toThrow(InvalidInputError)
    await expect(err).rejects.toThrow('invalid secureboot enrollKeys value "bogus": bogus does not belong to SDBootEnrollKeys values')
  })
  test('parseEnrollKeys accepts the four values case-insensitively', () => {
    expect(['if-safe', 'manual', 'force', 'off', 'Off'].map(parseEnrollKeys)).toEqual(['if-safe', 'manual', 'force', 'off', 'off'])
  })
})

describe('version gating and 400 reasons (factory-spec §6.4/§6.5)', () => {
  test.each([
    ['embedded config before 1.12', 'metal-amd64.iso', { customization: { embeddedMachineConfiguration: 'x' } }, 'v1.11.3', 'embedding configuration is not supported for Talos version v1.11.3'],
    ['embedded config, version without v', 'metal-amd64.iso', { customization: { embeddedMachineConfiguration: 'x' } }, '1.11.0', 'embedding configuration is not supported for Talos version v1.11.0'],
    ['overlay before 1.7', 'metal-arm64.raw.xz', { overlay: { name: 'rpi_generic', image: 'x' }, customization: {} }, 'v1.6.7', 'overlay is not supported for Talos version v1.6.7'],
    ['unknown extension', 'metal-amd64.iso', { customization: { systemExtensions: { officialExtensions: ['siderolabs/nope'] } } }, 'v1.11.0', 'official extension "siderolabs/nope" is not available for Talos version v1.11.0'],
    ['unknown overlay', 'metal-arm64.raw.xz', { overlay: { name: 'nope', image: 'x' }, customization: {} }, 'v1.11.0', 'official overlay "nope" is not available for Talos version v1.11.0'],
    ['SecureBoot before 1.5', 'metal-amd64-secureboot.iso', { customization: {} }, 'v1.4.8', 'secureboot is not supported for Talos version "v1.4.8"'],
    ['UKI before 1.5', 'metal-amd64-uki.efi', { customization: {} }, 'v1.4.8', 'UKI output is not supported in this Talos version'],
    ['unknown platform', 'foo-amd64.iso', { customization: {} }, 'v1.11.0', 'unknown platform: "foo"'],
  ] as const)('%s', async (_name, path, schematic, version, message) => {
    const p = build(path, schematic as Schematic, version, opts(ID.empty))
    await expect(p).rejects.toThrow(InvalidInputError)
    await expect(p).rejects.toThrow(message)
  })

  test('SecureBoot disabled', async () => {
    const p = build('metal-amd64-secureboot.iso', { customization: {} }, 'v1.11.0', opts(ID.empty, { secureBoot: undefined }))
    await expect(p).rejects.toThrow('secure boot is disabled')
  })

  test('embedded config is not checked for kernel/cmdline outputs', async () => {
    const s: Schematic = { customization: { embeddedMachineConfiguration: 'x' } }
    await build('kernel-amd64', s, 'v1.9.0', opts(ID.empty))
    await build('cmdline-metal-amd64', s, 'v1.9.0', opts(ID.empty))
    await expect(build('initramfs-amd64.xz', s, 'v1.9.0', opts(ID.empty))).rejects.toThrow('embedding configuration is not supported')
  })

  test('extensions are not resolved for kernel and cmdline', async () => {
    const s: Schematic = { customization: { systemExtensions: { officialExtensions: ['siderolabs/nope'] } } }
    const k = await build('kernel-amd64', s, 'v1.11.0', opts(ID.empty))
    expect(k.profile.input.systemExtensions).toBeUndefined()
    expect(k.dependencies).toEqual([])
    const c = await build('cmdline-metal-amd64', s, 'v1.11.0', opts(ID.empty))
    expect(c.profile.input.systemExtensions).toBeUndefined()
  })

  test('extension alias is used only when the requested name is missing', async () => {
    const seen: string[] = []
    const r = await resolveOfficialExtension('siderolabs/gasket', (n) => (seen.push(n), CATALOGUE[n] ?? null))
    expect(r?.digest).toBe('sha256:gasket-driver')
    expect(seen).toEqual(['siderolabs/gasket', 'siderolabs/gasket-driver'])
    expect(await resolveOfficialExtension('siderolabs/unknown', () => null)).toBeNull()
    expect(await resolveOfficialExtension('toString', () => null)).toBeNull()
  })
})

describe('per-kind customization', () => {
  const full: Schematic = {
    customization: { extraKernelArgs: ['a'], meta: [{ key: 1, value: 'v' }], bootloader: 'sd-boot', diskImage: { sectorSize: 4096 } },
  }
  test('kernel and initramfs ignore args/META', async () => {
    for (const path of ['kernel-amd64', 'initramfs-amd64.xz']) {
      expect((await build(path, full, 'v1.13.0', opts(ID.empty))).profile.customization).toEqual({})
    }
  })
  test('cmdline gets args and META, no bootloader', async () => {
    const { profile } = await build('cmdline-metal-amd64', full, 'v1.13.0', opts(ID.empty))
    expect(profile.customization).toEqual({ extraKernelArgs: ['a'], metaContents: [{ key: 1, value: 'v' }] })
    expect(profile.output).toEqual({ kind: 'cmdline', outFormat: 'raw' })
  })
  test('ISO gets the bootloader in isoOptions', async () => {
    const { profile } = await build('metal-amd64.iso', full, 'v1.13.0', opts(ID.empty))
    expect(profile.output.isoOptions).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: 'sd-boot' })
  })
  test('disk image gets bootloader and sector size', async () => {
    const { profile } = await build('metal-amd64.raw.xz', full, 'v1.13.0', opts(ID.empty))
    expect(profile.output.imageOptions).toEqual({ diskSize: 1246 * MiB, diskFormat: 'raw', diskSectorSize: 4096, bootloader: 'sd-boot' })
  })
  test('bootloader none is ignored', async () => {
    const { profile } = await build('metal-amd64.iso', { customization: { bootloader: 'none' } }, 'v1.13.0', opts(ID.empty))
    expect(profile.output.isoOptions).toBeUndefined()
  })
  test('platform installer keeps its platform', async () => {
    const { profile } = await build('aws-installer-arm64.tar', { customization: {} }, 'v1.11.0', opts(ID.empty, { artifactsDir: '/var/lib/f/artifacts', schematicsDir: '/var/lib/f/schematics' }))
    expect(profile.platform).toBe('aws')
    expect(profile.input.baseInstaller).toEqual({ imageRef: 'siderolabs/installer-base:v1.11.0', ociPath: '/var/lib/f/artifacts/arm64-installer-v1.11.0' })
    expect(profile.input.systemExtensions).toEqual([{ imageRef: '', tarballPath: `/var/lib/f/schematics/${ID.empty}-true.tar` }])
  })
  test('overlay options are carried into the profile', async () => {
    const s: Schematic = { overlay: { name: 'rpi_generic', image: 'x', options: { configTxtAppend: 'dtoverlay=vc4-kms-v3d\n' } }, customization: {} }
    const { profile } = await build('metal-arm64.raw.xz', s, 'v1.11.0', opts(ID.empty))
    expect(profile.overlay?.options).toEqual({ configTxtAppend: 'dtoverlay=vc4-kms-v3d\n' })
    expect(profileToYaml(profile)).toContain('overlay:\n    name: rpi_generic\n    image:\n        imageRef: ""\n        ociPath: amd64-sha256:sbc-raspberrypi\n    options:\n        configTxtAppend: |\n            dtoverlay=vc4-kms-v3d\n')
  })
  test('typed overlay options (floats, timestamps, non-string keys) keep their YAML form through copies and the cache key', async () => {
    const s = parseSchematic('overlay:\n  name: rpi_generic\n  image: x\n  options:\n    a: 1.0\n    b: 2024-01-01\n    c: {1: x}\n')
    const { profile } = await build('metal-arm64.raw.xz', s, 'v1.11.0', opts(ID.empty))
    const options = '    options:\n        a: 1\n        b: 2024-01-01T00:00:00Z\n        c:\n            1: x\n'
    // (structuredClone turned YamlFloat into `a: {value: 1}`, the cache key hashed that and the
    // overlay installer got it as its options)
    expect(profileToYaml(profile)).toContain(options)
    expect(profileToYaml(cloneProfile(profile))).toContain(options)
    expect(cacheKeyMaterial(profile)).toContain(options)
  })
})

describe('cmdline through the whole pipeline', () => {
  const METAL_13 = 'talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'
  test.each([
    ['cmdline-metal-amd64', { customization: {} }, METAL_13],
    ['cmdline-metal-amd64', { customization: { extraKernelArgs: ['nolapic', 'nomodeset'] } }, METAL_13 + ' nolapic nomodeset'],
    ['cmdline-metal-amd64', { customization: { meta: [{ key: 0xa, value: '{"externalIPs":["1.2.3.4"]}' }] } }, METAL_13 + ' talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ=='],
    ['metal-amd64-uki.efi', { customization: { extraKernelArgs: ['nolapic', 'nomodeset'] } }, METAL_13 + ' nolapic nomodeset'],
    ['installer-amd64.tar', { customization: { extraKernelArgs: ['nolapic'] } }, METAL_13 + ' nolapic'],
    ['metal-amd64.iso', { customization: {} }, METAL_13.replace('console=tty0', 'console=tty0 talos.halt_if_installed=1')],
    ['cmdline-metal-amd64-secureboot', { customization: {} }, METAL_13 + ' lockdown=confidentiality'],
  ] as const)('%s %j', async (path, schematic, expected) => {
    const { profile } = await build(path, schematic as Schematic, 'v1.13.0', opts(ID.empty))
    expect(profileCmdline(profile)).toBe(expected)
  })

  test('installers before 1.10 drop schematic args (non-SecureBoot)', async () => {
    const { profile } = await build('installer-amd64.tar', { customization: { extraKernelArgs: ['nolapic'] } }, 'v1.9.0', opts(ID.empty))
    expect(profile.customization).toEqual({})
  })

  test('overlay kernel args are applied in place', async () => {
    const s: Schematic = { overlay: { name: 'rpi_generic', image: 'x' }, customization: { extraKernelArgs: ['a'] } }
    const { profile } = await build('metal-arm64.raw.xz', s, 'v1.14.0', opts(ID.empty))
    expect(profileCmdline(profile, ['console=tty0', 'console=ttyAMA0,115200', 'sysctl.kernel.kexec_load_disabled=1', 'talos.dashboard.disabled=1'])).toBe(
      'talos.platform=metal console=tty0 console=ttyAMA0,115200 sysctl.kernel.kexec_load_disabled=1 talos.dashboard.disabled=1 slab_nomerge pti=on consoleblank=0 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never a',
    )
  })
})

describe('imager defaults (imager-spec §2.5, §2.7)', () => {
  const fill = async (path: string, version: string) => fillProfileDefaults((await build(path, { customization: {} }, version, opts(ID.empty))).profile)
  test.each([
    ['metal-amd64.raw.xz', 'v1.9.0', 1306525696, 'grub'],
    ['metal-arm64.raw.xz', 'v1.9.0', 1306525696, 'grub'],
    ['metal-amd64-secureboot.raw.xz', 'v1.9.0', 1306525696, 'sd-boot'],
    ['metal-amd64.raw.xz', 'v1.10.0', 2356150272, 'dual-boot'],
    ['metal-arm64.raw.xz', 'v1.10.0', 1306525696, 'sd-boot'],
    ['metal-arm64-secureboot.raw.xz', 'v1.10.0', 1306525696, 'sd-boot'],
    ['metal-amd64.raw.xz', 'v1.11.0', 4453302272, 'dual-boot'],
    ['metal-arm64.raw.xz', 'v1.13.0', 2355101696, 'sd-boot'],
    ['metal-amd64-secureboot.raw.xz', 'v1.12.0', 2355101696, 'sd-boot'],
    ['aws-amd64.raw.xz', 'v1.9.0', 8589934592, 'grub'],
    ['aws-amd64.raw.xz', 'v1.10.0', 9639559168, 'dual-boot'],
    ['aws-amd64.raw.xz', 'v1.11.0', 11736711168, 'dual-boot'],
    ['aws-arm64.raw.xz', 'v1.11.0', 9638510592, 'sd-boot'],
    ['exoscale-amd64.qcow2', 'v1.9.0', 10737418240, 'grub'],
    ['exoscale-amd64.qcow2', 'v1.10.0', 11787042816, 'dual-boot'],
    ['exoscale-amd64.qcow2', 'v1.11.0', 13884194816, 'dual-boot'],
    ['exoscale-arm64.qcow2', 'v1.10.0', 10737418240, 'sd-boot'],
    ['exoscale-arm64.qcow2', 'v1.11.0', 11785994240, 'sd-boot'],
  ] as const)('%s @ %s → %d bytes, %s', async (path, version, size, bootloader) => {
    const p = await fill(path, version)
    expect(p.output.imageOptions?.diskSize).toBe(size)
    expect(p.output.imageOptions?.bootloader).toBe(bootloader)
  })

  test('ISO bootloader only from 1.12', async () => {
    expect((await fill('metal-amd64.iso', 'v1.11.0')).output.isoOptions).toBeUndefined()
    expect((await fill('metal-amd64.iso', 'v1.12.0')).output.isoOptions).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: 'dual-boot' })
    expect((await fill('metal-arm64.iso', 'v1.12.0')).output.isoOptions).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: 'sd-boot' })
  })

  test('input paths and base installer', async () => {
    const p = await fill('installer-arm64-secureboot.tar', 'v1.9.0')
    expect(p.input.kernel.path).toBe('/usr/install/arm64/vmlinuz')
    expect(p.input.initramfs.path).toBe('/usr/install/arm64/initramfs.xz')
    expect(p.input.sdStub?.path).toBe('/usr/install/arm64/systemd-stub.efi')
    expect(p.input.sdBoot?.path).toBe('/usr/install/arm64/systemd-boot.efi')
    expect(p.input.baseInstaller?.imageRef).toBe('siderolabs/installer:v1.9.0')
    const q = fillProfileDefaults(installerProfile(false, 'amd64'), {})
    expect(q.input.baseInstaller).toEqual({ imageRef: 'ghcr.io/siderolabs/installer-base:' })
  })

  test('SecureBoot signer defaults and optional enrolment files', () => {
    const p = installerProfile(true, 'amd64')
    p.version = 'v1.11.0'
    const f = fillProfileDefaults(p, { fileExists: (path) => path === '/secureboot/KEK.auth' })
    expect(f.input.secureboot).toEqual({
      secureBootSigner: { keyPath: '/secureboot/uki-signing-key.pem', certPath: '/secureboot/uki-signing-cert.pem' },
      pcrSigner: { keyPath: '/secureboot/pcr-signing-key.pem' },
      keyExchangeKeyPath: '/secureboot/KEK.auth',
    })
  })

  test('validateProfile rejects a disk image without bootloader', () => {
    const p = installerProfile(false, 'amd64')
    p.output = { kind: 'image', outFormat: 'raw', imageOptions: { diskSize: 1 } }
    expect(() => validateProfile(p)).toThrow("bootloader cannot be 'none' for disk image output")
    p.output.kind = 'installer'
    p.customization.metaContents = [{ key: 1, value: 'x' }]
    expect(() => validateProfile(p)).toThrow('customization of meta partition is not supported for installer output')
  })

  test.each([
    ['metal-amd64.iso', 'metal-amd64.iso'],
    ['aws-arm64-secureboot.qcow2.xz', 'aws-arm64-secureboot.qcow2'],
    ['aws-installer-amd64.tar', 'installer-amd64.tar'],
    ['cmdline-metal-amd64', 'cmdline-metal-amd64'],
    ['metal-amd64-uki.efi', 'metal-amd64-uki.efi'],
  ])('imager output path for %s', async (path, out) => {
    expect(profileOutputPath((await build(path, { customization: {} }, 'v1.11.0', opts(ID.empty))).profile)).toBe(out)
  })
})

describe('profile YAML for the imager', () => {
  test('a SecureBoot ISO profile', async () => {
    const s: Schematic = {
      customization: {
        extraKernelArgs: ['console=ttyS0,115200', 'yes'],
        meta: [{ key: 10, value: '{"a":1}' }],
        secureboot: { includeWellKnownCertificates: true, enrollKeys: 'force' },
        systemExtensions: { officialExtensions: ['siderolabs/gasket'] },
      },
    }
    const { profile } = await build('metal-amd64-secureboot.iso', s, '1.13.0', opts('abc', { artifactsDir: '/a', schematicsDir: '/s' }))
    expect(profileToYaml(profile)).toBe(
      [
        'arch: amd64',
        'platform: metal',
        'secureboot: true',
        'name: Talos',
        'version: v1.13.0',
        'customization:',
        '    extraKernelArgs:',
        '        - console=ttyS0,115200',
        "        - 'yes'",
        '    metaContents:',
        '        - key: 10',
        `          value: '{"a":1}'`,
        'input:',
        '    kernel:',
        '        path: ""',
        '    initramfs:',
        '        path: ""',
        '    secureboot:',
        '        secureBootSigner:',
        '            keyPath: sign-key.pem',
        '            certPath: sign-cert.pem',
        '        pcrSigner:',
        '            keyPath: pcr-key.pem',
        '        includeWellKnownCerts: true',
        '    systemExtensions:',
        '        - imageRef: ""',
        '          ociPath: /a/amd64-sha256:gasket-driver',
        '        - imageRef: ""',
        '          tarballPath: /s/abc-true.tar',
        'output:',
        '    kind: iso',
        '    isoOptions:',
        '        sdBootEnrollKeys: force',
        '    outFormat: raw',
        '',
      ].join('\n'),
    )
  })

  test('disk image options: if-safe and none are omitted, diskSize always present', () => {
    const p = installerProfile(false, 'amd64')
    p.output = { kind: 'image', outFormat: '.tar.gz', imageOptions: { diskSize: 0, sdBootEnrollKeys: 'if-safe', bootloader: 'none' } }
    expect(profileToYaml(p)).toEndWith('output:\n    kind: image\n    imageOptions:\n        diskSize: 0\n    outFormat: .tar.gz\n')
  })

  test('cache key is stable for identical inputs and sensitive to extension digests', async () => {
    const s: Schematic = { customization: { systemExtensions: { officialExtensions: ['siderolabs/amd-ucode'] } } }
    const a = await build('metal-amd64.iso', s, 'v1.11.0', opts(ID.empty, { artifactsDir: '/tmp/x' }))
    const b = await build('metal-amd64.iso', s, 'v1.11.0', opts(ID.empty, { artifactsDir: '/other' }))
    expect(profileCacheKey(a.profile)).toBe(profileCacheKey(b.profile))
    const c = await build('metal-amd64.iso', s, 'v1.11.0', { ...opts(ID.empty), resolveExtension: () => ({ ref: 'r', digest: 'sha256:other' }) })
    expect(profileCacheKey(c.profile)).not.toBe(profileCacheKey(a.profile))
  })
})
