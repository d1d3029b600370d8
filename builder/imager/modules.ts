/**
 * The generated `modules.dep` layer (imager-spec §4.5, talos `kernel_modules.go`): when any
 * extension ships kernel modules, the base rootfs's module tree is taken from `rootfs.sqsh` inside
 * the base initramfs, every extension's `<KernelModulesPath>/<kver>/` is copied over it, `depmod`
 * runs with `search extras built-in`, and the resulting `modules.*` files become an extra
 * extension appended as the last layer.
 *
 * The result is cached in `<cache>/modules-dep/<key>/` keyed by the base initramfs's SHA-256 (taken
 * while it is streamed to the output), the cache keys of the module-providing extensions in layer
 * order, and the squashfs recipe.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { readNewc } from './cpio.ts'
import { ImagerToolError, ioError, isErrno } from './errors.ts'
import { runTool, toolOutput } from './exec.ts'
import type { ExtensionMetadata } from './manifest.ts'
import { SQUASHFS_XZ_DICT, SQUASHFS_ZSTD_LEVEL, mksquashfs, unsquashfsPath, type Compression } from './squashfs.ts'
import type { XattrMode } from './xattrs.ts'

export const MODULES_DEP_CACHE_FORMAT = 1

/** hack/extra-modules.conf of the reference imager image. */
export const DEPMOD_CONFIG = 'search extras built-in\n'

export const ROOTFS_ASSET = 'rootfs.sqsh'

export interface ModulesProvider {
  /** Directory holding the extension's `modules/` copy of <KernelModulesPath>. */
  readonly dir: string
  /** Cache key of the extension (null when it was not cached). */
  readonly key: string | null
  readonly name: string
}

export interface ModulesDepResult {
  readonly sqsh: string
  readonly kver: string
  readonly reused: boolean
  readonly metadata: ExtensionMetadata
}

/** The modules.dep extension's metadata (no compatibility constraint). */
export function modulesDepMetadata(kver: string): ExtensionMetadata {
  return {
    name: 'modules.dep',
    version: kver,
    author: 'Talos Machinery',
    description: 'Combined modules.dep for all extensions',
    compatibility: { talos: { version: '' } },
  }
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield c as Buffer
}

/** The decompressed bytes of an initramfs archive: xz (`FD 37 7A 58`), raw newc, else zstd. */
export async function* decompressedInitramfs(path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const magic = new Uint8Array(6)
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw ioError(`cannot read initramfs ${path}`, err)
  })
  try {
    await fh.read(magic, 0, 6, 0)
  } finally {
    await fh.close()
  }
  if (magic[0] === 0xfd && magic[1] === 0x37 && magic[2] === 0x7a && magic[3] === 0x58) yield* toolOutput('xz', ['-dc', '--', path], { signal })
  else if (new TextDecoder().decode(magic) === '070701') yield* fileChunks(path)
  else yield* toolOutput('zstd', ['-dcq', '--', path], { signal })
}

/** Extracts the first entry named `name` (ignoring a `./` prefix) from an initramfs into `dest`. */
export async function extractFromInitramfs(initramfs: string, name: string, dest: string, signal?: AbortSignal): Promise<void> {
  for await (const entry of readNewc(decompressedInitramfs(initramfs, signal))) {
    if (entry.name.replace(/^\.\//, '') !== name) continue
    const out = await open(dest, 'w', 0o644)
    try {
      for await (const chunk of entry.body()) {
        let off = 0
        while (off < chunk.byteLength) off += (await out.write(chunk, off, chunk.byteLength - off)).bytesWritten
      }
    } finally {
      await out.close()
    }
    return
  }
  throw new InvalidInputError(`base initramfs has no ${name}`)
}

/** Recursive copy (no symlinks expected: extension module trees are stored dereferenced). */
async function copyOver(src: string, dst: string): Promise<void> {
  const st = await lstat(src)
  if (st.isDirectory()) {
    await mkdir(dst, { recursive: true })
    for (const n of await readdir(src)) await copyOver(join(src, n), join(dst, n))
  } else if (st.isFile()) {
    await rm(dst, { force: true })
    await copyFile(src, dst)
    await chmod(dst, Number(st.mode & 0o777))
  }
}

interface Stored {
  readonly format: number
  readonly kver: string
}

async function readStored(dir: string): Promise<Stored | null> {
  try {
    const s = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Stored
    if (s.format !== MODULES_DEP_CACHE_FORMAT || typeof s.kver !== 'string') return null
    await stat(join(dir, 'image.sqsh'))
    return s
  } catch {
    return null
  }
}

export interface ModulesDepOptions {
  readonly baseInitramfs: string
  /** SHA-256 of the base initramfs bytes. */
  readonly baseSha256: string
  readonly providers: readonly ModulesProvider[]
  readonly cacheDir: string | null
  readonly workDir: string
  readonly comp: Compression
  readonly modulesRel: string
  /** The run's label mode; this layer has no labels, but the mode changes the squashfs bytes. */
  readonly xattrs: XattrMode
  readonly signal?: AbortSignal
}

/** Builds (or reuses) the modules.dep layer. */
export async function buildModulesDep(opts: ModulesDepOptions): Promise<ModulesDepResult> {
  const cacheable = opts.cacheDir !== null && opts.providers.every((p) => p.key !== null)
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        format: MODULES_DEP_CACHE_FORMAT,
        base: opts.baseSha256,
        providers: opts.providers.map((p) => p.key),
        comp: opts.comp,
        level: opts.comp === 'zstd' ? SQUASHFS_ZSTD_LEVEL : SQUASHFS_XZ_DICT,
        modules: opts.modulesRel,
        xattrs: opts.xattrs,
      }),
    )
    .digest('hex')
  const final = cacheable && opts.cacheDir !== null ? join(opts.cacheDir, 'modules-dep', key) : null
  if (final !== null) {
    const stored = await readStored(final)
    if (stored !== null) return { sqsh: join(final, 'image.sqsh'), kver: stored.kver, reused: true, metadata: modulesDepMetadata(stored.kver) }
  }

  const work = join(opts.workDir, 'modules-dep')
  await mkdir(work, { recursive: true })
  const rootfsSqsh = join(work, ROOTFS_ASSET)
  await extractFromInitramfs(opts.baseInitramfs, ROOTFS_ASSET, rootfsSqsh, opts.signal)

  const tree = join(work, 'tree')
  await unsquashfsPath(rootfsSqsh, tree, `/${opts.modulesRel}`, opts.signal)
  await rm(rootfsSqsh, { force: true })
  const modulesDir = join(tree, opts.modulesRel)
  let kvers: string[]
  try {
    kvers = await readdir(modulesDir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new InvalidInputError(`base rootfs has no /${opts.modulesRel}`)
    throw ioError('cannot read base kernel modules', err)
  }
  const kver = kvers[0]
  if (kvers.length !== 1 || kver === undefined || !(await stat(join(modulesDir, kver))).isDirectory()) {
    throw new InvalidInputError(`invalid kernel modules path: /${opts.modulesRel} must hold exactly one kernel version`)
  }

  for (const p of opts.providers) {
    const src = join(p.dir, 'modules', kver)
    const st = await stat(src).catch(() => null)
    if (st === null || !st.isDirectory()) throw new InvalidInputError(`copying kernel modules from ${JSON.stringify(p.name)} failed: no modules for kernel ${kver}`)
    await copyOver(src, join(modulesDir, kver))
  }

  const conf = join(work, 'extra-modules.conf')
  await writeFile(conf, DEPMOD_CONFIG)
  const basedir = modulesDir.endsWith('/lib/modules') ? modulesDir.slice(0, -'/lib/modules'.length) : modulesDir
  try {
    await runTool('depmod', ['--all', '--basedir', basedir, '--config', conf, kver], { signal: opts.signal })
  } catch (err) {
    if (err instanceof ImagerToolError) throw new ImagerToolError(`error running depmod: ${err.message}`)
    throw err
  }

  // the layer: <modulesRel>/<kver>/modules.* (regular files only)
  const stage = join(work, 'layer')
  const layerDir = join(stage, opts.modulesRel, kver)
  await mkdir(layerDir, { recursive: true, mode: 0o755 })
  for (const n of (await readdir(join(modulesDir, kver))).sort()) {
    if (!n.startsWith('modules.')) continue
    const src = join(modulesDir, kver, n)
    const st = await lstat(src)
    if (!st.isFile()) continue
    await rename(src, join(layerDir, n))
    await chmod(join(layerDir, n), Number(st.mode & 0o777) & ~0o022)
  }
  await rm(tree, { recursive: true, force: true })

  const tmp = final !== null ? `${join(opts.cacheDir ?? '', 'modules-dep')}/.tmp-${key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}` : join(work, 'out')
  await mkdir(tmp, { recursive: true })
  try {
    await mksquashfs(stage, join(tmp, 'image.sqsh'), { comp: opts.comp, xattrs: opts.xattrs, signal: opts.signal })
    await writeFile(join(tmp, 'meta.json'), JSON.stringify({ format: MODULES_DEP_CACHE_FORMAT, kver } satisfies Stored))
    if (final === null) return { sqsh: join(tmp, 'image.sqsh'), kver, reused: false, metadata: modulesDepMetadata(kver) }
    try {
      await rename(tmp, final)
    } catch (err) {
      if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw ioError(`cannot publish cache entry ${final}`, err)
      await rm(tmp, { recursive: true, force: true })
    }
    return { sqsh: join(final, 'image.sqsh'), kver, reused: false, metadata: modulesDepMetadata(kver) }
  } catch (err) {
    if (final !== null) await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    throw err
  }
}
