/**
 * Safe extraction of image layers into a directory, applying OCI whiteouts across layers.
 *
 * Policy (every check is ours; no external tar):
 * - entry paths must be relative and free of `..`; NUL bytes are refused; `./` prefixes are fine;
 * - nothing is ever written through a symlink already on disk: every parent component is checked
 *   with lstat (a symlinked parent is refused), and the final component is removed and recreated
 *   with O_EXCL|O_NOFOLLOW;
 * - relative symlink targets may climb (`../`) only as leading components and never above the
 *   root; absolute symlink targets are container-rooted (they mean `<root>/…` inside the image) and
 *   are kept verbatim by default (`absoluteSymlinks: 'refuse'` rejects them). Host code reading an
 *   extracted tree must therefore not follow symlinks blindly; use `resolveInRoot`;
 * - hardlinks must name an earlier regular file inside the root (same path rules as entries);
 * - character/block devices and FIFOs are refused by default (`specialFiles: 'skip'` ignores
 *   them): an image filesystem has no business carrying device nodes, and a factory never needs them;
 * - unknown entry types (GNU sparse, volume headers, …) are refused;
 * - ownership is not applied; permission bits are kept with setuid/setgid/sticky (an extension may
 *   ship a setuid helper; the reference keeps them), so callers must keep the root of an extracted
 *   tree private (`extractImage` makes it 0700); directories get at least `u+rwx` (as Talos's own
 *   untar does); file and symlink mtimes are kept, directory mtimes are set last;
 * - whiteouts: `.wh.<name>` removes `<name>` from lower layers, `.wh..wh..opq` empties its directory
 *   of everything not written by the same layer; whiteout markers are never written.
 *
 * `extractImage` (extract-image.ts) unpacks all layers of one platform's image into a temp
 * directory beside the destination and renames it into place only when every layer was read and
 * verified.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs'
import { lstat, mkdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError, NotFoundError } from '../errors.ts'
import { decompress } from './compression.ts'
import { readTar, type TarReadEntry } from './tar-reader.ts'

/** A layer entry that would be unsafe to write (escape, device, write-through-symlink, …). */
export class UnsafeArchiveError extends InvalidInputError {}

export interface ExtractOptions {
  /** Devices and FIFOs: `refuse` (default) fails the extraction, `skip` ignores the entry. */
  specialFiles?: 'refuse' | 'skip'
  /** Absolute symlink targets: `keep` (default, container-rooted) or `refuse`. */
  absoluteSymlinks?: 'keep' | 'refuse'
  /** Apply `.wh.` whiteouts (default true). With false, markers are skipped and nothing is removed. */
  whiteouts?: boolean
}

export interface ExtractResult {
  /** Entries written (files, dirs, links), over all layers. */
  entries: number
  /** `security.selinux` labels from pax `SCHILY.xattr.security.selinux`, by relative path. */
  selinuxLabels: Map<string, string>
}

const WH_PREFIX = '.wh.'
const WH_OPAQUE = '.wh..wh..opq'

function refuse(path: string, why: string): never {
  throw new UnsafeArchiveError(`unsafe layer entry ${JSON.stringify(path)}: ${why}`)
}

/** Splits an archive path into clean components; refuses absolute paths, `..` and NUL. */
function cleanParts(raw: string, what = raw): string[] {
  if (raw.includes('\0')) refuse(what, 'NUL in path')
  if (raw.startsWith('/')) refuse(what, 'absolute path')
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) refuse(what, 'path contains ".."')
  return parts
}

export function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path)
  } catch (err) {
    if (errno(err) === 'ENOENT') return null
    throw err
  }
}

/**
 * The extractor uses synchronous fs calls: each is a few microseconds, while their async forms
 * cost a thread-pool round trip per call (about 5x slower on layers with many small files). The
 * event loop still runs between entries, whenever the layer stream is awaited.
 */
function lstatSyncOrNull(path: string): Stats | null {
  try {
    return lstatSync(path)
  } catch (err) {
    if (errno(err) === 'ENOENT') return null
    throw err
  }
}

/**
 * Checks a symlink target against the policy. `dirDepth` is the number of directories between the
 * root and the link. Returns silently when acceptable.
 */
function checkSymlinkTarget(entryPath: string, target: string, dirDepth: number, absolute: 'keep' | 'refuse'): void {
  if (target === '') refuse(entryPath, 'empty symlink target')
  if (target.includes('\0')) refuse(entryPath, 'NUL in symlink target')
  if (target.startsWith('/')) {
    if (absolute === 'refuse') refuse(entryPath, `absolute symlink target ${JSON.stringify(target)}`)
    return
  }
  let ups = 0
  let seenName = false
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      // `a/../b` could climb out through a symlinked `a`; only leading `..` are accepted.
      if (seenName) refuse(entryPath, `symlink target ${JSON.stringify(target)} climbs after descending`)
      ups++
    } else seenName = true
  }
  if (ups > dirDepth) refuse(entryPath, `symlink target ${JSON.stringify(target)} escapes the root`)
}

/** Applies layers, in order, onto one directory tree. Use `extractLayers`/`extractImage` unless you need the steps. */
export class LayerExtractor {
  private readonly safeDirs = new Set<string>([''])
  private readonly dirTimes = new Map<string, number>()
  private readonly labels = new Map<string, string>()
  private entries = 0
  private readonly specialFiles: 'refuse' | 'skip'
  private readonly absoluteSymlinks: 'keep' | 'refuse'
  private readonly whiteouts: boolean

  constructor(
    private readonly root: string,
    opts: ExtractOptions = {},
  ) {
    this.specialFiles = opts.specialFiles ?? 'refuse'
    this.absoluteSymlinks = opts.absoluteSymlinks ?? 'keep'
    this.whiteouts = opts.whiteouts ?? true
  }

  /** Applies one layer (gzip, zstd or plain tar, detected by magic bytes) on top of the tree. */
  async applyLayer(stream: ReadableStream<Uint8Array>): Promise<void> {
    const { stream: tar } = await decompress(stream)
    const layerPaths = new Set<string>()
    for await (const entry of readTar(tar)) {
      await this.applyEntry(entry, layerPaths)
    }
  }

  /** Sets directory mtimes (deferred so children do not disturb them) and returns the summary. */
  async finish(): Promise<ExtractResult> {
    for (const [rel, mtime] of this.dirTimes) {
      try {
        utimesSync(join(this.root, rel), mtime, mtime)
      } catch {
        // removed by a later layer
      }
    }
    return { entries: this.entries, selinuxLabels: new Map(this.labels) }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel)
  }

  /**
   * Makes sure every directory of `parts` exists as a real directory (never a symlink). With
   * `create` false, returns false at the first missing one instead of creating it.
   */
  private ensureDirs(parts: string[], entryPath: string, layerPaths: Set<string>, create = true): boolean {
    let rel = ''
    for (const part of parts) {
      rel = rel === '' ? part : `${rel}/${part}`
      // A directory this layer writes into is part of the layer (an opaque marker must keep it).
      layerPaths.add(rel)
      if (this.safeDirs.has(rel)) continue
      const st = lstatSyncOrNull(this.abs(rel))
      if (st === null) {
        if (!create) return false
        mkdirSync(this.abs(rel), { mode: 0o755 })
      } else if (st.isSymbolicLink()) {
        refuse(entryPath, `parent ${JSON.stringify(rel)} is a symlink`)
      } else if (!st.isDirectory()) {
        refuse(entryPath, `parent ${JSON.stringify(rel)} is not a directory`)
      }
      this.safeDirs.add(rel)
    }
    return true
  }

  /**
   * Removes whatever is at `rel` (without following links) and forgets cached state below it.
   * `existing` (when the caller already lstat'ed it) lets plain files skip the subtree scan.
   */
  private removePath(rel: string, existing?: Stats | null): void {
    if (existing && !existing.isDirectory()) {
      unlinkSync(this.abs(rel))
      this.labels.delete(rel)
      return
    }
    rmSync(this.abs(rel), { recursive: true, force: true })
    const prefix = `${rel}/`
    for (const d of this.safeDirs) if (d === rel || d.startsWith(prefix)) this.safeDirs.delete(d)
    for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.dirTimes.delete(d)
    for (const d of this.labels.keys()) if (d === rel || d.startsWith(prefix)) this.labels.delete(d)
  }

  private async applyEntry(entry: TarReadEntry, layerPaths: Set<string>): Promise<void> {
    const parts = cleanParts(entry.path)
    if (parts.length === 0) return // the root itself (`./`)
    const name = parts[parts.length - 1] ?? ''
    const parentParts = parts.slice(0, -1)
    const parentRel = parentParts.join('/')
    const rel = parts.join('/')

    if (name.startsWith(WH_PREFIX)) {
      if (!this.whiteouts) return
      // Nothing to remove under a directory that does not exist; never create one for a marker.
      if (!this.ensureDirs(parentParts, entry.path, new Set(), false)) return
      if (name === WH_OPAQUE) {
        this.opaque(parentRel, layerPaths)
      } else if (name.startsWith(`${WH_PREFIX}${WH_PREFIX}`)) {
        // other AUFS metadata (`.wh..wh.plnk`, …): not content, ignore
      } else {
        const target = name.slice(WH_PREFIX.length)
        if (target === '' || target === '.' || target === '..') refuse(entry.path, 'invalid whiteout')
        this.removePath(parentRel === '' ? target : `${parentRel}/${target}`)
      }
      return
    }

    switch (entry.type) {
      case 'directory':
      case 'file':
      case 'symlink':
      case 'hardlink':
        break
      case 'char':
      case 'block':
      case 'fifo':
        if (this.specialFiles === 'skip') return
        refuse(entry.path, `${entry.type === 'fifo' ? 'FIFO' : `${entry.type} device`} entries are not allowed`)
        break
      default:
        refuse(entry.path, `unsupported tar entry type ${JSON.stringify(entry.typeflag)}`)
    }

    this.ensureDirs(parentParts, entry.path, layerPaths)
    const target = this.abs(rel)
    const existing = lstatSyncOrNull(target)
    layerPaths.add(rel)
    this.labels.delete(rel)
    const label = entry.pax['SCHILY.xattr.security.selinux']

    if (entry.type === 'directory') {
      if (existing && !existing.isDirectory()) this.removePath(rel, existing)
      if (!existing || !existing.isDirectory()) mkdirSync(target, { mode: 0o700 })
      chmodSync(target, (entry.mode & 0o7777) | 0o700)
      this.safeDirs.add(rel)
      this.dirTimes.set(rel, entry.mtime)
    } else {
      if (entry.type === 'hardlink') {
        const srcParts = cleanParts(entry.linkname, entry.path)
        if (srcParts.length === 0) refuse(entry.path, 'hardlink to the root')
        const srcRel = srcParts.join('/')
        if (srcRel === rel) return
        const srcDirs = this.ensureDirs(srcParts.slice(0, -1), entry.path, new Set(), false)
        const src = srcDirs ? lstatSyncOrNull(this.abs(srcRel)) : null
        if (!src || !src.isFile()) refuse(entry.path, `hardlink source ${JSON.stringify(entry.linkname)} is not an extracted regular file`)
        if (existing) this.removePath(rel, existing)
        linkSync(this.abs(srcRel), target)
      } else if (entry.type === 'symlink') {
        checkSymlinkTarget(entry.path, entry.linkname, parentParts.length, this.absoluteSymlinks)
        if (existing) this.removePath(rel, existing)
        symlinkSync(entry.linkname, target)
        lutimesSync(target, entry.mtime, entry.mtime)
      } else {
        if (existing) this.removePath(rel, existing)
        await this.writeFile(target, entry)
      }
    }
    if (label !== undefined) this.labels.set(rel, label)
    this.entries++
  }

  private async writeFile(target: string, entry: TarReadEntry): Promise<void> {
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      for await (const chunk of entry.body()) {
        let off = 0
        while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off)
      }
      // after the data: as non-root, writing would clear setuid/setgid again
      fchmodSync(fd, entry.mode & 0o7777)
      futimesSync(fd, entry.mtime, entry.mtime)
    } finally {
      closeSync(fd)
    }
  }

  /** Opaque whiteout: remove everything under `dirRel` not written by the current layer. */
  private opaque(dirRel: string, layerPaths: Set<string>): void {
    const walk = (rel: string): void => {
      let names: string[]
      try {
        names = readdirSync(this.abs(rel))
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return
        throw err
      }
      for (const n of names) {
        const childRel = rel === '' ? n : `${rel}/${n}`
        const st = lstatSync(this.abs(childRel))
        if (!layerPaths.has(childRel)) this.removePath(childRel, st)
        else if (st.isDirectory()) walk(childRel)
      }
    }
    walk(dirRel)
  }
}

/** Applies layer streams in order onto `destDir` (created if missing). Not atomic; see extractImage. */
export async function extractLayers(layers: AsyncIterable<ReadableStream<Uint8Array>> | Iterable<ReadableStream<Uint8Array>>, destDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  await mkdir(destDir, { recursive: true })
  const ex = new LayerExtractor(destDir, opts)
  for await (const layer of layers) await ex.applyLayer(layer)
  return ex.finish()
}

/**
 * Resolves `relPath` inside an extracted tree the way the image sees it: symlinks (absolute ones
 * relative to `root`) are followed but can never leave `root`. Returns the host path of the final
 * non-symlink file, or throws NotFoundError. Use it instead of reading extracted paths directly.
 */
export async function resolveInRoot(root: string, relPath: string, maxLinks = 40): Promise<string> {
  const pending = relPath.split('/').filter((p) => p !== '' && p !== '.')
  const resolved: string[] = []
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift() ?? ''
    if (part === '.' || part === '') continue
    if (part === '..') {
      resolved.pop()
      continue
    }
    const candidate = join(root, ...resolved, part)
    const st = await lstatOrNull(candidate)
    if (st === null) throw new NotFoundError(`${relPath} not found in extracted image`)
    if (st.isSymbolicLink()) {
      if (++links > maxLinks) throw new NotFoundError(`${relPath}: too many symlinks`)
      const target = await readlink(candidate)
      if (target.startsWith('/')) resolved.length = 0
      pending.unshift(...target.split('/').filter((p) => p !== ''))
      continue
    }
    resolved.push(part)
  }
  return join(root, ...resolved)
}

