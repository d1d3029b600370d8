/**
 * The BOOT partition as a file (imager-spec §7.6): `mkfs.xfs` on a sparse file of the partition
 * size, populated from a protofile that names the staged files — no loop device, no mount.
 *
 * Feature set: the reference passes `-c options=<quirk's lts_<kernel>.conf>` (6.1 … 6.18 by Talos
 * version). BOOT must also be readable by the GRUB we embed — Debian 12's 2.06 reads bigtime but
 * not the large extent counters (nrext64) of the newer sets — and Debian 12's mkfs.xfs rejects its
 * own shipped .conf files (their `nrext64` key). So we spell out the lts_6.1 feature set on the
 * command line for every version: pinned, readable by GRUB 2.06, accepted by xfsprogs 6.1+.
 */
import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { guidFromLabel } from './gpt.ts'
import { compareBytes } from './cpio.ts'
import { createSparseFile } from './disk-file.ts'
import { ImagerToolError, ioError } from './errors.ts'
import { runTool, SOURCE_DATE_EPOCH } from './exec.ts'
import { stageData, touchTree } from './stage.ts'

/** mkfs.xfs options equal to xfsprogs' lts_6.1.conf (the newest set GRUB 2.06 reads). */
export const BOOT_XFS_FEATURES = ['-m', 'bigtime=1,crc=1,finobt=1,inobtcount=1,reflink=1,rmapbt=0', '-i', 'sparse=1,nrext64=0'] as const

function modeString(type: string, mode: number): string {
  const suid = mode & 0o4000 ? 'u' : '-'
  const sgid = mode & 0o2000 ? 'g' : '-'
  return `${type}${suid}${sgid}${(mode & 0o777).toString(8).padStart(3, '0')} 0 0`
}

/**
 * mkfs.xfs protofile for the tree at `root` (uid/gid 0): per directory its files, symlinks and
 * devices first, then its subdirectories, each closed by `$`; names are sorted.
 */
export async function xfsProtofile(root: string): Promise<string> {
  const lines: string[] = ['/', '0 0']
  const rootSt = await lstat(root)
  lines.push(modeString('d', rootSt.mode))
  const walk = async (dir: string, depth: number): Promise<void> => {
    const pad = ' '.repeat(depth)
    const names = (await readdir(dir)).sort(compareBytes)
    const subdirs: string[] = []
    for (const name of names) {
      // the protofile is whitespace-separated: such names come from an overlay installer, not the client
      if (/[\s$]/.test(name) || name === '') throw new ImagerToolError(`cannot put ${JSON.stringify(name)} on the BOOT partition: names with spaces are not supported`)
      const p = join(dir, name)
      const st = await lstat(p)
      if (st.isDirectory()) subdirs.push(name)
      else if (st.isFile()) lines.push(`${pad}${name} ${modeString('-', st.mode)} ${p}`)
      else if (st.isSymbolicLink()) lines.push(`${pad}${name} ${modeString('l', st.mode)} ${await readlink(p)}`)
      // sockets, fifos and devices have no place on a boot partition: skipped
    }
    for (const name of subdirs) {
      const p = join(dir, name)
      lines.push(`${pad}${name} ${modeString('d', (await lstat(p)).mode)}`)
      await walk(p, depth + 1)
      lines.push(`${pad}$`)
    }
  }
  await walk(root, 1)
  lines.push('$')
  return `${lines.join('\n')}\n`
}

export interface XfsOptions {
  readonly image: string
  readonly size: number
  readonly sectorSize: number
  readonly label: string
  /** directory whose contents become the filesystem root */
  readonly source: string
  /** where to write the protofile */
  readonly protofile: string
  readonly signal?: AbortSignal
}

export async function buildXfs(opts: XfsOptions): Promise<void> {
  await createSparseFile(opts.image, opts.size)
  await touchTree(opts.source)
  let proto: string
  try {
    proto = await xfsProtofile(opts.source)
  } catch (err) {
    throw ioError(`cannot read ${opts.source}`, err)
  }
  await stageData(opts.protofile, proto, 0o600)
  const args = ['-n', 'ftype=1', ...BOOT_XFS_FEATURES, '-f', '-L', opts.label]
  if (opts.sectorSize !== 512) args.push('-s', `size=${opts.sectorSize}`)
  args.push('-p', opts.protofile, '-m', `uuid=${guidFromLabel(opts.label).toLowerCase()}`, opts.image)
  await runTool('mkfs.xfs', args, { signal: opts.signal, env: { SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH), DETERMINISTIC_SEED: '1' } })
}
