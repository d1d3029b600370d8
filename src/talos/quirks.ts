/**
 * Version quirks: every behaviour that depends on the *target* Talos version, in one table.
 *
 * Why: the imager and the factory are one code path for all Talos versions; old-version
 * differences are switched by thresholds (talos `pkg/machinery/imager/quirks`, plus a few factory
 * gates). Keeping the thresholds as data makes them reviewable in one place and keeps the
 * "compare major.minor.patch only" rule from being re-implemented (wrongly) at call sites.
 *
 * Semantics (as the reference): the target version is parsed tolerantly and its pre-release is
 * dropped (`v1.11.0-alpha.3` ⇒ 1.11.0); it is then compared with full semver precedence against the
 * threshold (so a threshold may itself be a pre-release, e.g. talosctl ≥ 1.11.0-alpha.3). An
 * unparsable or empty version is "nil" and yields the listed nil-default. Entries marked
 * `mode: 'full'` are factory/UI gates that compare the version *with* its pre-release.
 */
import type { BootloaderKind } from '../schematic/types.ts'
import { compareSemver, coreOf, semver, tryParseSemver, type SemVer } from './semver.ts'

type Op = '>=' | '<' | '<='

interface Threshold {
  readonly op: Op
  readonly version: string
  /** Result when the target version cannot be parsed. */
  readonly nil: boolean
  /** 'core' (default): target pre-release dropped first; 'full': plain semver comparison. */
  readonly mode?: 'core' | 'full'
}

/** All boolean quirks and gates named by imager-spec §2.4 and factory-spec §6.5. */
export const QUIRK_THRESHOLDS = {
  supportsResetGrubOption: { op: '>=', version: '1.4.0', nil: true },
  supportsUKI: { op: '>=', version: '1.5.0', nil: true },
  supportsMultidoc: { op: '>=', version: '1.5.0', nil: true },
  /** also gates systemd-boot/stub inputs and every SecureBoot output */
  supportsSecureBoot: { op: '>=', version: '1.5.0', nil: true },
  supportsCompressedEncodedMETA: { op: '>=', version: '1.6.3', nil: true },
  supportsOverlay: { op: '>=', version: '1.7.0', nil: true },
  /** the virtual schematic extension carries `extraInfo` (factory keys it on SupportsOverlay) */
  supportsSchematicExtraInfo: { op: '>=', version: '1.7.0', nil: true },
  useZSTDCompression: { op: '>=', version: '1.8.0', nil: true },
  supportsISOLabel: { op: '>=', version: '1.8.0', nil: true },
  supportsMetalPlatformConsoleTTYS0: { op: '<', version: '1.8.0', nil: false },
  supportsHaltIfInstalled: { op: '>=', version: '1.8.0', nil: true },
  skipDataPartitions: { op: '>=', version: '1.8.0', nil: true },
  supportsSELinux: { op: '>=', version: '1.10.0', nil: true },
  useSDBootForUEFI: { op: '>=', version: '1.10.0', nil: false },
  usrMerge: { op: '>=', version: '1.10.0', nil: true },
  supportsUKIProfiles: { op: '>=', version: '1.10.0', nil: true },
  /** installer-base image, platform installers, kernel args embedded in installer/UKI */
  supportsUnifiedInstaller: { op: '>=', version: '1.10.0', nil: true },
  supportsIMA: { op: '<=', version: '1.10.99', nil: false },
  boot2GiB: { op: '>=', version: '1.11.0', nil: true },
  supportsFactoryTalosctlDownload: { op: '>=', version: '1.11.0-alpha.3', nil: true },
  supportsEmbeddedConfig: { op: '>=', version: '1.12.0', nil: true },
  supportsDisablingModuleSignatureVerification: { op: '>=', version: '1.12.0', nil: true },
  isoSupportsSettingBootloader: { op: '>=', version: '1.12.0', nil: true },
  procMemOverrideNever: { op: '>=', version: '1.13.0', nil: true },
  /** Enterprise installer evidence/VEX/scans (for awareness; community never publishes them) */
  supportsInstallerEvidence: { op: '>=', version: '1.13.0', nil: true },
  dropInitOnAllocInArgs: { op: '>=', version: '1.14.0', nil: true },
  nvmeCoreIoTimeoutAWSOnly: { op: '>=', version: '1.14.0', nil: true },
  xfsAllocationGroupFloor: { op: '>=', version: '1.14.0', nil: true },
  /** `lockdown=confidentiality` for SecureBoot (talos main; absent from 1.14 on) */
  forcesLockdownConfidentiality: { op: '<', version: '1.14.0', nil: false },
  /** UI-only gates, compared with pre-release */
  uiSupportsBootloaderSelection: { op: '>=', version: '1.12.0-alpha.2', nil: false, mode: 'full' },
  uiSecureBootAvailable: { op: '>=', version: '1.5.0', nil: false, mode: 'full' },
  uiSBOMAvailable: { op: '>=', version: '1.11.0', nil: false, mode: 'full' },
} as const satisfies Record<string, Threshold>

export type QuirkName = keyof typeof QUIRK_THRESHOLDS

const MiB = 1024 * 1024
const GiB = 1024 * MiB

const parsedThresholds = new Map<string, SemVer>()
function thresholdVersion(text: string): SemVer {
  let v = parsedThresholds.get(text)
  if (v === undefined) {
    v = semver(text)
    parsedThresholds.set(text, v)
  }
  return v
}

/** Partition sizes in bytes (imager-spec §2.4, factory-spec §6.9). */
export interface PartitionSizes {
  /** GRUB BOOT partition (XFS): 1000 MiB before 1.11, 2000 MiB after */
  readonly bootSize: number
  readonly biosSize: number
  /** ESP when GRUB owns it */
  readonly grubEFISize: number
  /** ESP when sd-boot owns it: 100 MiB + 1 MiB + bootSize */
  readonly ukiEFISize: number
  readonly metaSize: number
  readonly stateSize: number
  readonly ephemeralMinSize: number
}

/**
 * Quirks for one target version. Construct once per request; every method is a pure lookup.
 */
export class Quirks {
  /** Target version with pre-release/build dropped; null when unparsable (“nil”). */
  readonly core: SemVer | null
  /** Target version as parsed (tolerant), for the `full`-mode gates. */
  readonly full: SemVer | null

  constructor(version: string | SemVer | null | undefined) {
    const v = typeof version === 'string' ? tryParseSemver(version, { tolerant: true }) : (version ?? null)
    this.full = v
    this.core = v === null ? null : coreOf(v)
  }

  /** Evaluate one named quirk from the table. */
  is(name: QuirkName): boolean {
    const t: Threshold = QUIRK_THRESHOLDS[name]
    const v = t.mode === 'full' ? this.full : this.core
    if (v === null) return t.nil
    const c = compareSemver(v, thresholdVersion(t.version))
    switch (t.op) {
      case '>=':
        return c >= 0
      case '<':
        return c < 0
      case '<=':
        return c <= 0
    }
  }

  supportsResetGrubOption(): boolean { return this.is('supportsResetGrubOption') }
  supportsUKI(): boolean { return this.is('supportsUKI') }
  supportsSecureBoot(): boolean { return this.is('supportsSecureBoot') }
  supportsCompressedEncodedMETA(): boolean { return this.is('supportsCompressedEncodedMETA') }
  supportsOverlay(): boolean { return this.is('supportsOverlay') }
  supportsSchematicExtraInfo(): boolean { return this.is('supportsSchematicExtraInfo') }
  useZSTDCompression(): boolean { return this.is('useZSTDCompression') }
  supportsISOLabel(): boolean { return this.is('supportsISOLabel') }
  supportsMetalPlatformConsoleTTYS0(): boolean { return this.is('supportsMetalPlatformConsoleTTYS0') }
  supportsHaltIfInstalled(): boolean { return this.is('supportsHaltIfInstalled') }
  skipDataPartitions(): boolean { return this.is('skipDataPartitions') }
  supportsSELinux(): boolean { return this.is('supportsSELinux') }
  useSDBootForUEFI(): boolean { return this.is('useSDBootForUEFI') }
  supportsUKIProfiles(): boolean { return this.is('supportsUKIProfiles') }
  supportsUnifiedInstaller(): boolean { return this.is('supportsUnifiedInstaller') }
  supportsIMA(): boolean { return this.is('supportsIMA') }
  supportsFactoryTalosctlDownload(): boolean { return this.is('supportsFactoryTalosctlDownload') }
  supportsEmbeddedConfig(): boolean { return this.is('supportsEmbeddedConfig') }
  supportsDisablingModuleSignatureVerification(): boolean { return this.is('supportsDisablingModuleSignatureVerification') }
  isoSupportsSettingBootloader(): boolean { return this.is('isoSupportsSettingBootloader') }
  procMemOverrideNever(): boolean { return this.is('procMemOverrideNever') }
  dropInitOnAllocInArgs(): boolean { return this.is('dropInitOnAllocInArgs') }
  nvmeCoreIoTimeoutAWSOnly(): boolean { return this.is('nvmeCoreIoTimeoutAWSOnly') }
  forcesLockdownConfidentiality(): boolean { return this.is('forcesLockdownConfidentiality') }

  /** `/usr/lib/modules` from 1.10 (usr-merge), `/lib/modules` before. */
  kernelModulesPath(): string {
    return this.is('usrMerge') ? '/usr/lib/modules' : '/lib/modules'
  }

  /** `/usr/lib/firmware` from 1.10, `/lib/firmware` before. */
  firmwarePath(): string {
    return this.is('usrMerge') ? '/usr/lib/firmware' : '/lib/firmware'
  }

  /** Base installer repository name (without registry): installer-base from 1.10. */
  installerImageName(): 'siderolabs/installer-base' | 'siderolabs/installer' {
    return this.supportsUnifiedInstaller() ? 'siderolabs/installer-base' : 'siderolabs/installer'
  }

  /** Path of the installer binary inside the installer image. */
  installerBinaryPath(): string {
    return this.supportsUnifiedInstaller() ? 'usr/bin/installer' : 'bin/installer'
  }

  /** Compression used by Talos for extensions squashfs/cpio and default outputs. */
  compression(): 'zstd' | 'xz' {
    return this.useZSTDCompression() ? 'zstd' : 'xz'
  }

  partitionSizes(): PartitionSizes {
    const bootSize = (this.is('boot2GiB') ? 2000 : 1000) * MiB
    return {
      bootSize,
      biosSize: 1 * MiB,
      grubEFISize: 100 * MiB,
      ukiEFISize: 100 * MiB + 1 * MiB + bootSize,
      metaSize: 1 * MiB,
      stateSize: 100 * MiB,
      ephemeralMinSize: 2 * GiB,
    }
  }

  /** mkfs.xfs config file for the BOOT partition. */
  xfsMkfsConfig(): string {
    const dir = '/usr/share/xfsprogs/mkfs/'
    const v = this.core
    if (v === null || compareSemver(v, thresholdVersion('1.13.0')) >= 0) return dir + 'lts_6.18.conf'
    if (compareSemver(v, thresholdVersion('1.10.0')) >= 0) return dir + 'lts_6.12.conf'
    if (compareSemver(v, thresholdVersion('1.8.0')) >= 0) return dir + 'lts_6.6.conf'
    return dir + 'lts_6.1.conf'
  }

  /** XFS minimum allocation group size (bytes); 0 before 1.14. */
  xfsMinAllocationGroupSize(): number {
    return this.is('xfsAllocationGroupFloor') ? 64 * GiB : 0
  }

  /**
   * Bootloader for disk images (and ISOs ≥ 1.12), imager `selectBootloader`: an explicit choice
   * wins unless SecureBoot; SecureBoot → sd-boot; arm64 ≥ 1.10 → sd-boot; < 1.10 → grub; else
   * dual-boot.
   */
  selectBootloader(current: BootloaderKind | undefined, arch: string, secureboot: boolean): BootloaderKind {
    if (current !== undefined && current !== 'none' && !secureboot) return current
    const sdboot = this.useSDBootForUEFI()
    if (secureboot) return 'sd-boot'
    if (arch === 'arm64' && sdboot) return 'sd-boot'
    if (!sdboot) return 'grub'
    return 'dual-boot'
  }
}
