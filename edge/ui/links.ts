/**
 * Every link of the final page (factory-spec §3.12 link formats), built from the external URLs:
 * boot media by the platform's boot methods, the metal extras (kernel, cmdline, initramfs, UKI),
 * the PXE script, talosctl, the installer image and the upgrade command. Kinds a version cannot
 * have are not offered (UKI and SecureBoot before 1.5, talosctl before 1.11); kinds this factory
 * does not build yet are marked so the page can say so (they answer 501).
 */
import { BUILT_KINDS } from '../../src/asset/kinds.ts'
import { parseAssetPath, type OutputKind } from '../../src/asset/path.ts'
import { platformPaths, SBC_DISK_IMAGE_PATH, type Arch, type BootMethod, type PlatformInfo } from '../../src/talos/platforms.ts'
import { Quirks } from '../../src/talos/quirks.ts'

export interface AssetLink {
  label: string
  file: string
  url: string
  kind: OutputKind
  /** this factory builds the kind today (others answer 501) */
  built: boolean
  /** same-origin path of the build progress events */
  progressPath: string
  checksumUrl: string
}

export interface BootSection {
  method: BootMethod
  title: string
  description: string
  links: AssetLink[]
  /** the iPXE script URL (PXE section) */
  pxeUrl?: string
}

export interface FinalLinks {
  boot: BootSection[]
  /** metal: the pieces for custom boot setups */
  extra: AssetLink[]
  installerImage: string
  upgradeCommand: string
  talosctl: { name: string; url: string }[]
  schematicUrl: string
}

export interface FinalLinkInput {
  schematicId: string
  /** semver text without `v` */
  version: string
  target: 'metal' | 'cloud' | 'sbc'
  platform: PlatformInfo
  arch: Arch
  secureboot: boolean
  externalUrl: string
  externalPxeUrl: string
  talosctlFiles: readonly string[]
}

export function finalLinks(input: FinalLinkInput): FinalLinks {
  const { schematicId: id, version, arch, secureboot: sb } = input
  const tag = `v${version}`
  const q = new Quirks(version)
  const name = input.target === 'cloud' ? input.platform.name : 'metal'
  const asset = (label: string, file: string): AssetLink => {
    let kind: OutputKind = 'image'
    try {
      kind = parseAssetPath(file).kind
    } catch {
      // every file name here is one of the grammar's; keep the default if that ever changes
    }
    const url = new URL(`image/${id}/${tag}/${file}`, input.externalUrl).href
    return { label, file, url, kind, built: BUILT_KINDS.has(kind), progressPath: `/progress/${id}/${tag}/${file}`, checksumUrl: `${url}.sha256` }
  }

  const boot: BootSection[] = []
  if (input.target === 'sbc') {
    boot.push({ method: 'disk-image', title: 'Disk image', description: 'Write it to the board\'s SD card or eMMC.', links: [asset('Disk image (raw, xz)', SBC_DISK_IMAGE_PATH)] })
  } else {
    for (const method of input.platform.bootMethods) {
      if (method === 'iso') {
        boot.push({ method, title: 'ISO', description: 'Boot from a USB stick or a virtual CD-ROM.', links: [asset(sb ? 'SecureBoot ISO' : 'ISO', platformPaths.iso(name, arch, sb))] })
      } else if (method === 'disk-image') {
        const suffix = input.platform.diskImageSuffix ?? 'raw.xz'
        const links = [asset(`Disk image (${suffix})`, platformPaths.diskImage(name, arch, suffix, sb))]
        if (input.target === 'metal') links.push(asset('Disk image (qcow2)', platformPaths.diskImage(name, arch, 'qcow2', sb)))
        boot.push({ method, title: 'Disk image', description: input.target === 'metal' ? 'Write it to the machine\'s disk, or boot a virtual machine from it.' : 'Upload it to the platform as an image.', links })
      } else {
        const pxeUrl = new URL(`pxe/${id}/${tag}/${platformPaths.pxeScript(name, arch, sb)}`, input.externalPxeUrl).href
        boot.push({ method, title: 'PXE boot (iPXE script)', description: 'Chain-load this script from iPXE.', links: [], pxeUrl })
      }
    }
  }

  const extra: AssetLink[] = []
  if (input.target === 'metal') {
    if (sb) extra.push(asset('SecureBoot UKI', platformPaths.uki(name, arch, true)))
    else {
      extra.push(asset('Kernel', platformPaths.kernel(arch)))
      extra.push(asset('Kernel command line', platformPaths.cmdline(name, arch)))
      extra.push(asset('Initramfs', platformPaths.initramfs(arch)))
      if (q.supportsUKI()) extra.push(asset('UKI', platformPaths.uki(name, arch)))
    }
  }

  const host = new URL(input.externalUrl).host
  const installerRepo = q.supportsUnifiedInstaller() ? `${name}-installer${sb ? '-secureboot' : ''}` : `installer${sb ? '-secureboot' : ''}`
  const installerImage = `${host}/${installerRepo}/${id}:${tag}`
  return {
    boot,
    extra,
    installerImage,
    upgradeCommand: `talosctl upgrade --image ${installerImage}`,
    talosctl: input.talosctlFiles.map((f) => ({ name: f, url: new URL(`talosctl/${tag}/${f}`, input.externalUrl).href })),
    schematicUrl: new URL(`schematics/${id}`, input.externalUrl).href,
  }
}
