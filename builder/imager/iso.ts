/**
 * ISO images (imager-spec §6), streamed from xorriso's stdout into the asset.
 *
 * Layout, chosen as the reference does: Secure Boot → UEFI-only; from 1.12 the profile's ISO
 * bootloader (dual-boot → hybrid, sd-boot → UEFI-only, grub → GRUB); 1.10/1.11 → hybrid; older →
 * GRUB.
 *
 * * GRUB: GRUB for BIOS and UEFI booting `boot/vmlinuz` + `boot/initramfs.xz` (grub.cfg with the
 *   reset entry from 1.4).
 * * UEFI-only: systemd-boot and the UKI (plus the signing certificate and the PK/KEK/db
 *   enrolment files for Secure Boot) in an appended FAT EFI partition and in the ISO9660 tree.
 * * hybrid: GRUB for BIOS, the UEFI-only ESP for UEFI.
 *
 * The GRUB boot tree is built once and cached (grub.ts); kernel and initramfs are grafted into the
 * ISO from where they are, never copied. Dates, the volume UUID, the FAT image and the GPT GUID
 * are all fixed, so the same inputs give the same ISO bytes.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Quirks } from '../../src/talos/quirks.ts'
import { ioError } from './errors.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'
import { FAT32_MIN_BYTES, MiB, stageTree, type StagedFile } from './esp.ts'
import { buildFat, fatSectorsPerCluster } from './fat.ts'
import { grubIsoTree, isoGrubCfg, isoUuid, type GrubIsoTree, type GrubPlatform } from './grub.ts'
import type { BuildContext } from './index.ts'
import { enrollmentFiles, initramfsFile, sdBootFile, secureBootKeys, ukiFile } from './parts.ts'
import type { ImagerProfile } from './profile.ts'
import { runXorriso } from './xorriso.ts'

export type IsoLayout = 'grub' | 'hybrid' | 'uefi'

export function isoLayout(p: ImagerProfile): IsoLayout {
  if (p.secureboot) return 'uefi'
  const chosen = p.output.isoOptions?.bootloader ?? null
  if (chosen !== null) return chosen === 'dual-boot' ? 'hybrid' : chosen === 'sd-boot' ? 'uefi' : 'grub'
  return new Quirks(p.version).useSDBootForUEFI() ? 'hybrid' : 'grub'
}

/** `Talos-<version>`, and the ISO9660 volume ID made from it (upper case, `[A-Z0-9_]`, ≤ 32). */
export function isoLabel(version: string): { volset: string; volid: string } {
  const volset = `Talos-${version}`
  const volid = volset
    .toUpperCase()
    .replace(/[-_.]/g, '_')
    .replace(/[^A-Z0-9_]/g, '')
    .slice(0, 32)
  return { volset, volid }
}

/** loader.conf of the ISO's systemd-boot (reference `loader.conf.tmpl`). */
export function loaderConf(enroll: string): string {
  return `# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll ${enroll}\n`
}

/** Native xorriso commands after `--` (reference `ExecutorOptions.Generate`). */
export function xorrisoTail(version: string): string[] {
  const tail = ['-volume_date', 'all_file_dates', `=${SOURCE_DATE_EPOCH}`, '-volume_date', 'uuid', isoUuid().xorriso]
  if (new Quirks(version).supportsISOLabel()) {
    const { volid, volset } = isoLabel(version)
    tail.push('-volid', volid, '-volset_id', volset)
  }
  return tail
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
}

/** The systemd-boot + UKI files of the ESP (and of the ISO9660 tree), imager-spec §6.3 step 3. */
async function sdBootFiles(profile: ImagerProfile, ctx: BuildContext): Promise<{ files: StagedFile[]; bytes: number }> {
  const [sdBoot, uki, enroll, keys] = await Promise.all([sdBootFile(profile, ctx), ukiFile(profile, ctx), enrollmentFiles(profile, ctx), secureBootKeys(profile, ctx)])
  const bootName = profile.arch === 'arm64' ? 'BOOTAA64.EFI' : 'BOOTX64.EFI'
  const mode = profile.secureboot ? (profile.output.isoOptions?.sdBootEnrollKeys ?? 'if-safe') : 'off'
  const files: StagedFile[] = [
    { path: `EFI/BOOT/${bootName}`, source: sdBoot },
    { path: `EFI/Linux/Talos-${profile.version}.efi`, source: uki },
    { path: 'loader/loader.conf', source: { data: loaderConf(mode) } },
    { path: 'loader/random-seed', source: { data: new Uint8Array(32) }, mode: 0o444 },
  ]
  if (keys) files.push({ path: 'EFI/keys/uki-signing-cert.der', source: { data: keys.signer.certDer } })
  if (enroll) {
    files.push({ path: 'loader/keys/auto/PK.auth', source: enroll.pk }, { path: 'loader/keys/auto/KEK.auth', source: enroll.kek }, { path: 'loader/keys/auto/db.auth', source: enroll.db })
  }
  const bytes = Math.ceil((await sizeOf(sdBoot)) / MiB) * MiB + Math.ceil((await sizeOf(uki)) / MiB) * MiB
  return { files, bytes }
}

function grubPlatforms(profile: ImagerProfile, layout: IsoLayout): GrubPlatform[] {
  if (layout === 'hybrid') return ['i386-pc']
  return profile.arch === 'arm64' ? ['arm64-efi'] : ['i386-pc', 'x86_64-efi']
}

/** grub-mkrescue's xorriso arguments for a GRUB boot tree. */
function grubArgs(g: GrubIsoTree): string[] {
  const args: string[] = []
  if (g.biosImage) args.push('-b', g.biosImage, '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info', '--grub2-mbr', g.hybridMbr!)
  if (g.efiImage) args.push('--efi-boot', g.efiImage, '-efi-boot-part', '--efi-boot-image')
  args.push('--protective-msdos-label')
  return args
}

/** The appended EFI partition (reference `hybrid.go`/`uefi.go`). */
function espArgs(efiboot: string, gpt: boolean): string[] {
  return [
    '-e', '--interval:appended_partition_2:all::',
    '-append_partition', '2', '0xef', efiboot,
    ...(gpt ? ['-appended_part_as_gpt'] : []),
    '-partition_cyl_align', 'all',
    '-partition_offset', '16',
    '-iso_mbr_part_type', '0x83',
    '-no-emul-boot',
  ]
}

/** Builds the ISO for `profile` into `ctx.output`. */
export async function buildIso(profile: ImagerProfile, ctx: BuildContext): Promise<{ layout: IsoLayout; endedAtLastByte: boolean }> {
  const layout = isoLayout(profile)
  const dir = join(ctx.workDir, 'iso')
  const tree = join(dir, 'tree')
  const withGrub = layout !== 'uefi'
  const withEsp = layout !== 'grub'

  const [grub, initramfs, esp] = await Promise.all([
    withGrub ? grubIsoTree(grubPlatforms(profile, layout), { cacheDir: ctx.cacheDir, workDir: ctx.workDir, ...(ctx.grubDirs ? { searchDirs: ctx.grubDirs } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) }) : null,
    withGrub ? initramfsFile(profile, ctx) : null,
    withEsp ? sdBootFiles(profile, ctx) : null,
  ])

  const staged: StagedFile[] = [...(esp?.files ?? [])]
  if (withGrub) staged.push({ path: 'boot/grub/grub.cfg', source: { data: isoGrubCfg(ctx.cmdline, new Quirks(profile.version).supportsResetGrubOption()) } })
  await stageTree(tree, staged, ctx.workDir)

  const args: string[] = ['-as', 'mkisofs', '-graft-points']
  let efiboot: string | null = null
  if (esp) {
    efiboot = join(dir, 'efiboot.img')
    // the ESP holds EFI/ and loader/ (not GRUB's boot/)
    const espRoot = join(dir, 'esp')
    await stageTree(espRoot, esp.files, ctx.workDir)
    // (never below FAT32_MIN_BYTES: Debian's mtools only reads FAT32 with enough clusters)
    const size = Math.max(10 * MiB + esp.bytes, FAT32_MIN_BYTES)
    await buildFat({
      image: efiboot,
      size,
      sectorSize: 512,
      sectorsPerCluster: fatSectorsPerCluster(size),
      label: 'EFI',
      source: espRoot,
      readOnly: ['loader/random-seed'],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }
  if (grub) {
    args.push(...grubArgs(grub), '-r', grub.tree)
    args.push(`boot/vmlinuz=${profile.input.kernel}`, `boot/initramfs.xz=${initramfs!}`)
    args.push('--sort-weight', '0', '/', '--sort-weight', '1', '/boot')
  }
  args.push('-m', 'efiboot.img', '-iso-level', '3', tree)
  if (efiboot) {
    if (layout === 'hybrid') args.push('-eltorito-alt-boot', ...espArgs(efiboot, true))
    else args.push(...espArgs(efiboot, false))
  }
  args.push('-o', '-', '--', ...xorrisoTail(profile.version))
  // the GPT of a hybrid ISO gets its disk GUID from the (fixed) volume date, not from chance
  if (layout === 'hybrid') args.push('-boot_image', 'any', 'gpt_disk_guid=volume_date_uuid')
  const { endedAtLastByte } = await runXorriso(args, ctx.output, ctx.workDir, ctx.signal)
  return { layout, endedAtLastByte }
}
