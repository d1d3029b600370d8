/**
 * GRUB for ISOs (imager-spec §6.1, §6.2): the reference runs `grub-mkrescue` for every ISO. We do
 * what it does ourselves, once: the GRUB boot tree (modules, the El Torito BIOS core image, the EFI
 * boot image) does not depend on the schematic, so it is built into the imager cache and every
 * ISO is a single xorriso run on top of it.
 *
 * Why not grub-mkrescue: it recompresses every module and locale on each run (seconds), and its
 * EFI FAT image gets a random serial number, so its ISOs are never reproducible (spec/env-lab.md).
 * Here the FAT image is made with `mkfs.vfat --invariant`, the ISO's UUID (which the EFI core
 * image searches for) is derived from SOURCE_DATE_EPOCH, and the module files are xz-compressed
 * exactly as `grub-mkrescue --compress=xz` does. Not copied: locales, fonts and themes (the
 * reference's menu is text-only) and the Apple HFS+ boot bits.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ImagerUnsupportedError, ioError, isErrno } from './errors.ts'
import { runTool, SOURCE_DATE_EPOCH } from './exec.ts'
import { stageTree } from './esp.ts'

export type GrubPlatform = 'i386-pc' | 'x86_64-efi' | 'arm64-efi'

/** Where GRUB's module directories are looked for (the imager image's first, then the host's). */
export const HOST_GRUB_DIR = '/usr/lib/grub'

const RECIPE = 'grub-iso-tree v1'
const EFI_BOOT_NAME: Record<Exclude<GrubPlatform, 'i386-pc'>, string> = { 'x86_64-efi': 'bootx64.efi', 'arm64-efi': 'bootaa64.efi' }

/** ISO9660 volume UUID as GRUB prints it, from the volume date xorriso is given. */
export function isoUuid(epoch = SOURCE_DATE_EPOCH): { xorriso: string; grub: string } {
  const d = new Date(epoch * 1000)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const parts = [p(d.getUTCFullYear(), 4), p(d.getUTCMonth() + 1), p(d.getUTCDate()), p(d.getUTCHours()), p(d.getUTCMinutes()), p(d.getUTCSeconds()), '00']
  return { xorriso: parts.join(''), grub: parts.join('-') }
}

/** grub.cfg quoting of the reference (`grub.Quote`): a backslash before `\ { } & $ | ; < > "`. */
export function grubQuote(s: string): string {
  return s.replace(/[\\{}&$|;<>"]/g, (c) => `\\${c}`)
}

/** The ISO's grub.cfg (reference template `iso/grub.cfg`, tabs included). */
export function isoGrubCfg(cmdline: string, withReset: boolean): string {
  const entry = (title: string, extra: string) =>
    `menuentry "${title}" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz ${grubQuote(cmdline)}${extra}\n\tinitrd /boot/initramfs.xz\n}\n`
  const head = 'set default=0\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n'
  // the reference template's trim markers: with the reset entry the file ends `}\n`, without `}\n\n`
  return head + entry('Talos ISO', '') + '\n' + (withReset ? entry('Reset Talos installation', ' talos.experimental.wipe=system') : '')
}

export interface GrubIsoTree {
  /** directory to add at the ISO root (`boot/grub/<platform>/…`) */
  readonly tree: string
  /** the BIOS El Torito image (path inside the ISO), when i386-pc is included */
  readonly biosImage: string | null
  /** GRUB's hybrid MBR for BIOS boot from a USB stick */
  readonly hybridMbr: string | null
  /** the EFI El Torito image (path inside the ISO), when an EFI platform is included */
  readonly efiImage: string | null
}

async function moduleDir(platform: GrubPlatform, searchDirs: readonly string[]): Promise<string> {
  for (const base of searchDirs) {
    const dir = join(base, platform)
    if (await stat(join(dir, 'kernel.img')).then(() => true, () => false)) return dir
  }
  const hint = platform === 'arm64-efi' ? ': the imager image has none and grub-efi-arm64-bin cannot be installed on an amd64 host' : ' (install grub-pc-bin / grub-efi-amd64-bin)'
  throw new ImagerUnsupportedError(`GRUB ${platform} modules are not available${hint}`)
}

async function fingerprint(dirs: readonly [GrubPlatform, string][], uuid: string): Promise<string> {
  const h = createHash('sha256').update(RECIPE).update(uuid)
  h.update(await runTool('grub-mkimage', ['--version'], { stdout: 'capture' }))
  for (const [platform, dir] of dirs) {
    h.update(`\0${platform}\0${dir}\0`)
    for (const name of (await readdir(dir)).sort()) {
      const s = await stat(join(dir, name))
      h.update(`${name}:${s.size}:${Math.floor(s.mtimeMs)}\n`)
    }
  }
  return h.digest('hex').slice(0, 32)
}

/** Copies a platform's modules: `*.mod` xz-compressed as `grub-mkrescue --compress=xz`, `*.lst` as is. */
async function copyModules(src: string, dest: string, signal?: AbortSignal): Promise<void> {
  await mkdir(dest, { recursive: true })
  const names = (await readdir(src)).sort()
  const mods = names.filter((n) => n.endsWith('.mod'))
  for (const n of names.filter((x) => x.endsWith('.lst'))) await copyFile(join(src, n), join(dest, n))
  // two at a time: the machine has few cores and the tree is built once
  let next = 0
  const worker = async () => {
    for (let i = next++; i < mods.length; i = next++) {
      const fh = await open(join(dest, mods[i]!), 'w', 0o644)
      try {
        await runTool('sh', ['-c', 'exec xz --lzma2=dict=128KiB --check=none --stdout < "$1"', 'xz', join(src, mods[i]!)], { stdout: fh.fd, signal })
      } finally {
        await fh.close()
      }
    }
  }
  await Promise.all([worker(), worker()])
}

async function buildTree(root: string, dirs: readonly [GrubPlatform, string][], uuid: string, signal?: AbortSignal): Promise<void> {
  const tree = join(root, 'tree')
  const cfg = join(root, 'early.cfg')
  // what grub-mkrescue embeds: find the ISO by its UUID, take the modules from it
  await mkdir(tree, { recursive: true })
  await writeFile(cfg, `search --fs-uuid --set=root ${uuid}\nset prefix=(\${root})/boot/grub\n`)
  for (const [platform, dir] of dirs) {
    await copyModules(dir, join(tree, 'boot', 'grub', platform), signal)
    if (platform === 'i386-pc') {
      await runTool('grub-mkimage', ['-d', dir, '-O', 'i386-pc-eltorito', '-p', '/boot/grub', '-c', cfg, '-o', join(tree, 'boot/grub/i386-pc/eltorito.img'), 'biosdisk', 'iso9660', 'search', 'search_fs_uuid', 'xzio', 'gcry_crc'], { signal })
      await copyFile(join(dir, 'boot_hybrid.img'), join(root, 'boot_hybrid.img'))
    } else {
      const app = join(root, 'efi', EFI_BOOT_NAME[platform])
      await mkdir(join(root, 'efi'), { recursive: true })
      await runTool('grub-mkimage', ['-d', dir, '-O', platform, '-p', '/boot/grub', '-c', cfg, '-o', app, 'part_gpt', 'part_msdos', 'fat', 'iso9660', 'search', 'search_fs_uuid', 'xzio', 'gcry_crc'], { signal })
    }
  }
  const efi = dirs.filter(([p]) => p !== 'i386-pc')
  if (efi.length > 0) {
    // the El Torito EFI image: a small FAT (12/16) holding efi/boot/boot<arch>.efi
    const stage = join(root, 'efi-stage')
    await stageTree(stage, efi.map(([p]) => ({ path: `efi/boot/${EFI_BOOT_NAME[p as Exclude<GrubPlatform, 'i386-pc'>]}`, source: join(root, 'efi', EFI_BOOT_NAME[p as Exclude<GrubPlatform, 'i386-pc'>]) })), root)
    let bytes = 0
    for (const [p] of efi) bytes += (await stat(join(root, 'efi', EFI_BOOT_NAME[p as Exclude<GrubPlatform, 'i386-pc'>]))).size
    const kib = Math.ceil((bytes + 512 * 1024) / (64 * 1024)) * 64
    const img = join(tree, 'efi.img')
    await runTool('mkfs.vfat', ['-C', '--invariant', '-n', 'GRUB', img, String(kib)], { signal })
    await runTool('mcopy', ['-s', '-p', '-Q', '-m', '-i', img, join(stage, 'efi'), '::'], { signal })
  }
}

/**
 * The GRUB boot tree for `platforms`, built once into `cacheDir` (or `workDir` without a cache).
 * `searchDirs`: GRUB module roots to try before the host's `/usr/lib/grub`.
 */
export async function grubIsoTree(platforms: readonly GrubPlatform[], opts: { cacheDir: string | null; workDir: string; searchDirs?: readonly string[]; signal?: AbortSignal }): Promise<GrubIsoTree> {
  const search = [...(opts.searchDirs ?? []), HOST_GRUB_DIR]
  const dirs: [GrubPlatform, string][] = []
  for (const p of platforms) dirs.push([p, await moduleDir(p, search)])
  const uuid = isoUuid().grub
  const key = await fingerprint(dirs, uuid)
  const base = opts.cacheDir ? join(opts.cacheDir, 'grub-iso') : join(opts.workDir, 'grub-iso')
  const final = join(base, key)
  const result: GrubIsoTree = {
    tree: join(final, 'tree'),
    biosImage: platforms.includes('i386-pc') ? 'boot/grub/i386-pc/eltorito.img' : null,
    hybridMbr: platforms.includes('i386-pc') ? join(final, 'boot_hybrid.img') : null,
    efiImage: platforms.some((p) => p !== 'i386-pc') ? 'efi.img' : null,
  }
  if (await stat(join(final, 'tree')).then(() => true, () => false)) return result
  const tmp = join(base, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    await mkdir(tmp, { recursive: true })
    await buildTree(tmp, dirs, uuid, opts.signal)
    await rename(tmp, final).catch((err: unknown) => {
      // another build made the same tree first: use it
      if (!isErrno(err, 'EEXIST', 'ENOTEMPTY')) throw err
    })
  } catch (err) {
    throw ioError(`cannot build the GRUB tree in ${base}`, err)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return result
}
