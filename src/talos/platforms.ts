/**
 * Talos platforms: what the imager knows about each `talos.platform` (kernel args per arch and
 * version), what the factory's default disk profiles say (size, qemu-img options, default
 * compression), and the catalogue the UI offers (labels, arches, boot methods, SecureBoot, min
 * versions, SBC overlays).
 *
 * Why one module: the same platform name drives the URL grammar, the profile, the cmdline and the
 * UI; keeping the facts side by side stops them drifting apart.
 */
import { InvalidInputError } from '../errors.ts'
import type { Quirks } from './quirks.ts'

export type Arch = 'amd64' | 'arm64'
export const ARCHES: readonly Arch[] = ['amd64', 'arm64']

export type BootMethod = 'disk-image' | 'iso' | 'pxe'

/** Kernel arguments one platform contributes, as `key[=value]` strings in order. */
type KernelArgsFn = (arch: string, q: Quirks) => string[]

const CONSOLE_TTY1_TTYS0 = ['console=tty1', 'console=ttyS0', 'net.ifnames=0']
const CONSOLE_TTYS0_TTY0_TTY1 = ['console=ttyS0', 'console=tty0', 'console=tty1', 'net.ifnames=0']

/**
 * Platform → kernel args (imager-spec §3.3). Keys are the names the imager accepts; `packet` is
 * the legacy alias of `equinixMetal`.
 */
const KERNEL_ARGS: Readonly<Record<string, KernelArgsFn>> = {
  metal: (arch, q) => {
    if (arch === 'amd64') return q.supportsMetalPlatformConsoleTTYS0() ? ['console=ttyS0', 'console=tty0'] : ['console=tty0']
    if (arch === 'arm64') return ['console=ttyAMA0', 'console=tty0']
    return []
  },
  akamai: () => CONSOLE_TTYS0_TTY0_TTY1,
  'digital-ocean': () => CONSOLE_TTYS0_TTY0_TTY1,
  alibabacloud: () => CONSOLE_TTY1_TTYS0,
  cloudstack: () => CONSOLE_TTY1_TTYS0,
  exoscale: () => CONSOLE_TTY1_TTYS0,
  hcloud: () => CONSOLE_TTY1_TTYS0,
  nocloud: () => CONSOLE_TTY1_TTYS0,
  opennebula: () => CONSOLE_TTY1_TTYS0,
  openstack: () => CONSOLE_TTY1_TTYS0,
  aws: (_arch, q) => (q.nvmeCoreIoTimeoutAWSOnly() ? [...CONSOLE_TTY1_TTYS0, 'nvme_core.io_timeout=4294967295'] : CONSOLE_TTY1_TTYS0),
  azure: () => [
    'console=ttyS0,115200n8',
    'earlyprintk=ttyS0,115200',
    'rootdelay=300',
    'net.ifnames=0',
    'talos.dashboard.disabled=1',
    'sysctl.kernel.kexec_load_disabled=1',
  ],
  gcp: () => ['console=ttyS0', 'net.ifnames=0', 'talos.dashboard.disabled=1', 'sysctl.kernel.kexec_load_disabled=1'],
  oracle: () => [...CONSOLE_TTY1_TTYS0, 'talos.dashboard.disabled=1'],
  scaleway: () => [...CONSOLE_TTY1_TTYS0, 'talos.dashboard.disabled=1'],
  upcloud: () => ['net.ifnames=0'],
  vultr: () => ['net.ifnames=0'],
  vmware: (arch) => {
    if (arch === 'amd64') return ['talos.config=guestinfo', 'console=tty0', 'console=ttyS0', 'earlyprintk=ttyS0,115200', 'net.ifnames=0']
    if (arch === 'arm64') return ['talos.config=guestinfo', 'console=tty0', 'console=ttyAMA0', 'net.ifnames=0']
    return []
  },
  equinixMetal: (arch) => (arch === 'amd64' ? ['console=ttyS1,115200n8'] : arch === 'arm64' ? ['console=ttyAMA0,115200'] : []),
  packet: (arch, q) => KERNEL_ARGS.equinixMetal!(arch, q),
  container: () => [],
}

/** Names the Talos imager accepts as `platform`. */
export const KNOWN_PLATFORMS: readonly string[] = Object.keys(KERNEL_ARGS)

export function isKnownPlatform(name: string): boolean {
  return Object.hasOwn(KERNEL_ARGS, name)
}

/** The `talos.platform=` value for a platform name (`packet` → `equinixMetal`). */
export function talosPlatformName(name: string): string {
  return name === 'packet' ? 'equinixMetal' : name
}

/** Talos' own error text for an unknown platform (`platform.NewPlatform`). */
export function unknownPlatformError(name: string): InvalidInputError {
  return new InvalidInputError(`unknown platform: ${JSON.stringify(name)}`)
}

/** Kernel args of a platform for arch/version; throws InvalidInputError for unknown platforms. */
export function platformKernelArgs(platform: string, arch: string, q: Quirks): string[] {
  const fn = KERNEL_ARGS[platform]
  if (fn === undefined || !Object.hasOwn(KERNEL_ARGS, platform)) throw unknownPlatformError(platform)
  return [...fn(arch, q)]
}

// ---------------------------------------------------------------------------------------------
// Default disk profiles (talos `profile.Default`, factory-spec §6.3, imager-spec §2.6)
// ---------------------------------------------------------------------------------------------

export const MiB = 1024 * 1024
/** `MinRAWDiskSize` */
export const MIN_RAW_DISK_SIZE = 1246 * MiB
/** `DefaultRAWDiskSize` */
export const DEFAULT_RAW_DISK_SIZE = 8192 * MiB

export interface DefaultDiskProfile {
  readonly platform: string
  /** bytes, before the imager's boot-partition adjustment */
  readonly diskSize: number
  readonly diskFormat: 'raw' | 'qcow2' | 'vhd' | 'ova'
  readonly diskFormatOptions?: string
  /** compression of the built-in profile (the factory takes compression from the URL instead) */
  readonly outFormat: 'raw' | '.tar.gz' | '.xz' | '.gz' | '.zst'
  /** a `secureboot-<platform>` built-in profile exists */
  readonly secureBootVariant: boolean
}

const disk = (
  platform: string,
  mib: number,
  diskFormat: DefaultDiskProfile['diskFormat'],
  outFormat: DefaultDiskProfile['outFormat'],
  secureBootVariant: boolean,
  diskFormatOptions?: string,
): DefaultDiskProfile => ({
  platform,
  diskSize: mib * MiB,
  diskFormat,
  outFormat,
  secureBootVariant,
  ...(diskFormatOptions === undefined ? {} : { diskFormatOptions }),
})

/**
 * Platform → built-in disk-image profile. Only size and qemu-img options are used by the factory
 * (the URL decides format and compression); platforms absent here get 8192 MiB and no options.
 */
export const DEFAULT_DISK_PROFILES: Readonly<Record<string, DefaultDiskProfile>> = {
  metal: disk('metal', 1246, 'raw', '.zst', true),
  akamai: disk('akamai', 1246, 'raw', '.gz', false),
  alibabacloud: disk('alibabacloud', 1246, 'qcow2', 'raw', false, 'cluster_size=8k'),
  aws: disk('aws', 8192, 'raw', '.zst', false),
  azure: disk('azure', 8192, 'vhd', '.zst', true, 'subformat=fixed,force_size'),
  cloudstack: disk('cloudstack', 8192, 'raw', '.zst', true),
  'digital-ocean': disk('digital-ocean', 8192, 'raw', '.gz', false),
  exoscale: disk('exoscale', 10240, 'qcow2', '.zst', false, 'cluster_size=8k'),
  gcp: disk('gcp', 8192, 'raw', '.tar.gz', false),
  hcloud: disk('hcloud', 1246, 'raw', '.zst', false),
  nocloud: disk('nocloud', 1246, 'raw', '.zst', true),
  opennebula: disk('opennebula', 1246, 'raw', '.zst', true),
  openstack: disk('openstack', 1246, 'raw', '.zst', true),
  oracle: disk('oracle', 8192, 'qcow2', '.zst', false, 'cluster_size=8k'),
  scaleway: disk('scaleway', 1246, 'raw', '.zst', false),
  upcloud: disk('upcloud', 8192, 'raw', '.zst', false),
  vmware: disk('vmware', 8192, 'ova', 'raw', true),
  vultr: disk('vultr', 8192, 'raw', '.zst', false),
}

export function defaultDiskProfile(platform: string): DefaultDiskProfile | undefined {
  return Object.hasOwn(DEFAULT_DISK_PROFILES, platform) ? DEFAULT_DISK_PROFILES[platform] : undefined
}

// ---------------------------------------------------------------------------------------------
// UI catalogue (talos `pkg/machinery/platforms`)
// ---------------------------------------------------------------------------------------------

export interface PlatformInfo {
  readonly name: string
  readonly label: string
  readonly description: string
  readonly architectures: readonly Arch[]
  /** docs path below the Talos docs root */
  readonly documentation?: string
  /** suggested disk-image suffix (`raw.zst`, `vhd.xz`, `ova`, …) when disk images are offered */
  readonly diskImageSuffix?: string
  readonly bootMethods: readonly BootMethod[]
  readonly secureBootSupported: boolean
  /** first Talos version that supports the platform (semver text), when restricted */
  readonly minVersion?: string
}

export const METAL_PLATFORM: PlatformInfo = {
  name: 'metal',
  label: 'Bare Metal',
  description: 'Bare-metal servers',
  architectures: ['amd64', 'arm64'],
  documentation: '/platform-specific-installations/bare-metal-platforms/bootloader',
  diskImageSuffix: 'raw.zst',
  bootMethods: ['iso', 'disk-image', 'pxe'],
  secureBootSupported: true,
}

const both: readonly Arch[] = ['amd64', 'arm64']
const amd: readonly Arch[] = ['amd64']
const docs = (p: string) => `/platform-specific-installations/${p}`

/** Cloud and virtual platforms, in the UI's tier order (metal is listed separately). */
export const CLOUD_PLATFORMS: readonly PlatformInfo[] = [
  { name: 'aws', label: 'Amazon Web Services (AWS)', description: 'AWS EC2 instances booted from an AMI', architectures: both, documentation: docs('cloud-platforms/aws'), diskImageSuffix: 'raw.xz', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'gcp', label: 'Google Cloud (GCP)', description: 'Google Compute Engine VMs booted from a disk image', architectures: both, documentation: docs('cloud-platforms/gcp'), diskImageSuffix: 'raw.tar.gz', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'equinixMetal', label: 'Equinix Metal', description: 'Equinix Metal bare-metal servers', architectures: both, documentation: docs('bare-metal-platforms/equinix-metal'), bootMethods: ['pxe'], secureBootSupported: false },
  { name: 'azure', label: 'Microsoft Azure', description: 'Azure Linux virtual machines', architectures: both, documentation: docs('cloud-platforms/azure'), diskImageSuffix: 'vhd.xz', bootMethods: ['disk-image'], secureBootSupported: true },
  { name: 'digital-ocean', label: 'Digital Ocean', description: 'Digital Ocean droplets', architectures: amd, documentation: docs('cloud-platforms/digitalocean'), diskImageSuffix: 'raw.gz', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'nocloud', label: 'Nocloud', description: "Hypervisors with 'nocloud' metadata (Proxmox, Oxide, …)", architectures: both, documentation: docs('cloud-platforms/nocloud'), diskImageSuffix: 'raw.xz', bootMethods: ['disk-image', 'iso', 'pxe'], secureBootSupported: true },
  { name: 'openstack', label: 'OpenStack', description: 'OpenStack virtual machines', architectures: both, documentation: docs('cloud-platforms/openstack'), diskImageSuffix: 'raw.xz', bootMethods: ['disk-image', 'iso', 'pxe'], secureBootSupported: false },
  { name: 'vmware', label: 'VMWare', description: 'VMware ESXi virtual machines', architectures: both, documentation: docs('virtualized-platforms/vmware'), diskImageSuffix: 'ova', bootMethods: ['disk-image', 'iso'], secureBootSupported: false },
  { name: 'akamai', label: 'Akamai', description: 'Akamai Cloud (Linode) virtual machines', architectures: amd, documentation: docs('cloud-platforms/akamai'), diskImageSuffix: 'raw.gz', bootMethods: ['disk-image'], secureBootSupported: false, minVersion: '1.7.0' },
  { name: 'cloudstack', label: 'Apache CloudStack', description: 'Apache CloudStack virtual machines', architectures: both, documentation: docs('cloud-platforms/cloudstack'), diskImageSuffix: 'raw.gz', bootMethods: ['disk-image'], secureBootSupported: true, minVersion: '1.8.0-alpha.2' },
  { name: 'hcloud', label: 'Hetzner', description: 'Hetzner Cloud virtual machines', architectures: amd, documentation: docs('cloud-platforms/hetzner'), diskImageSuffix: 'raw.xz', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'oracle', label: 'Oracle Cloud', description: 'Oracle Cloud virtual machines', architectures: both, documentation: docs('cloud-platforms/oracle'), diskImageSuffix: 'qcow2', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'upcloud', label: 'UpCloud', description: 'UpCloud virtual machines', architectures: amd, documentation: docs('cloud-platforms/upcloud'), diskImageSuffix: 'raw.xz', bootMethods: ['disk-image'], secureBootSupported: false },
  { name: 'vultr', label: 'Vultr', description: 'Vultr Cloud Compute virtual machines', architectures: amd, documentation: docs('cloud-platforms/vultr'), bootMethods: ['iso', 'pxe'], secureBootSupported: false },
  { name: 'exoscale', label: 'Exoscale', description: 'Exoscale virtual machines', architectures: both, documentation: docs('cloud-platforms/exoscale'), diskImageSuffix: 'qcow2', bootMethods: ['disk-image'], secureBootSupported: false, minVersion: '1.3.0' },
  { name: 'opennebula', label: 'OpenNebula', description: 'OpenNebula virtual machines', architectures: both, documentation: docs('virtualized-platforms/opennebula'), diskImageSuffix: 'raw.zst', bootMethods: ['disk-image', 'iso'], secureBootSupported: false, minVersion: '1.7.0' },
  { name: 'scaleway', label: 'Scaleway', description: 'Scaleway virtual machines', architectures: both, documentation: docs('cloud-platforms/scaleway'), diskImageSuffix: 'raw.zst', bootMethods: ['disk-image', 'iso'], secureBootSupported: false },
  { name: 'alibabacloud', label: 'AlibabaCloud', description: 'Alibaba Cloud virtual machines', architectures: both, diskImageSuffix: 'qcow2', bootMethods: ['disk-image'], secureBootSupported: false, minVersion: '1.14.0-beta.2' },
]

/** First Talos version that knows a platform (semver text), for the platforms that have one. */
export function platformMinVersion(name: string): string | undefined {
  return CLOUD_PLATFORMS.find((p) => p.name === name)?.minVersion
}

/** Single-board computers: all arm64 `metal` images with an overlay (Talos ≥ 1.7). */
export interface SBCInfo {
  readonly name: string
  readonly overlayName: string
  /** overlay image repository path */
  readonly overlayImage: string
  readonly label: string
  readonly documentation?: string
  readonly minVersion?: string
}

const sbcDocs = (p: string) => docs(`single-board-computers/${p}`)
const RPI = 'siderolabs/sbc-raspberrypi'
const ALLWINNER = 'siderolabs/sbc-allwinner'
const ROCKCHIP = 'siderolabs/sbc-rockchip'

export const SBCS: readonly SBCInfo[] = [
  { name: 'rpi_5', overlayName: 'rpi_5', overlayImage: RPI, label: 'Raspberry Pi 5', minVersion: '1.12.3' },
  { name: 'rpi_generic', overlayName: 'rpi_generic', overlayImage: RPI, label: 'Raspberry Pi Series', documentation: sbcDocs('rpi_generic') },
  { name: 'revpi_generic', overlayName: 'revpi_generic', overlayImage: RPI, label: 'Revolution Pi Series', minVersion: '1.10.0-beta.0' },
  { name: 'bananapi_m64', overlayName: 'bananapi_m64', overlayImage: ALLWINNER, label: 'Banana Pi M64', documentation: sbcDocs('bananapi_m64') },
  { name: 'nanopi_r4s', overlayName: 'nanopi-r4s', overlayImage: ROCKCHIP, label: 'Friendlyelec Nano PI R4S', documentation: sbcDocs('nanopi_r4s'), minVersion: '1.3.0' },
  { name: 'nanopi_r5s', overlayName: 'nanopi-r5s', overlayImage: ROCKCHIP, label: 'Friendlyelec Nano PI R5S', minVersion: '1.8.0-alpha.2' },
  { name: 'jetson_nano', overlayName: 'jetson_nano', overlayImage: 'siderolabs/sbc-jetson', label: 'Jetson Nano', documentation: sbcDocs('jetson_nano') },
  { name: 'libretech_all_h3_cc_h5', overlayName: 'libretech_all_h3_cc_h5', overlayImage: ALLWINNER, label: 'Libre Computer Board ALL-H3-CC', documentation: sbcDocs('libretech_all_h3_cc_h5') },
  { name: 'orangepi_r1_plus_lts', overlayName: 'orangepi-r1-plus-lts', overlayImage: ROCKCHIP, label: 'Orange Pi R1 Plus LTS', documentation: sbcDocs('orangepi_r1_plus_lts'), minVersion: '1.7.0' },
  { name: 'pine64', overlayName: 'pine64', overlayImage: ALLWINNER, label: 'Pine64', documentation: sbcDocs('pine64') },
  { name: 'rock64', overlayName: 'rock64', overlayImage: ROCKCHIP, label: 'Pine64 Rock64', documentation: sbcDocs('rock64') },
  { name: 'rock4cplus', overlayName: 'rock4cplus', overlayImage: ROCKCHIP, label: 'Radxa ROCK 4C Plus', documentation: sbcDocs('rock4cplus'), minVersion: '1.7.0' },
  { name: 'rock4se', overlayName: 'rock4se', overlayImage: ROCKCHIP, label: 'Radxa ROCK 4SE', minVersion: '1.8.0-alpha.1' },
  { name: 'rock5a', overlayName: 'rock5a', overlayImage: ROCKCHIP, label: 'Radxa ROCK 5A', documentation: sbcDocs('rock5b'), minVersion: '1.10.0-beta.0' },
  { name: 'rock5b', overlayName: 'rock5b', overlayImage: ROCKCHIP, label: 'Radxa ROCK 5B', documentation: sbcDocs('rock5b'), minVersion: '1.9.2' },
  { name: 'rockpi_4', overlayName: 'rockpi4', overlayImage: ROCKCHIP, label: 'Radxa ROCK PI 4', documentation: sbcDocs('rockpi_4') },
  { name: 'rockpi_4c', overlayName: 'rockpi4c', overlayImage: ROCKCHIP, label: 'Radxa ROCK PI 4C', documentation: sbcDocs('rockpi_4c') },
  { name: 'helios64', overlayName: 'helios64', overlayImage: ROCKCHIP, label: 'Kobol Helios64', minVersion: '1.8.0-alpha.2' },
  { name: 'turingrk1', overlayName: 'turingrk1', overlayImage: ROCKCHIP, label: 'Turing RK1', documentation: sbcDocs('turing_rk1'), minVersion: '1.9.0-beta.0' },
  { name: 'orangepi-5', overlayName: 'orangepi-5', overlayImage: ROCKCHIP, label: 'Orange Pi 5', documentation: sbcDocs('orangepi_5'), minVersion: '1.9.2' },
  { name: 'orangepi-5-plus', overlayName: 'orangepi-5-plus', overlayImage: ROCKCHIP, label: 'Orange Pi 5 Plus', minVersion: '1.10.0-beta.0' },
  { name: 'rockpro64', overlayName: 'rockpro64', overlayImage: ROCKCHIP, label: 'Pine64 RockPro64', minVersion: '1.10.0-beta.0' },
  { name: 'odroid-m1', overlayName: 'odroid-m1', overlayImage: ROCKCHIP, label: 'Odroid M1', minVersion: '1.12.0-beta.0' },
  { name: 'radxa-zero-3e', overlayName: 'radxa-zero-3e', overlayImage: ROCKCHIP, label: 'Radxa Zero 3E', minVersion: '1.12.0-beta.0' },
  { name: 'rock3b', overlayName: 'rock3b', overlayImage: ROCKCHIP, label: 'Rock 3B', minVersion: '1.12.0-beta.0' },
  { name: 'orangepi-5-max', overlayName: 'orangepi-5-max', overlayImage: ROCKCHIP, label: 'Orange Pi 5 Max', minVersion: '1.12.0-beta.0' },
  { name: 'rock5t', overlayName: 'rock5t', overlayImage: ROCKCHIP, label: 'Rock 5T', minVersion: '1.12.0-beta.0' },
  { name: 'friendlyelec-cm3588-nas', overlayName: 'friendlyelec-cm3588-nas', overlayImage: ROCKCHIP, label: 'FriendlyELEC CM3588 NAS', minVersion: '1.13.0-alpha.1' },
  { name: 'rock5b-plus', overlayName: 'rock5b-plus', overlayImage: ROCKCHIP, label: 'Rock 5B Plus', minVersion: '1.13.0-alpha.1' },
]

/** Every SBC image is this file (overlay decides the board). */
export const SBC_DISK_IMAGE_PATH = 'metal-arm64.raw.xz'

/** Download file names the UI links for a platform (talos `platforms.Platform` path helpers). */
export const platformPaths = {
  diskImage: (p: string, arch: Arch, suffix: string, secureboot = false) => `${p}-${arch}${secureboot ? '-secureboot' : ''}.${suffix}`,
  iso: (p: string, arch: Arch, secureboot = false) => `${p}-${arch}${secureboot ? '-secureboot' : ''}.iso`,
  uki: (p: string, arch: Arch, secureboot = false) => `${p}-${arch}${secureboot ? '-secureboot' : ''}-uki.efi`,
  pxeScript: (p: string, arch: Arch, secureboot = false) => `${p}-${arch}${secureboot ? '-secureboot' : ''}`,
  kernel: (arch: Arch) => `kernel-${arch}`,
  initramfs: (arch: Arch) => `initramfs-${arch}.xz`,
  cmdline: (p: string, arch: Arch, secureboot = false) => `cmdline-${p}-${arch}${secureboot ? '-secureboot' : ''}`,
  installer: (arch: Arch, secureboot = false) => `installer-${arch}${secureboot ? '-secureboot' : ''}.tar`,
  platformInstaller: (p: string, arch: Arch, secureboot = false) => `${p}-installer-${arch}${secureboot ? '-secureboot' : ''}.tar`,
} as const
