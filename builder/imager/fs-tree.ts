/**
 * Filesystem helpers for extension trees: a stable fingerprint of a directory (cache identity),
 * streaming file hashes, the reference's "copy following symlinks" used for firmware and
 * kernel modules (talos `internal/pkg/extensions/compress.go` `handleFilesOp`, which uses
 * `os.Stat`, so symlinks become copies of their targets), and a faithful copy without xattrs (the
 * source of a labelled squashfs). Symlinks are resolved inside the extension root (absolute
 * targets are root-relative), never on the host.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, copyFile, link, lstat, lutimes, mkdir, open, readdir, readlink, stat, symlink, utimes } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { InvalidInputError, NotFoundError } from '../../src/errors.ts'
import { resolveInRoot } from '../../src/oci/extract.ts'
import { ioError, isErrno } from './errors.ts'
import { compareBytes } from './cpio.ts'

/** Files up to this size are content-hashed in a directory fingerprint; larger ones by size+mtime. */
export const FINGERPRINT_CONTENT_LIMIT = 1024 * 1024

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer)
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
  return h.digest('hex')
}

async function sortedNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort(compareBytes)
}

/**
 * Fingerprint of a directory tree: every entry's relative path, type and permission bits; symlink
 * targets; regular files by content (≤ FINGERPRINT_CONTENT_LIMIT) or by size + mtime (larger).
 * Directory mtimes, ownership and inode numbers are ignored, so re-creating the same small tree
 * (e.g. a virtual extension) gives the same fingerprint.
 */
export async function fingerprintTree(root: string): Promise<string> {
  const h = createHash('sha256')
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : join(root, rel)
    const st = await lstat(abs, { bigint: true })
    const perm = Number(st.mode & 0o7777n)
    if (st.isDirectory()) {
      h.update(`d ${JSON.stringify(rel)} ${perm.toString(8)}\n`)
      for (const n of await sortedNames(abs)) await walk(rel === '' ? n : `${rel}/${n}`)
    } else if (st.isSymbolicLink()) {
      h.update(`l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(abs))}\n`)
    } else if (st.isFile()) {
      const size = Number(st.size)
      const id = size <= FINGERPRINT_CONTENT_LIMIT ? `sha256:${await sha256File(abs)}` : `mtime:${st.mtimeNs}`
      h.update(`f ${JSON.stringify(rel)} ${perm.toString(8)} ${size} ${id}\n`)
    } else {
      h.update(`s ${JSON.stringify(rel)} ${perm.toString(8)}\n`)
    }
  }
  try {
    await walk('')
  } catch (err) {
    throw ioError(`cannot read extension directory ${root}`, err)
  }
  return h.digest('hex')
}

/** Host path of `rel` inside `root`, following symlinks root-relatively; null when missing. */
export async function resolveOrNull(root: string, rel: string): Promise<string | null> {
  try {
    return await resolveInRoot(root, rel)
  } catch (err) {
    if (err instanceof NotFoundError) return null
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null
    throw err
  }
}

export interface CopiedEntry {
  /** path relative to the copy's root */
  readonly path: string
  readonly kind: 'dir' | 'file'
  /** permission bits as created (source perm without group/other write, as under umask 022) */
  readonly mode: number
  readonly size: number
}

const UMASK = 0o022
const MAX_DEPTH = 64

/**
 * Copies the tree at `rel` inside the extension root `root` into `dest`, following symlinks
 * (inside `root`), skipping the relative paths in `skip`. Returns the entries written (sorted
 * depth-first) and the mode of the top directory. Special files are refused.
 */
export async function copyTreeDereferenced(
  root: string,
  rel: string,
  dest: string,
  opts: { skip?: ReadonlySet<string>; what: string },
): Promise<{ rootMode: number; entries: CopiedEntry[] }> {
  const entries: CopiedEntry[] = []
  const copyFile = async (src: string, dst: string, mode: number): Promise<number> => {
    const input = await open(src, 'r')
    let size = 0
    try {
      const out = await open(dst, 'w', mode)
      try {
        const buf = new Uint8Array(1024 * 1024)
        for (;;) {
          const { bytesRead } = await input.read(buf, 0, buf.byteLength, null)
          if (bytesRead === 0) break
          let off = 0
          while (off < bytesRead) off += (await out.write(buf, off, bytesRead - off)).bytesWritten
          size += bytesRead
        }
      } finally {
        await out.close()
      }
      await chmod(dst, mode)
    } finally {
      await input.close()
    }
    return size
  }
  const visit = async (logical: string, outRel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new InvalidInputError(`${opts.what}: ${logical} is nested too deeply (symlink loop?)`)
    const real = await resolveOrNull(root, logical)
    if (real === null) throw new InvalidInputError(`${opts.what}: /${logical} does not exist (dangling symlink?)`)
    const st = await stat(real)
    const mode = Number(st.mode & 0o7777) & 0o777 & ~UMASK
    const dst = outRel === '' ? dest : join(dest, outRel)
    if (st.isDirectory()) {
      await mkdir(dst, { recursive: true })
      await chmod(dst, mode)
      if (outRel !== '') entries.push({ path: outRel, kind: 'dir', mode, size: 0 })
      for (const n of await sortedNames(real)) {
        const childLogical = `${logical}/${n}`
        if (opts.skip?.has(childLogical)) continue
        await visit(childLogical, outRel === '' ? n : `${outRel}/${n}`, depth + 1)
      }
    } else if (st.isFile()) {
      const size = await copyFile(real, dst, mode)
      entries.push({ path: outRel, kind: 'file', mode, size })
    } else {
      throw new InvalidInputError(`${opts.what}: special files are not allowed: /${logical}`)
    }
  }
  let rootMode = 0o755
  try {
    const real = await resolveOrNull(root, rel)
    if (real === null) throw new InvalidInputError(`${opts.what}: /${rel} does not exist`)
    const st = await stat(real)
    if (!st.isDirectory()) throw new InvalidInputError(`${opts.what}: /${rel} is not a directory`)
    rootMode = Number(st.mode & 0o777) & ~UMASK
    await visit(rel, '', 0)
  } catch (err) {
    throw ioError(`${opts.what}: cannot copy /${rel}`, err)
  }
  return { rootMode, entries }
}

/** Lists regular-file names in a directory resolved inside `root` (sorted bytewise); [] if absent. */
export async function listDirInRoot(root: string, rel: string): Promise<string[]> {
  const real = await resolveOrNull(root, rel)
  if (real === null) return []
  const st = await stat(real)
  if (!st.isDirectory()) return []
  return sortedNames(real)
}

/**
 * Copies the tree `src` to `dest` (which must not exist) as it is — symlinks as symlinks, hardlinks
 * as hardlinks, permission bits with setuid/setgid/sticky, mtimes — but without a single xattr, so
 * the copy carries only what the caller sets afterwards. Paths relative to `src` in `exclude` are
 * left out with everything below them. Special files are refused.
 */
export async function copyTreeClean(src: string, dest: string, opts: { exclude?: readonly string[]; what: string }): Promise<void> {
  const exclude = new Set(opts.exclude ?? [])
  const linked = new Map<string, string>()
  const visit = async (rel: string): Promise<void> => {
    const from = rel === '' ? src : join(src, rel)
    const to = rel === '' ? dest : join(dest, rel)
    const st = await lstat(from)
    const perm = Number(st.mode & 0o7777)
    if (st.isDirectory()) {
      await mkdir(to, { mode: 0o700 })
      for (const n of await sortedNames(from)) {
        const child = rel === '' ? n : `${rel}/${n}`
        if (!exclude.has(child)) await visit(child)
      }
      await chmod(to, perm)
      await utimes(to, st.atime, st.mtime)
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to)
      await lutimes(to, st.atime, st.mtime)
    } else if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`
      const first = st.nlink > 1 ? linked.get(inode) : undefined
      if (first !== undefined) {
        await link(first, to)
        return
      }
      await copyFile(from, to, constants.COPYFILE_EXCL)
      await chmod(to, perm)
      await utimes(to, st.atime, st.mtime)
      if (st.nlink > 1) linked.set(inode, to)
    } else {
      throw new InvalidInputError(`${opts.what}: special files are not allowed: /${rel}`)
    }
  }
  try {
    await visit('')
  } catch (err) {
    throw ioError(`${opts.what}: cannot copy the tree`, err)
  }
}
