import { describe, expect, test } from 'bun:test'
import { QUIRK_THRESHOLDS, Quirks, type QuirkName } from '../../src/talos/quirks.ts'

const MiB = 1024 * 1024

describe('quirks thresholds', () => {
  // [quirk, highest version where it differs from its ≥ value, first version with the new value]
  const cases: Array<[QuirkName, string, boolean, string, boolean]> = [
    ['supportsUKI', 'v1.4.9', false, 'v1.5.0', true],
    ['supportsCompressedEncodedMETA', 'v1.6.2', false, 'v1.6.3', true],
    ['supportsOverlay', 'v1.6.99', false, 'v1.7.0-alpha.0', true],
    ['supportsSchematicExtraInfo', 'v1.6.5', false, 'v1.7.0', true],
    ['useZSTDCompression', 'v1.7.6', false, 'v1.8.0', true],
    ['supportsMetalPlatformConsoleTTYS0', 'v1.7.6', true, 'v1.8.0', false],
    ['supportsHaltIfInstalled', 'v1.7.6', false, 'v1.8.0', true],
    ['supportsSELinux', 'v1.9.5', false, 'v1.10.0', true],
    ['useSDBootForUEFI', 'v1.9.5', false, 'v1.10.0-beta.0', true],
    ['supportsUnifiedInstaller', 'v1.9.5', false, 'v1.10.0', true],
    ['supportsIMA', 'v1.10.7', true, 'v1.11.0', false],
    ['supportsFactoryTalosctlDownload', 'v1.10.7', false, 'v1.11.0-alpha.1', true],
    ['supportsEmbeddedConfig', 'v1.11.5', false, 'v1.12.0', true],
    ['supportsDisablingModuleSignatureVerification', 'v1.11.5', false, 'v1.12.0', true],
    ['isoSupportsSettingBootloader', 'v1.11.5', false, 'v1.12.0', true],
    ['procMemOverrideNever', 'v1.12.9', false, 'v1.13.0', true],
    ['dropInitOnAllocInArgs', 'v1.13.9', false, 'v1.14.0-rc.1', true],
    ['nvmeCoreIoTimeoutAWSOnly', 'v1.13.9', false, 'v1.14.0', true],
    ['forcesLockdownConfidentiality', 'v1.13.9', true, 'v1.14.0', false],
  ]
  test.each(cases)('%s: %s=%p, %s=%p', (name, below, belowValue, at, atValue) => {
    expect(new Quirks(below).is(name)).toBe(belowValue)
    expect(new Quirks(at).is(name)).toBe(atValue)
  })

  test('unparsable version gives the nil defaults', () => {
    const q = new Quirks('latest')
    expect(q.core).toBeNull()
    for (const [name, t] of Object.entries(QUIRK_THRESHOLDS)) expect(q.is(name as QuirkName)).toBe(t.nil)
  })

  test('UI gates compare with pre-release (full mode)', () => {
    expect(new Quirks('v1.12.0-alpha.1').is('uiSupportsBootloaderSelection')).toBe(false)
    expect(new Quirks('v1.12.0-alpha.2').is('uiSupportsBootloaderSelection')).toBe(true)
  })
})

describe('derived quirks', () => {
  test('partition sizes', () => {
    expect(new Quirks('v1.10.3').partitionSizes()).toMatchObject({ bootSize: 1000 * MiB, ukiEFISize: 1101 * MiB, grubEFISize: 100 * MiB, biosSize: MiB, metaSize: MiB })
    expect(new Quirks('v1.11.0').partitionSizes()).toMatchObject({ bootSize: 2000 * MiB, ukiEFISize: 2101 * MiB })
    expect(new Quirks('').partitionSizes().bootSize).toBe(2000 * MiB)
  })

  test.each([
    ['v1.7.0', '/usr/share/xfsprogs/mkfs/lts_6.1.conf'],
    ['v1.8.0', '/usr/share/xfsprogs/mkfs/lts_6.6.conf'],
    ['v1.10.0', '/usr/share/xfsprogs/mkfs/lts_6.12.conf'],
    ['v1.13.0', '/usr/share/xfsprogs/mkfs/lts_6.18.conf'],
    ['', '/usr/share/xfsprogs/mkfs/lts_6.18.conf'],
  ])('xfs config %p', (v, conf) => {
    expect(new Quirks(v).xfsMkfsConfig()).toBe(conf)
  })

  test('paths and installer image', () => {
    expect(new Quirks('v1.9.0').firmwarePath()).toBe('/lib/firmware')
    expect(new Quirks('v1.10.0').kernelModulesPath()).toBe('/usr/lib/modules')
    expect(new Quirks('v1.9.0').installerImageName()).toBe('siderolabs/installer')
    expect(new Quirks('v1.10.0').installerImageName()).toBe('siderolabs/installer-base')
    expect(new Quirks('v1.13.0').xfsMinAllocationGroupSize()).toBe(0)
    expect(new Quirks('v1.14.0').xfsMinAllocationGroupSize()).toBe(64 * 1024 * MiB)
  })

  test.each([
    ['v1.9.0', 'amd64', false, undefined, 'grub'],
    ['v1.9.0', 'arm64', false, undefined, 'grub'],
    ['v1.10.0', 'amd64', false, undefined, 'dual-boot'],
    ['v1.10.0', 'arm64', false, undefined, 'sd-boot'],
    ['v1.9.0', 'amd64', true, undefined, 'sd-boot'],
    ['v1.12.0', 'amd64', false, 'grub', 'grub'],
    ['v1.12.0', 'amd64', true, 'grub', 'sd-boot'],
    ['v1.12.0', 'amd64', false, 'none', 'dual-boot'],
  ] as const)('bootloader %s %s sb=%p current=%p → %s', (v, arch, sb, current, expected) => {
    expect(new Quirks(v).selectBootloader(current, arch, sb)).toBe(expected)
  })
})
