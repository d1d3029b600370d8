/**
 * GRUB for disk images (imager-spec §7.4; grub.ts is GRUB for ISOs): the BOOT partition's `grub/grub.cfg`, a UEFI GRUB image
 * for the ESP and, on amd64, the BIOS boot path — `core.img` in the BIOS boot partition and
 * `boot.img`'s code in the MBR, patched the way grub-bios-setup would (it cannot target a file).
 *
 * GRUB's modules are searched in the build's GRUB roots (the imager image's `/usr/lib/grub`, as
 * for ISOs), then FACTORY_GRUB_DIR (default /usr/lib/grub: Debian's grub-pc-bin and
 * grub-efi-amd64-bin), then /usr/local/lib/grub (arm64 modules unpacked by
 * install-system-deps.sh). Every module the config needs is built into the images, because the
 * BOOT partition carries no module directory (the prefix `(hd0,gpt3)/grub` holds grub.cfg only).
 */
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ImagerEnvironmentError, ioError } from './errors.ts'
import { runTool } from './exec.ts'
import { grubQuote, HOST_GRUB_DIR } from './grub.ts'

export const GRUB_PREFIX = '(hd0,gpt3)/grub'
export const GRUB_MODULES = [
  'part_gpt',
  'ext2',
  'fat',
  'xfs',
  'normal',
  'configfile',
  'linux',
  'boot',
  'search',
  'search_fs_uuid',
  'search_fs_file',
  'ls',
  'cat',
  'echo',
  'test',
  'help',
  'reboot',
  'halt',
  'all_video',
] as const
export const GRUB_BIOS_MODULES = ['biosdisk', 'part_msdos'] as const

/** Roots searched for GRUB platform directories, in order (see the file comment). */
export function grubLibDirs(first: readonly string[] = []): string[] {
  return [...first, process.env.FACTORY_GRUB_DIR || HOST_GRUB_DIR, '/usr/local/lib/grub']
}

export interface GrubConfigOptions {
  /** Talos version tag shown in the entry name */
  readonly version: string
  readonly cmdline: string
  /** add the "Reset Talos installation" entry */
  readonly reset: boolean
}

/** The disk image's `grub/grub.cfg`: boot entry A (and the reset entry). */
export function grubConfig(o: GrubConfigOptions): string {
  const name = `A - Talos ${o.version}`
  const cmdline = grubQuote(o.cmdline)
  let text =
    `set default="${name}"\n\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n` +
    `menuentry "${name}" {\n  set gfxmode=auto\n  set gfxpayload=text\n  linux /A/vmlinuz ${cmdline}\n  initrd /A/initramfs.xz\n}\n`
  if (o.reset) {
    text +=
      'menuentry "Reset Talos installation and return to maintenance mode" {\n  set gfxmode=auto\n  set gfxpayload=text\n' +
      `  linux /A/vmlinuz ${cmdline} talos.experimental.wipe=system:EPHEMERAL,STATE\n  initrd /A/initramfs.xz\n}\n`
  }
  return text
}

async function platformDir(platform: string, first: readonly string[]): Promise<string> {
  const roots = grubLibDirs(first)
  for (const root of roots) {
    const dir = join(root, platform)
    const ok = await access(join(dir, 'moddep.lst')).then(
      () => true,
      () => false,
    )
    if (ok) return dir
  }
  const pkg = platform === 'i386-pc' ? 'grub-pc-bin' : platform === 'x86_64-efi' ? 'grub-efi-amd64-bin' : 'grub-efi-arm64-bin'
  throw new ImagerEnvironmentError(`GRUB modules for ${platform} not found in ${roots.join(' or ')}: install ${pkg} (builder/install-system-deps.sh) or set FACTORY_GRUB_DIR`)
}

/** UEFI GRUB image for `arch`, written to `output`; `roots` are searched first. */
export async function grubEfiImage(arch: 'amd64' | 'arm64', output: string, roots: readonly string[] = [], signal?: AbortSignal): Promise<void> {
  const platform = arch === 'amd64' ? 'x86_64-efi' : 'arm64-efi'
  const dir = await platformDir(platform, roots)
  await runTool('grub-mkimage', ['--directory', dir, '--format', platform, '--output', output, '--prefix', GRUB_PREFIX, '--compression', 'xz', ...GRUB_MODULES], { signal })
}

export interface BiosGrub {
  /** core.img as grub-mkimage wrote it */
  readonly core: Uint8Array
  /** boot.img (512 bytes) */
  readonly boot: Uint8Array
}

/** BIOS GRUB images (amd64 only): core.img built for our prefix, and the stock boot.img. */
export async function grubBiosImages(output: string, roots: readonly string[] = [], signal?: AbortSignal): Promise<BiosGrub> {
  const dir = await platformDir('i386-pc', roots)
  await runTool('grub-mkimage', ['--directory', dir, '--format', 'i386-pc', '--output', output, '--prefix', GRUB_PREFIX, ...GRUB_MODULES, ...GRUB_BIOS_MODULES], { signal })
  try {
    return { core: new Uint8Array(await readFile(output)), boot: new Uint8Array(await readFile(join(dir, 'boot.img'))) }
  } catch (err) {
    throw ioError('cannot read the GRUB BIOS images', err)
  }
}

/** boot.img: LBA of core.img's first sector (GRUB_BOOT_MACHINE_KERNEL_SECTOR). */
const BOOT_KERNEL_SECTOR = 0x5c
/** boot.img: the short jump grub-bios-setup turns into two NOPs for GPT disks. */
const BOOT_JUMP = 0x66
/** core.img (diskboot.img): start LBA of the first blocklist entry, i.e. the rest of core.img. */
const CORE_BLOCKLIST_START = 0x1f4

/**
 * Patches the BIOS boot path for a core.img placed at `biosFirstLBA` (in the image's sectors):
 * returns the 446 bytes of MBR boot code and the patched core.img (the blocklist's sector count
 * is already filled in by grub-mkimage).
 */
export function patchBiosGrub(images: BiosGrub, biosFirstLBA: number, biosBytes: number): { mbr: Uint8Array; core: Uint8Array } {
  if (images.core.byteLength > biosBytes) throw new ImagerEnvironmentError(`GRUB core.img (${images.core.byteLength} bytes) does not fit the BIOS boot partition`)
  if (images.boot.byteLength < 512) throw new ImagerEnvironmentError('GRUB boot.img is truncated')
  const boot = new Uint8Array(images.boot)
  const bootDv = new DataView(boot.buffer)
  bootDv.setBigUint64(BOOT_KERNEL_SECTOR, BigInt(biosFirstLBA), true)
  boot[BOOT_JUMP] = 0x90
  boot[BOOT_JUMP + 1] = 0x90
  const core = new Uint8Array(images.core)
  const coreDv = new DataView(core.buffer)
  coreDv.setBigUint64(CORE_BLOCKLIST_START, BigInt(biosFirstLBA + 1), true)
  return { mbr: boot.subarray(0, 446), core }
}
