/**
 * The `image` output kind (imager-spec §7): a GPT disk image built rootless from files —
 *
 *   1. a sparse raw disk of the profile's size (work/disk/disk.raw)
 *   2. staging (work/disk/stage, the reference's mount prefix): GRUB (BOOT: A/vmlinuz,
 *      A/initramfs.xz, grub/grub.cfg; ESP: EFI/boot/BOOT<arch>.efi) and the overlay installer's
 *      `install`, and/or sd-boot (ESP: EFI/boot/BOOT<arch>.efi, EFI/Linux/Talos-<v>.efi, loader/)
 *   3. the GPT (gpt.ts), then each filesystem built as its own sparse file (FAT and XFS in
 *      parallel) and copied into its partition, holes kept
 *   4. GRUB's BIOS boot code (amd64), the META partition's ADV
 *   5. disk format and compression straight into the output (disk-format.ts)
 *
 * Overlay output written to `<prefix>/boot/EFI` goes to the root of the ESP (Talos 1.13 behaviour,
 * what Raspberry Pi firmware needs; imager-spec §9.1 caveat).
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Quirks } from '../../src/talos/quirks.ts'
import { DiskFile } from './disk-file.ts'
import { convertDisk, emitDisk } from './disk-format.ts'
import { diskMetaValues, diskPartitions, type DiskBootloader } from './disk-layout.ts'
import { ioError } from './errors.ts'
import { buildFat } from './fat.ts'
import { gptWrites, planGpt, type PlacedPartition } from './gpt.ts'
import { grubBiosImages, grubConfig, grubEfiImage, patchBiosGrub, type BiosGrub } from './grub-disk.ts'
import type { BuildContext } from './index.ts'
import { metaPartitionHead } from './meta-partition.ts'
import { mergeInto, runOverlayInstall } from './overlay.ts'
import { enrollmentFiles, initramfsFile, sdBootFile, ukiFile } from './parts.ts'
import type { ImagerProfile } from './profile.ts'
import { stageData, stageFile, stageLink } from './stage.ts'
import { buildXfs } from './xfs.ts'

/** `EFI/boot/BOOTX64.efi` / `BOOTAA64.efi` (lower-case `boot` and `.efi`, as the reference). */
export function efiBootPath(arch: 'amd64' | 'arm64'): string {
  return `EFI/boot/${arch === 'amd64' ? 'BOOTX64' : 'BOOTAA64'}.efi`
}

interface Staged {
  /** amd64 GRUB layouts: the BIOS images to embed */
  bios: BiosGrub | null
}

/** GRUB staging (imager-spec §7.4): BOOT contents, the UEFI GRUB image and the BIOS images. */
async function stageGrub(p: ImagerProfile, ctx: BuildContext, work: string, stage: string, bootloader: DiskBootloader): Promise<Staged> {
  const q = new Quirks(p.version)
  await stageFile(p.input.kernel, join(stage, 'boot/A/vmlinuz'))
  await stageLink(await initramfsFile(p, ctx), join(stage, 'boot/A/initramfs.xz'))
  const reset = bootloader === 'dual-boot' || q.supportsResetGrubOption()
  await stageData(join(stage, 'boot/grub/grub.cfg'), grubConfig({ version: p.version, cmdline: ctx.cmdline, reset }), 0o600)
  const efiDir = join(stage, 'EFI', 'EFI', 'boot')
  await mkdir(efiDir, { recursive: true }).catch((err: unknown) => {
    throw ioError(`cannot create ${efiDir}`, err)
  })
  const roots = ctx.grubDirs ?? []
  await grubEfiImage(p.arch, join(stage, 'EFI', efiBootPath(p.arch)), roots, ctx.signal)
  const bios = p.arch === 'amd64' ? await grubBiosImages(join(work, 'core.img'), roots, ctx.signal) : null
  return { bios }
}

/** `loader/loader.conf` of the ESP; Secure Boot images name the enrolment mode (imager-spec §7.3). */
export function loaderConf(enroll: string | null): string {
  const base = '# systemd-boot configuration\n\ntimeout 10\n'
  return enroll === null ? base : `${base}\nsecure-boot-enroll ${enroll}\n`
}

/**
 * sd-boot staging (imager-spec §7.3): systemd-boot as the removable-media loader, the UKI (with
 * the `reset-maintenance` profile) as `EFI/Linux/Talos-<version>.efi`, loader.conf and, for
 * Secure Boot unless enrolment is off, the PK/KEK/db `.auth` files for auto-enrolment.
 */
async function stageSdBoot(p: ImagerProfile, ctx: BuildContext, stage: string): Promise<void> {
  const io = p.output.imageOptions
  const esp = join(stage, 'EFI')
  const [uki, sdBoot] = await Promise.all([ukiFile(p, ctx), sdBootFile(p, ctx)])
  await stageFile(sdBoot, join(esp, efiBootPath(p.arch)))
  await stageLink(uki, join(esp, 'EFI', 'Linux', `Talos-${p.version}.efi`))
  const enroll = p.secureboot && io !== null && io.sdBootEnrollKeys !== 'off' ? io.sdBootEnrollKeys : null
  if (enroll !== null) {
    const keys = await enrollmentFiles(p, ctx)
    if (keys !== null) {
      await stageFile(keys.pk, join(esp, 'loader/keys/auto/PK.auth'))
      await stageFile(keys.kek, join(esp, 'loader/keys/auto/KEK.auth'))
      await stageFile(keys.db, join(esp, 'loader/keys/auto/db.auth'))
    }
  }
  await stageData(join(esp, 'loader/loader.conf'), loaderConf(enroll))
}

/** Waits for every build (none is left writing into the disk) and rethrows the first failure. */
async function settleAll(builds: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(builds)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

function partition(parts: readonly PlacedPartition[], label: string): PlacedPartition {
  const found = parts.find((x) => x.label === label)
  if (found === undefined) throw new Error(`internal: no ${label} partition in the layout`)
  return found
}

/** Builds the disk image for `p` into `ctx.output`. */
export async function buildDiskImage(p: ImagerProfile, ctx: BuildContext): Promise<void> {
  const io = p.output.imageOptions
  if (io === null) throw new Error('internal: image output without image options')
  const bootloader = io.bootloader
  const work = join(ctx.workDir, 'disk')
  const stage = join(work, 'stage')
  try {
    await mkdir(stage, { recursive: true })
  } catch (err) {
    throw ioError(`cannot create ${stage}`, err)
  }
  const diskPath = join(work, 'disk.raw')
  const disk = await DiskFile.create(diskPath, io.diskSize)
  try {
    let staged: Staged = { bios: null }
    if (bootloader === 'grub' || bootloader === 'dual-boot') {
      staged = await stageGrub(p, ctx, work, stage, bootloader)
      if (ctx.overlay) {
        await runOverlayInstall(ctx.overlay, diskPath, stage, ctx.signal)
        // what the overlay put under <prefix>/boot/EFI belongs to the ESP root
        await mergeInto(join(stage, 'boot', 'EFI'), join(stage, 'EFI'))
      }
    }
    if (bootloader === 'dual-boot') await rm(join(stage, 'EFI'), { recursive: true, force: true })
    if (bootloader === 'sd-boot' || bootloader === 'dual-boot') await stageSdBoot(p, ctx, stage)

    const layout = planGpt(io.diskSize, io.diskSectorSize, diskPartitions(p.version, bootloader), { skipLBAs: ctx.overlay?.partitionOffset ?? 0 })
    for (const piece of gptWrites(layout)) await disk.writeAt(piece.offset, piece.data)

    const efi = partition(layout.partitions, 'EFI')
    const builds: Promise<void>[] = [
      buildFat({ image: join(work, 'EFI.img'), size: efi.bytes, sectorSize: io.diskSectorSize, label: 'EFI', source: join(stage, 'EFI'), ...(ctx.signal ? { signal: ctx.signal } : {}) }).then(() =>
        disk.place(join(work, 'EFI.img'), efi.offset, efi.bytes, ctx.signal),
      ),
    ]
    const boot = layout.partitions.find((x) => x.label === 'BOOT')
    if (boot !== undefined) {
      builds.push(
        buildXfs({
          image: join(work, 'BOOT.img'),
          size: boot.bytes,
          sectorSize: io.diskSectorSize,
          label: 'BOOT',
          source: join(stage, 'boot'),
          protofile: join(work, 'boot.proto'),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        }).then(() => disk.place(join(work, 'BOOT.img'), boot.offset, boot.bytes, ctx.signal)),
      )
    }
    await settleAll(builds)
    await Promise.all([rm(join(work, 'EFI.img'), { force: true }), rm(join(work, 'BOOT.img'), { force: true })])

    if (staged.bios !== null) {
      const bios = partition(layout.partitions, 'BIOS')
      const patched = patchBiosGrub(staged.bios, bios.firstLBA, bios.bytes)
      await disk.writeAt(bios.offset, patched.core)
      await disk.writeAt(0, patched.mbr)
    }

    const meta = diskMetaValues(p.customization.metaContents, p.version, bootloader, p.arch, p.secureboot)
    if (meta.length > 0) await disk.writeAt(partition(layout.partitions, 'META').offset, metaPartitionHead(meta))
  } finally {
    await disk.close()
  }
  await rm(stage, { recursive: true, force: true })

  const source = await convertDisk(diskPath, io, join(work, 'out'), ctx.signal)
  await emitDisk(source, p.output.outFormat, ctx.output, join(work, 'out'), ctx.signal)
}
