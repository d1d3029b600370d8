/**
 * Staging directories for partition contents (the reference stages under `<tmp>/image` and builds
 * each filesystem from a directory): copying inputs in, writing generated files, and pinning every
 * mtime to SOURCE_DATE_EPOCH before a filesystem is made from the tree.
 */
import { copyFile, link, lstat, mkdir, readdir, utimes, writeFile, chmod } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ioError } from './errors.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'

/** Copies `src` to `dst` (parents created) with `mode`. */
export async function stageFile(src: string, dst: string, mode = 0o644): Promise<void> {
  try {
    await mkdir(dirname(dst), { recursive: true })
    await copyFile(src, dst)
    await chmod(dst, mode)
  } catch (err) {
    throw ioError(`cannot stage ${src}`, err)
  }
}

/**
 * Puts a scratch file (one this build made, e.g. the initramfs or UKI) at `dst` without copying
 * it: a hard link, or a copy where links are not possible. Never use it for inputs: staging
 * rewrites mtimes.
 */
export async function stageLink(src: string, dst: string): Promise<void> {
  try {
    await mkdir(dirname(dst), { recursive: true })
    await link(src, dst)
  } catch {
    await stageFile(src, dst)
  }
}

/** Writes `data` to `dst` (parents created) with `mode`. */
export async function stageData(dst: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  try {
    await mkdir(dirname(dst), { recursive: true })
    await writeFile(dst, data, { mode })
    await chmod(dst, mode)
  } catch (err) {
    throw ioError(`cannot write ${dst}`, err)
  }
}

/** Sets atime/mtime of every entry below (and including) `root` to SOURCE_DATE_EPOCH. */
export async function touchTree(root: string): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p)
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n))
    if (!st.isSymbolicLink()) await utimes(p, SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH)
  }
  try {
    await walk(root)
  } catch (err) {
    throw ioError(`cannot prepare ${root}`, err)
  }
}
