/**
 * Per-extension processing (imager-spec §4.3), done once per extension content and reused.
 *
 * For each input extension the reference extracts the image, moves CPU microcode into the early
 * initramfs, moves `<FirmwarePath>` into the initramfs, and builds a squashfs of the rest. We do
 * the same but keep the results in a cache entry `<cache>/extensions/<key>/`:
 *
 *   meta.json          manifest metadata, microcode/firmware/modules facts (written last)
 *   image.sqsh         the layer (rootfs without <FirmwarePath>)
 *   ucode/{GenuineIntel,AuthenticAMD}.bin   this extension's microcode, concatenated
 *   firmware/…         <FirmwarePath> contents (symlinks resolved, microcode removed)
 *   modules/…          <KernelModulesPath> contents (for the modules.dep layer)
 *
 * Entries are built in a temp directory beside the cache and renamed into place, so a reader sees
 * a complete entry or none; two builders racing on the same key both succeed (the loser discards
 * its copy). The key is a SHA-256 over the processing recipe (cache format, squashfs compression,
 * how labels are stored (xattrs.ts), firmware/modules paths of the target version) and the input's
 * identity:
 *
 *   - tar input: SHA-256 of the tar bytes (its PAX records carry the SELinux labels);
 *   - directory input with a caller digest (`digest` in the profile or `--extension-digests`): that
 *     digest plus the SHA-256 of its manifest.yaml (the tree itself is not walked);
 *   - directory input otherwise: a fingerprint of the tree (paths, types, modes, symlink targets,
 *     contents of files ≤ 1 MiB, size+mtime of larger files — see fs-tree.ts);
 *   - plus, for directory inputs, the SELinux labels given with them (`--extension-labels`).
 *
 * SELinux labels reach the squashfs as xattrs.ts describes; in 'staged' mode a directory input
 * (which is never modified) is first copied without xattrs, while trees this run created itself
 * (tar extractions, virtual extensions) are labelled in place.
 *
 * Processing is split in two stages so the early microcode cpio and the base initramfs can be
 * written to the output before any squashfs is built: `openExtension` (cache lookup, extraction,
 * manifest, microcode) and `PendingExtension.finish` (firmware, modules, squashfs, publish).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { extractLayers } from '../../src/oci/extract.ts'
import { ImagerIOError, ioError, isErrno } from './errors.ts'
import { copyTreeClean, copyTreeDereferenced, fingerprintTree, listDirInRoot, resolveOrNull, sha256File, type CopiedEntry } from './fs-tree.ts'
import { loadExtensionDir, type ExtensionMetadata } from './manifest.ts'
import { SQUASHFS_XZ_DICT, SQUASHFS_ZSTD_LEVEL, mksquashfs, type Compression } from './squashfs.ts'
import { applySelinuxLabels, type XattrMode } from './xattrs.ts'

/** Bump when the layout or meaning of a cache entry changes (2: setuid/setgid/sticky bits kept). */
export const EXTENSION_CACHE_FORMAT = 2

export type UcodeVendor = 'AuthenticAMD' | 'GenuineIntel'
export const UCODE_VENDORS: readonly UcodeVendor[] = ['AuthenticAMD', 'GenuineIntel']

/** Microcode globs below <FirmwarePath> (talos `earlyCPUUcode`). */
const UCODE_SOURCES: Readonly<Record<UcodeVendor, { dir: string; match: (name: string) => boolean }>> = {
  GenuineIntel: { dir: 'intel-ucode', match: () => true },
  AuthenticAMD: { dir: 'amd-ucode', match: (n) => n.startsWith('microcode_amd') && n.endsWith('.bin') && n.length >= 'microcode_amd.bin'.length },
}

/** What `meta.json` records. */
export interface StoredExtension {
  readonly format: number
  readonly metadata: ExtensionMetadata
  /** Size of `ucode/<vendor>.bin`, or null when the extension has no microcode of that vendor. */
  readonly ucode: Readonly<Record<UcodeVendor, number | null>>
  /** `firmware/` tree, or null when the extension has no <FirmwarePath>. */
  readonly firmware: { readonly rootMode: number; readonly entries: readonly CopiedEntry[] } | null
  /** True when the extension ships <KernelModulesPath> (copied to `modules/`). */
  readonly modules: boolean
}

export interface ProcessingContext {
  /** Cache root, or null to build into the work dir and discard. */
  readonly cacheDir: string | null
  /** Scratch directory of this run. */
  readonly workDir: string
  readonly comp: Compression
  /** `usr/lib/firmware` or `lib/firmware` (no leading slash) */
  readonly firmwareRel: string
  /** `usr/lib/modules` or `lib/modules` */
  readonly modulesRel: string
  /** How layers carry SELinux labels (resolved once per run, xattrs.ts). */
  readonly xattrs: XattrMode
  readonly signal?: AbortSignal
}

export interface ExtensionSource {
  /** Position in the input list (names the layer: `<index>.sqsh`). */
  readonly index: number
  /** For messages. */
  readonly label: string
  readonly path: string
  /** Caller-supplied content digest (directory inputs). */
  readonly digest?: string
  /** False for inputs that must not be cached (e.g. the embedded machine config). */
  readonly cacheable: boolean
  /** SELinux labels by path relative to the extension root (e.g. `rootfs/usr/…`), for directory inputs. */
  readonly labels?: ReadonlyMap<string, string>
  /** True for a directory this run wrote into its work dir (a virtual extension): labelled in place. */
  readonly scratch?: boolean
}

export interface PendingExtension {
  readonly source: ExtensionSource
  readonly metadata: ExtensionMetadata
  /** True when the processed form came from the cache. */
  readonly reused: boolean
  /** Microcode sizes (known after stage 1). */
  readonly ucode: Readonly<Record<UcodeVendor, number | null>>
  /** Directory holding `ucode/` now and, after finish(), everything else. */
  dir(): string
  /** Stage 2: firmware, modules, squashfs, publish. Returns the stored facts. */
  finish(): Promise<StoredExtension>
  /** Drops the work of a pending build (when the run fails before finish()). */
  discard(): Promise<void>
  /** Cache key (null when not cached). */
  readonly key: string | null
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function recipe(ctx: ProcessingContext): Record<string, unknown> {
  return {
    format: EXTENSION_CACHE_FORMAT,
    comp: ctx.comp,
    level: ctx.comp === 'zstd' ? SQUASHFS_ZSTD_LEVEL : SQUASHFS_XZ_DICT,
    firmware: ctx.firmwareRel,
    modules: ctx.modulesRel,
    xattrs: ctx.xattrs,
  }
}

/** Identity of the labels given with a directory input (none: absent from the key, as before). */
function labelsIdentity(labels: ReadonlyMap<string, string> | undefined): { labels?: string } {
  if (labels === undefined || labels.size === 0) return {}
  return { labels: sha256(JSON.stringify([...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))) }
}

async function readStored(dir: string): Promise<StoredExtension | null> {
  let text: string
  try {
    text = await readFile(join(dir, 'meta.json'), 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null
    throw ioError(`cannot read cache entry ${dir}`, err)
  }
  try {
    const parsed = JSON.parse(text) as StoredExtension
    if (parsed.format !== EXTENSION_CACHE_FORMAT || typeof parsed.metadata?.name !== 'string') return null
    await stat(join(dir, 'image.sqsh'))
    return parsed
  } catch {
    return null
  }
}

/** Publishes `tmp` as `final` (atomic rename); if another builder got there first, keeps theirs. */
async function publish(tmp: string, final: string): Promise<StoredExtension> {
  try {
    await rename(tmp, final)
  } catch (err) {
    if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw ioError(`cannot publish cache entry ${final}`, err)
    await rm(tmp, { recursive: true, force: true })
  }
  const stored = await readStored(final)
  // an internal cache fault, not the client's input (and the path stays in the builder's log)
  if (stored === null) throw new ImagerIOError(`cannot publish cache entry ${final}: it is incomplete`)
  return stored
}

async function isDirectory(path: string, label: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch (err) {
    throw ioError(`system extension ${label}`, err)
  }
}

/** Concatenates microcode files into `<dir>/ucode/<vendor>.bin`; returns sizes and consumed paths. */
async function extractUcode(rootfs: string, firmwareRel: string, outDir: string): Promise<{ sizes: Record<UcodeVendor, number | null>; consumed: Set<string> }> {
  const sizes: Record<UcodeVendor, number | null> = { AuthenticAMD: null, GenuineIntel: null }
  const consumed = new Set<string>()
  for (const vendor of UCODE_VENDORS) {
    const src = UCODE_SOURCES[vendor]
    const rel = `${firmwareRel}/${src.dir}`
    const names = (await listDirInRoot(rootfs, rel)).filter(src.match)
    if (names.length === 0) continue
    await mkdir(join(outDir, 'ucode'), { recursive: true })
    const out = await open(join(outDir, 'ucode', `${vendor}.bin`), 'w', 0o644)
    let size = 0
    try {
      for (const n of names) {
        const real = await resolveOrNull(rootfs, `${rel}/${n}`)
        if (real === null) throw new InvalidInputError(`microcode /${rel}/${n} is a dangling symlink`)
        for await (const chunk of createReadStream(real)) {
          const b = chunk as Buffer
          let off = 0
          while (off < b.byteLength) off += (await out.write(b, off, b.byteLength - off)).bytesWritten
          size += b.byteLength
        }
        consumed.add(`${rel}/${n}`)
      }
    } catch (err) {
      throw ioError(`cannot read microcode in ${rel}`, err)
    } finally {
      await out.close()
    }
    sizes[vendor] = size
  }
  return { sizes, consumed }
}

/**
 * Stage 1: find the extension's processed form in the cache, or prepare to build it (extract a
 * tar input, load and check the manifest, pull out microcode).
 */
export async function openExtension(source: ExtensionSource, ctx: ProcessingContext): Promise<PendingExtension> {
  const isDir = await isDirectory(source.path, source.label)
  let key: string | null = null
  if (source.cacheable && ctx.cacheDir !== null) {
    const identity = isDir
      ? source.digest !== undefined
        ? { dir: 'digest', digest: source.digest, manifest: await sha256File(join(source.path, 'manifest.yaml')).catch(() => ''), ...labelsIdentity(source.labels) }
        : { dir: 'tree', fingerprint: await fingerprintTree(source.path), ...labelsIdentity(source.labels) }
      : { tar: await sha256File(source.path) }
    key = sha256(JSON.stringify({ recipe: recipe(ctx), identity }))
    const final = join(ctx.cacheDir, 'extensions', key)
    const stored = await readStored(final)
    if (stored !== null) {
      return {
        source,
        key,
        metadata: stored.metadata,
        reused: true,
        ucode: stored.ucode,
        dir: () => final,
        finish: () => Promise.resolve(stored),
        discard: () => Promise.resolve(),
      }
    }
  }

  // Build: the extension root (a directory input is used in place and never modified)
  let root = source.path
  let labels = new Map<string, string>(source.labels ?? [])
  if (!isDir) {
    root = join(ctx.workDir, 'extracted', String(source.index))
    try {
      const stream = Bun.file(source.path).stream()
      const res = await extractLayers([stream], root, { whiteouts: false, specialFiles: 'refuse' })
      labels = res.selinuxLabels
    } catch (err) {
      if (err instanceof InvalidInputError) throw new InvalidInputError(`system extension ${source.label}: ${err.message}`)
      throw ioError(`cannot extract system extension ${source.label}`, err)
    }
  }
  const manifest = await loadExtensionDir(root, source.label)
  const rootfs = join(root, 'rootfs')

  const tmp =
    key !== null && ctx.cacheDir !== null
      ? join(ctx.cacheDir, 'extensions', `.tmp-${key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`)
      : join(ctx.workDir, 'processed', String(source.index))
  let current = tmp
  try {
    await mkdir(tmp, { recursive: true })
  } catch (err) {
    throw ioError('cannot create cache entry', err)
  }
  let ucode: { sizes: Record<UcodeVendor, number | null>; consumed: Set<string> }
  try {
    ucode = await extractUcode(rootfs, ctx.firmwareRel, tmp)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }

  const finish = async (): Promise<StoredExtension> => {
    try {
      const what = `system extension ${JSON.stringify(manifest.metadata.name)}`
      const realFirmware = await resolveOrNull(rootfs, ctx.firmwareRel)
      const hasFirmware = realFirmware !== null
      // the firmware leaves the squashfs (the reference moves it); exclude it by the path given and,
      // when a parent is a symlink (e.g. lib -> usr/lib), by the path it resolves to
      const exclude = realFirmware === null ? [] : [...new Set([ctx.firmwareRel, relative(rootfs, realFirmware)])].filter((p) => p !== '' && !p.startsWith('..'))
      const firmware = hasFirmware ? await copyTreeDereferenced(rootfs, ctx.firmwareRel, join(tmp, 'firmware'), { skip: ucode.consumed, what }) : null
      const hasModules = (await resolveOrNull(rootfs, ctx.modulesRel)) !== null
      if (hasModules) await copyTreeDereferenced(rootfs, ctx.modulesRel, join(tmp, 'modules'), { what })

      // labels are recorded relative to the extension root; mksquashfs wants them relative to rootfs/
      const sqLabels = new Map<string, string>()
      for (const [p, l] of labels) {
        const rel = p === 'rootfs' ? '' : p.startsWith('rootfs/') ? p.slice('rootfs/'.length) : null
        if (rel !== null && !exclude.some((e) => rel === e || rel.startsWith(`${e}/`))) sqLabels.set(rel, l)
      }
      let sqSource = rootfs
      if (ctx.xattrs === 'staged') {
        // the tree must carry exactly the labels: copy a directory input without its xattrs
        // (the firmware left out), label trees of this run in place
        if (isDir && source.scratch !== true) {
          sqSource = join(ctx.workDir, 'staged', String(source.index))
          await mkdir(join(ctx.workDir, 'staged'), { recursive: true })
          await copyTreeClean(rootfs, sqSource, { exclude, what })
        }
        await applySelinuxLabels(sqSource, sqLabels, ctx.signal)
      }
      try {
        await mksquashfs(sqSource, join(tmp, 'image.sqsh'), {
          comp: ctx.comp,
          xattrs: ctx.xattrs,
          labels: sqLabels,
          exclude: sqSource === rootfs ? exclude : [],
          signal: ctx.signal,
        })
      } finally {
        if (sqSource !== rootfs) await rm(sqSource, { recursive: true, force: true }).catch(() => undefined)
      }
      const stored: StoredExtension = { format: EXTENSION_CACHE_FORMAT, metadata: manifest.metadata, ucode: ucode.sizes, firmware, modules: hasModules }
      await writeFile(join(tmp, 'meta.json'), JSON.stringify(stored))
      if (key !== null && ctx.cacheDir !== null) {
        const final = join(ctx.cacheDir, 'extensions', key)
        const published = await publish(tmp, final)
        current = final
        return published
      }
      return stored
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
      throw err
    } finally {
      if (!isDir) await rm(root, { recursive: true, force: true }).catch(() => undefined)
    }
  }

  return {
    source,
    key,
    metadata: manifest.metadata,
    reused: false,
    ucode: ucode.sizes,
    dir: () => current,
    finish,
    discard: async () => {
      if (current === tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
      if (!isDir) await rm(root, { recursive: true, force: true }).catch(() => undefined)
    },
  }
}

/** Age after which a temp entry left by a crashed run is removed. */
export const STALE_TEMP_MS = 6 * 3600 * 1000

/** Removes temp entries (`.tmp-*`) older than `maxAgeMs` that crashed runs left in the cache. Never throws. */
export async function sweepStaleTemps(cacheDir: string, maxAgeMs = STALE_TEMP_MS): Promise<void> {
  const now = Date.now()
  for (const sub of ['extensions', 'modules-dep']) {
    const dir = join(cacheDir, sub)
    const names = await readdir(dir).catch(() => [] as string[])
    for (const n of names) {
      if (!n.startsWith('.tmp-')) continue
      const st = await stat(join(dir, n)).catch(() => null)
      if (st !== null && now - st.mtimeMs > maxAgeMs) await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined)
    }
  }
}
