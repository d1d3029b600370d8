import { describe, expect, test } from 'bun:test'
import { cacheKeyMaterial, cleanProfile, ERRATA, goBase, IMAGER_REVISION, imagerRevisionSalt, profileCacheKey } from '../../src/asset/cache-key.ts'
import { emptyProfile, profileToYaml, type Profile } from '../../src/asset/profile.ts'

const installerProfile = (version: string, imageRef: string): Profile => ({
  platform: 'metal',
  secureboot: false,
  arch: 'amd64',
  version,
  customization: { extraKernelArgs: ['foo', 'bar'] },
  input: {
    kernel: { path: `/tmp/foo/kernel-amd64-${version}` },
    initramfs: { path: `/tmp/foo/initramfs-amd64-${version}` },
    baseInstaller: { imageRef, ociPath: `/tmp/foo/installer-amd64-${version}.oci` },
    systemExtensions: [
      { imageRef: '', ociPath: '/var/run/amd64-sha256:1234567890.oci' },
      { imageRef: '', tarballPath: '/path/some/c36dec8c835049f60b10b8e02c689c47f775a07e9a9d909786e3aacb30af9675.tar' },
    ],
  },
  output: { kind: 'installer', outFormat: 'raw' },
})

const INSTALLER_YAML = `arch: amd64
platform: metal
secureboot: false
version: v1.5.3
customization:
    extraKernelArgs:
        - foo
        - bar
input:
    kernel:
        path: kernel-amd64-v1.5.3
    initramfs:
        path: initramfs-amd64-v1.5.3
    baseInstaller:
        imageRef: installer:v1.5.3
        ociPath: installer-amd64-v1.5.3.oci
    systemExtensions:
        - imageRef: ""
          ociPath: amd64-sha256:1234567890.oci
        - imageRef: ""
          tarballPath: c36dec8c835049f60b10b8e02c689c47f775a07e9a9d909786e3aacb30af9675.tar
output:
    kind: installer
    outFormat: raw
`

/**
 * The reference's vectors are hashed with imager revision 0, which appends nothing: they test the
 * reference's bytes. Our keys add one salt after the errata, the native imager's output revision
 * (IMAGER_REVISION, see 'imager revision salt' below).
 */
const REFERENCE = { revision: 0 }

describe('factory-spec §9.2 hash vectors (hash_test.go)', () => {
  test('empty profile', () => {
    expect(profileToYaml(emptyProfile())).toBe(
      'arch: ""\nplatform: ""\nsecureboot: null\nversion: ""\ninput:\n    kernel:\n        path: ""\n    initramfs:\n        path: ""\noutput:\n    kind: unknown\n    outFormat: unknown\n',
    )
    expect(profileCacheKey(emptyProfile(), REFERENCE)).toBe('9bd6614d6687009c562d4ad92f89fbb603d843cda17fea099a00d7df80344f31')
  })

  test('installer profile v1.5.3', () => {
    const p = installerProfile('v1.5.3', 'ghcr.io/siderolabs/installer:v1.5.3')
    expect(profileToYaml(cleanProfile(p))).toBe(INSTALLER_YAML)
    expect(cacheKeyMaterial(p, REFERENCE)).toBe(INSTALLER_YAML + 'installer fix #8107installer tarball fix #9772installer tarball fix #10278')
    expect(profileCacheKey(p, REFERENCE)).toBe('28a53cf4327cdaac8d42b9801191bc91a296980cacd51b2b1922be9c84fe1c19')
  })

  test('installer profile v1.10.0 (installer-base)', () => {
    const p = installerProfile('v1.10.0', 'ghcr.io/siderolabs/installer-base:v1.10.0')
    expect(profileCacheKey(p, REFERENCE)).toBe('1b58cf317b4b56ecf0df6857f73659f558add4b75c2a26ad2fcd7de5e41c2670')
  })
})

describe('cleaning', () => {
  test('Clean vector: basenames, image ref after the last slash', () => {
    const c = cleanProfile(installerProfile('v1.5.3', 'ghcr.io/siderolabs/installer:v1.5.3'))
    expect(c.input.kernel.path).toBe('kernel-amd64-v1.5.3')
    expect(c.input.initramfs.path).toBe('initramfs-amd64-v1.5.3')
    expect(c.input.baseInstaller).toEqual({ imageRef: 'installer:v1.5.3', ociPath: 'installer-amd64-v1.5.3.oci' })
    expect(c.input.systemExtensions).toEqual([
      { imageRef: '', ociPath: 'amd64-sha256:1234567890.oci' },
      { imageRef: '', tarballPath: 'c36dec8c835049f60b10b8e02c689c47f775a07e9a9d909786e3aacb30af9675.tar' },
    ])
  })

  test('does not mutate its input', () => {
    const p = installerProfile('v1.5.3', 'ghcr.io/siderolabs/installer:v1.5.3')
    cleanProfile(p)
    expect(p.input.kernel.path).toBe('/tmp/foo/kernel-amd64-v1.5.3')
  })

  test('forceInsecure and enrolment key paths are dropped; signer paths are kept', () => {
    const p = installerProfile('v1.13.0', 'r/installer-base:v1.13.0')
    p.secureboot = true
    p.input.baseInstaller!.forceInsecure = true
    p.input.secureboot = {
      secureBootSigner: { keyPath: '/keys/sign.pem', certPath: '/keys/cert.pem' },
      pcrSigner: { keyPath: '/keys/pcr.pem' },
      platformKeyPath: '/secureboot/PK.auth',
      keyExchangeKeyPath: '/secureboot/KEK.auth',
      signatureKeyPath: '/secureboot/db.auth',
    }
    p.input.sdBoot = { path: '/usr/install/amd64/systemd-boot.efi' }
    p.input.sdStub = { path: '/usr/install/amd64/systemd-stub.efi' }
    const c = cleanProfile(p)
    expect(c.input.baseInstaller!.forceInsecure).toBeUndefined()
    expect(c.input.secureboot).toEqual({ secureBootSigner: { keyPath: '/keys/sign.pem', certPath: '/keys/cert.pem' }, pcrSigner: { keyPath: '/keys/pcr.pem' } })
    expect(c.input.sdBoot!.path).toBe('systemd-boot.efi')
    expect(c.input.sdStub!.path).toBe('systemd-stub.efi')
    // machine-local temp dirs do not change the key, signer identity does
    const q = structuredClone(p)
    q.input.kernel.path = '/other/tmp/kernel-amd64-v1.13.0'
    q.input.secureboot!.platformKeyPath = '/elsewhere/PK.auth'
    expect(profileCacheKey(q)).toBe(profileCacheKey(p))
    q.input.secureboot!.secureBootSigner.keyPath = '/keys/other.pem'
    expect(profileCacheKey(q)).not.toBe(profileCacheKey(p))
  })

  test('overlay image paths are reduced to their digest names (deliberate; reference keeps temp dirs)', () => {
    const p = installerProfile('v1.11.0', 'r/installer-base:v1.11.0')
    p.overlay = { name: 'rpi_generic', image: { imageRef: '', ociPath: '/tmp/image-factory123/amd64-sha256:abc' } }
    p.input.overlayInstaller = { imageRef: '', ociPath: '/tmp/image-factory123/arm64-sha256:abc' }
    const c = cleanProfile(p)
    expect(c.overlay!.image.ociPath).toBe('amd64-sha256:abc')
    expect(c.input.overlayInstaller!.ociPath).toBe('arm64-sha256:abc')
    const q = structuredClone(p)
    q.overlay!.image.ociPath = '/var/lib/other/amd64-sha256:abc'
    expect(profileCacheKey(q)).toBe(profileCacheKey(p))
    q.overlay!.image.ociPath = '/var/lib/other/amd64-sha256:def'
    expect(profileCacheKey(q)).not.toBe(profileCacheKey(p))
  })

  test.each([
    ['/a/b/c.oci', 'c.oci'],
    ['c.oci', 'c.oci'],
    ['/a/b/', 'b'],
    ['/', '/'],
    ['', '.'],
  ])('goBase(%p) = %p', (path, base) => {
    expect(goBase(path)).toBe(base)
  })
})

describe('errata salts', () => {
  const kinds: Profile['output']['kind'][] = ['iso', 'image', 'installer', 'kernel', 'initramfs', 'uki', 'cmdline']
  const mk = (kind: Profile['output']['kind'], opts: { sb?: boolean; platform?: string; arch?: string; overlay?: boolean } = {}): Profile => {
    const p = emptyProfile()
    p.output.kind = kind
    p.output.outFormat = 'raw'
    p.platform = opts.platform ?? 'metal'
    p.arch = opts.arch ?? 'amd64'
    if (opts.sb) p.secureboot = true
    if (opts.overlay) p.overlay = { name: 'rpi_generic', image: { imageRef: '', ociPath: 'amd64-sha256:x' } }
    return p
  }
  const salts = (p: Profile) => ERRATA.filter((e) => e.applies(p)).map((e) => e.salt)

  test.each([
    [mk('installer'), ['installer fix #8107', 'installer tarball fix #9772', 'installer tarball fix #10278']],
    [mk('installer', { overlay: true }), ['installer fix #8107', 'overlay installer layout fix', 'installer tarball fix #9772', 'installer tarball fix #10278', 'overlay profile fix #11093', 'overlay extra kernel args fix #376']],
    [mk('iso', { sb: true }), ['secureboot iso gen fix #9565']],
    [mk('iso'), []],
    [mk('image', { platform: 'vmware', arch: 'amd64' }), ['vmware build fix #164']],
    [mk('image', { platform: 'vmware', arch: 'arm64' }), ['vmware build fix #164', 'vmware arm64 kernel args fix #11735']],
    [mk('image', { overlay: true }), ['overlay profile fix #11093']],
    [mk('uki', { overlay: true }), ['overlay profile fix #11093', 'overlay extra kernel args fix #376']],
    [mk('cmdline'), []],
  ] as const)('%#', (p, expected) => {
    expect(salts(p)).toEqual([...expected])
    expect(cacheKeyMaterial(p, REFERENCE)).toBe(profileToYaml(cleanProfile(p)) + expected.join(''))
    expect(cacheKeyMaterial(p)).toBe(profileToYaml(cleanProfile(p)) + expected.join('') + imagerRevisionSalt(IMAGER_REVISION))
  })

  test('every output kind gives a distinct key', () => {
    const keys = new Set(kinds.map((k) => profileCacheKey(mk(k))))
    expect(keys.size).toBe(kinds.length)
  })
})

// Our addition, after the reference errata (the vectors above keep testing the reference bytes):
// Secure Boot profiles name their keys only by the fixed /secureboot/… paths, so the key set's
// fingerprints are appended; without this a new key set would be served assets signed with the old.
describe('Secure Boot key salt', () => {
  const sb = (): Profile => {
    const p = emptyProfile()
    p.output.kind = 'uki'
    p.output.outFormat = 'raw'
    p.platform = 'metal'
    p.arch = 'amd64'
    p.secureboot = true
    p.input.secureboot = { secureBootSigner: { keyPath: '/secureboot/uki-signing-key.pem', certPath: '/secureboot/uki-signing-cert.pem' }, pcrSigner: { keyPath: '/secureboot/pcr-signing-key.pem' } }
    return p
  }

  test('is appended after the errata for Secure Boot profiles only', () => {
    const iso = sb()
    iso.output.kind = 'iso'
    expect(cacheKeyMaterial(iso, { secureBootSalt: 'secureboot keys a b' })).toBe(`${profileToYaml(cleanProfile(iso))}secureboot iso gen fix #9565secureboot keys a b${imagerRevisionSalt(IMAGER_REVISION)}`)
    const plain = sb()
    plain.secureboot = null
    delete plain.input.secureboot
    expect(profileCacheKey(plain, { secureBootSalt: 'secureboot keys a b' })).toBe(profileCacheKey(plain))
  })

  test('other keys → other cache key; same keys → same cache key', () => {
    const a = profileCacheKey(sb(), { secureBootSalt: 'secureboot keys 01 02' })
    expect(profileCacheKey(sb(), { secureBootSalt: 'secureboot keys 01 02' })).toBe(a)
    expect(profileCacheKey(sb(), { secureBootSalt: 'secureboot keys 01 03' })).not.toBe(a)
    expect(profileCacheKey(sb(), { secureBootSalt: 'secureboot keys 04 02' })).not.toBe(a)
    expect(profileCacheKey(sb())).not.toBe(a)
  })
})

describe('imager revision salt', () => {
  test('appended after the errata; the key is the sha256 of the reference bytes plus the salt', () => {
    const p = installerProfile('v1.5.3', 'ghcr.io/siderolabs/installer:v1.5.3')
    const material = `${INSTALLER_YAML}installer fix #8107installer tarball fix #9772installer tarball fix #10278native imager revision ${IMAGER_REVISION}`
    expect(cacheKeyMaterial(p)).toBe(material)
    expect(profileCacheKey(p)).toBe(new Bun.CryptoHasher('sha256').update(material).digest('hex'))
    expect(profileCacheKey(p)).not.toBe('28a53cf4327cdaac8d42b9801191bc91a296980cacd51b2b1922be9c84fe1c19')
  })

  test('every revision gives another key; 0 is the reference key', () => {
    const p = emptyProfile()
    expect(IMAGER_REVISION).toBeGreaterThanOrEqual(1)
    const keys = [0, 1, 2, 3].map((revision) => profileCacheKey(p, { revision }))
    expect(new Set(keys).size).toBe(4)
    expect(keys[0]).toBe('9bd6614d6687009c562d4ad92f89fbb603d843cda17fea099a00d7df80344f31')
    expect(profileCacheKey(p)).toBe(profileCacheKey(p, { revision: IMAGER_REVISION }))
  })

  test.each([-1, 1.5, Number.NaN])('revision %p is refused', (r) => {
    expect(() => profileCacheKey(emptyProfile(), { revision: r })).toThrow(RangeError)
  })
})
