import { describe, expect, test } from 'bun:test'
import { InvalidInputError, NotImplementedError } from '../../src/errors.ts'
import { exitCodeFor } from '../../builder/imager/errors.ts'
import { parseProfile } from '../../builder/imager/profile.ts'

const BASE = `arch: amd64
platform: metal
secureboot: false
version: v1.11.0
input:
  kernel:
    path: /k
  initramfs:
    path: /i
  systemExtensions:
    - imageRef: ""
      tarballPath: /ext/a
    - tarballPath: /ext/b
      digest: sha256:abc
output:
  kind: initramfs
  outFormat: raw
`

function expectError(text: string, cls: new (...args: never[]) => Error, msg: string | RegExp): void {
  let err: unknown
  try {
    parseProfile(text)
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(cls)
  if (typeof msg === 'string') expect((err as Error).message).toBe(msg)
  else expect((err as Error).message).toMatch(msg)
}

describe('imager profile parsing', () => {
  test('reads the fields the native imager uses', () => {
    const p = parseProfile(BASE)
    expect(p.arch).toBe('amd64')
    expect(p.platform).toBe('metal')
    expect(p.version).toBe('v1.11.0')
    expect(p.name).toBe('Talos')
    expect(p.input).toEqual({
      kernel: '/k',
      initramfs: '/i',
      sdStub: '/usr/install/amd64/systemd-stub.efi',
      sdBoot: '/usr/install/amd64/systemd-boot.efi',
      systemExtensions: [{ tarballPath: '/ext/a' }, { tarballPath: '/ext/b', digest: 'sha256:abc' }],
      baseInstaller: null,
      overlayInstaller: null,
      secureboot: null,
    })
    expect(p.output).toEqual({ kind: 'initramfs', outFormat: 'raw', imageOptions: null, isoOptions: null })
    expect(p.hasOverlay).toBe(false)
  })

  test('fills the reference input defaults and ignores unknown fields', () => {
    const p = parseProfile('arch: arm64\nplatform: metal\nversion: 1.10.3\nsomething: else\noutput: {kind: kernel, imageOptions: {diskSize: 1}}\n')
    expect(p.input.kernel).toBe('/usr/install/arm64/vmlinuz')
    expect(p.input.initramfs).toBe('/usr/install/arm64/initramfs.xz')
    expect(p.output.outFormat).toBe('raw')
  })

  test('customization: extra args, META (Go integer forms), embedded config', () => {
    const p = parseProfile(
      'arch: amd64\nplatform: metal\nversion: v1.12.0\ncustomization:\n  extraKernelArgs: [console=ttyS0, -selinux]\n  metaContents:\n    - key: 0xa\n      value: "{}"\n  embeddedMachineConfiguration: |\n    version: v1alpha1\noutput:\n  kind: cmdline\n',
    )
    expect(p.customization.extraKernelArgs).toEqual(['console=ttyS0', '-selinux'])
    expect(p.customization.metaContents).toEqual([{ key: 10, value: '{}' }])
    expect(p.customization.embeddedMachineConfiguration).toBe('version: v1alpha1\n')
  })

  test('validation with the reference messages', () => {
    expectError(BASE.replace('arch: amd64', 'arch: riscv64'), InvalidInputError, 'profile is invalid: invalid arch "riscv64"')
    expectError(BASE.replace('platform: metal', 'platform: ""'), InvalidInputError, 'profile is invalid: platform is required')
    expectError(BASE.replace('kind: initramfs', 'kind: floppy'), InvalidInputError, 'profile is invalid: unknown output kind "floppy"')
    expectError(BASE.replace('secureboot: false', 'secureboot: true'), NotImplementedError, 'secureboot is not supported for initramfs output')
    expectError(BASE.replace('version: v1.11.0', 'version: v1.11.0\ncustomization:\n  extraKernelArgs: [a]'), NotImplementedError, 'customization of kernel args is not supported for initramfs output')
    expectError(BASE.replace('outFormat: raw', 'outFormat: .bz2'), InvalidInputError, 'unknown output format: .bz2')
    expectError('arch: amd64\nplatform: metal\nversion: v1.4.0\nsecureboot: true\noutput: {kind: uki}\n', NotImplementedError, 'secureboot is not supported for Talos version "v1.4.0"')
    expectError('', InvalidInputError, 'profile is empty')
    expectError('arch: [amd64]\n', InvalidInputError, /arch: cannot unmarshal !!seq into string/)
    expectError('arch: amd64\n  bad: indentation\n', InvalidInputError, /^profile is not valid YAML/)
  })

  test('image options: the reference bootloader choice and disk size adjustment (imager-spec §2.5, §2.7)', () => {
    const image = (version: string, arch: string, extra = '') =>
      parseProfile(`arch: ${arch}\nplatform: metal\nversion: ${version}\n${extra}output:\n  kind: image\n  imageOptions: {diskSize: 1306525696, diskFormat: raw}\n  outFormat: .zst\n`)
    const MiB = 1024 * 1024
    // table 2.7: 1246 MiB base
    expect(image('v1.9.0', 'amd64').output.imageOptions).toMatchObject({ bootloader: 'grub', diskSize: 1306525696, diskSectorSize: 512, sdBootEnrollKeys: 'if-safe' })
    expect(image('v1.10.0', 'amd64').output.imageOptions).toMatchObject({ bootloader: 'dual-boot', diskSize: 2247 * MiB })
    expect(image('v1.11.0', 'amd64').output.imageOptions).toMatchObject({ bootloader: 'dual-boot', diskSize: 4453302272 })
    expect(image('v1.11.0', 'arm64').output.imageOptions).toMatchObject({ bootloader: 'sd-boot', diskSize: 2355101696 })
    expect(image('v1.12.0', 'amd64', 'secureboot: true\n').output.imageOptions).toMatchObject({ bootloader: 'sd-boot', diskSize: 2355101696 })
    expect(image('v1.12.0', 'amd64').output.outFormat).toBe('.zst')
  })

  test('ISO options: bootloader only from 1.12; enrolment mode defaults to if-safe', () => {
    const iso = (version: string, arch: string, opts = '') => parseProfile(`arch: ${arch}\nplatform: metal\nversion: ${version}\noutput:\n  kind: iso\n${opts}`).output.isoOptions
    expect(iso('v1.11.0', 'amd64')).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: null })
    expect(iso('v1.12.0', 'amd64')).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: 'dual-boot' })
    expect(iso('v1.12.0', 'arm64')).toEqual({ sdBootEnrollKeys: 'if-safe', bootloader: 'sd-boot' })
    expect(iso('v1.12.0', 'amd64', '  isoOptions: {bootloader: grub, sdBootEnrollKeys: force}\n')).toEqual({ sdBootEnrollKeys: 'force', bootloader: 'grub' })
  })

  test('Secure Boot inputs default to the reference /secureboot paths', () => {
    const p = parseProfile('arch: amd64\nplatform: metal\nsecureboot: true\nversion: v1.12.0\noutput: {kind: uki}\n', { secureBootPrefix: '/keys' })
    expect(p.input.secureboot).toEqual({
      signingKeyPath: '/keys/uki-signing-key.pem',
      signingCertPath: '/keys/uki-signing-cert.pem',
      pcrKeyPath: '/keys/pcr-signing-key.pem',
      includeWellKnownCerts: false,
    })
    expectError('arch: amd64\nplatform: metal\nsecureboot: true\nversion: v1.12.0\ninput: {secureboot: {platformKeyPath: /pk}}\noutput: {kind: uki}\n', InvalidInputError, /must be set together/)
  })

  test('extension inputs need a tarballPath (a tar or an extracted directory)', () => {
    expectError(BASE.replace('imageRef: ""\n      tarballPath: /ext/a', 'imageRef: ghcr.io/siderolabs/gvisor:1'), NotImplementedError, /pulling .* is not supported by the native imager/)
    expectError(BASE.replace('tarballPath: /ext/a', 'ociPath: /oci'), NotImplementedError, /ociPath inputs are not supported/)
  })

  test('error classes map to the reference exit codes', () => {
    expect(exitCodeFor(new InvalidInputError('x'))).toBe(2)
    expect(exitCodeFor(new NotImplementedError('x'))).toBe(3)
    expect(exitCodeFor(new Error('x'))).toBe(1)
  })
})

describe('output kinds', () => {
  test('the edge offers exactly the kinds the native imager builds', async () => {
    const { NATIVE_KINDS } = await import('../../builder/imager/index.ts')
    const { BUILT_KINDS } = await import('../../src/asset/kinds.ts')
    expect([...NATIVE_KINDS].map(String).sort()).toEqual([...BUILT_KINDS].sort())
  })
})
