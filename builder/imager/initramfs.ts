/**
 * The `initramfs` output with system extensions (imager-spec §4), written front to back:
 *
 *   [uncompressed newc cpio: kernel/x86/microcode/{AuthenticAMD,GenuineIntel}.bin]   (only with microcode)
 *   [the base initramfs, byte for byte]
 *   [compressed newc cpio: 0.sqsh, 1.sqsh, …, extensions.yaml, modules.dep.sqsh, <FirmwarePath>/…]
 *
 * The first two parts are written before any squashfs is built, so a reader tailing the output
 * gets the bulk of the bytes at once. Extension processing is cached (extension-cache.ts).
 *
 * Compression of the appended cpio is the reference's: `zstd -18` (≥ 1.8) or `xz -C crc32 -0 -e`
 * (< 1.8; the kernel's xz decoder rejects CRC64). Its squashfs images are already compressed, but
 * firmware sits in it uncompressed, and a lower level costs every PXE boot and ISO far more than
 * it saves once (test/bench/initramfs-compression.ts: zstd -1 came out 39 % larger on a
 * firmware-heavy initramfs, and no faster level is safely within 2 % of -18: -17 is +1.9 %). The
 * reference runs them with `-T0`; we use a fixed
 * thread count instead, which gives the same bytes as the reference on any multi-core machine: zstd's
 * output does not depend on its worker count, and xz's multi-threaded mode (any `-T` ≥ 2) cuts
 * blocks by size, not by thread (only `-T1` would switch it to the single-threaded format).
 *
 * SELinux labels (imager-spec §4.3, §4.7): each layer keeps the `security.selinux` labels its
 * input gave — PAX records of a tar input, `--extension-labels` for a directory input, the
 * embedded config's fixed label — and nothing else (xattrs.ts). Where the work directory cannot
 * carry them, layers are built without (`stats.xattrs` = 'none', `xattrsFallback` says why).
 *
 * Reproducibility (a deliberate improvement on the reference, imager-spec §11.2): every cpio entry
 * gets mtime SOURCE_DATE_EPOCH and squashfs images are built with SOURCE_DATE_EPOCH, so the same
 * profile and inputs give byte-identical output.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { orderDepthFirst, writeNewc, type CpioEntry } from './cpio.ts'
import { ioError } from './errors.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'
import { UCODE_VENDORS, openExtension, type ExtensionSource, type PendingExtension, type ProcessingContext, type StoredExtension } from './extension-cache.ts'
import { emitExtensionsYaml, type ExtensionLayer } from './extensions-yaml.ts'
import { checkCompatibility, layerOrder, targetVersion } from './manifest.ts'
import { buildModulesDep } from './modules.ts'
import type { OutputSink } from './output.ts'
import type { ExtensionInput, ImagerProfile } from './profile.ts'
import { squashfsFlavour, type Compression } from './squashfs.ts'
import { writeEmbeddedConfigExtension } from './virtual-extensions.ts'
import { resolveXattrMode, type SelinuxLabelsSetting, type XattrMode } from './xattrs.ts'
import { readExtractionRecord } from '../../src/oci/extract-image.ts'

/** zstd level of the appended extensions cpio (the reference's). */
export const CPIO_ZSTD_LEVEL = 18
/** xz preset of the appended extensions cpio (the reference's `-0 -e`). */
export const CPIO_XZ_PRESET: readonly string[] = ['-0', '-e']
/**
 * Fixed compressor thread count (never `-T0`, which follows the machine). Must stay ≥ 2: xz
 * `-T1` writes the single-threaded format, other bytes than the reference's `-T0`.
 */
export const CPIO_THREADS = 4

export function cpioCompressor(comp: Compression): { cmd: string; args: string[] } {
  return comp === 'zstd'
    ? { cmd: 'zstd', args: ['-c', '-q', `-${CPIO_ZSTD_LEVEL}`, `-T${CPIO_THREADS}`] }
    : { cmd: 'xz', args: ['-z', '-c', '-q', '-C', 'crc32', ...CPIO_XZ_PRESET, `-T${CPIO_THREADS}`] }
}

export interface InitramfsStats {
  /** Extensions processed in this run (squashfs built). */
  extensionsBuilt: number
  /** Extensions taken from the cache. */
  extensionsReused: number
  modulesDep: 'none' | 'built' | 'reused'
  /** Layers in extensions.yaml order (image names). */
  layers: string[]
  /** Milliseconds from start until the base initramfs was fully written. */
  baseWrittenMs: number
  /** How the layers carry SELinux labels (absent without extensions). */
  xattrs?: XattrMode
  /** Why layers carry no labels although they were asked for ('auto' and a failed probe). */
  xattrsFallback?: string
}

export interface InitramfsOptions {
  readonly output: OutputSink
  readonly cacheDir: string | null
  /** Scratch directory of this run (removed by the caller). */
  readonly workDir: string
  /** Caller-supplied digests by input path (cache identity of directory inputs). */
  readonly extensionDigests?: Readonly<Record<string, string>>
  /** Extraction records (SELinux labels, src/oci/extract-image.ts) of directory inputs, by input path. */
  readonly extensionLabels?: Readonly<Record<string, string>>
  /** Whether layers carry SELinux labels (default 'auto': when the work directory can hold them). */
  readonly selinuxLabels?: SelinuxLabelsSetting
  readonly signal?: AbortSignal
}

async function labelsOf(record: string | undefined): Promise<Map<string, string> | undefined> {
  if (record === undefined) return undefined
  try {
    return await readExtractionRecord(record)
  } catch (err) {
    throw ioError(`cannot read extension labels ${record}`, err)
  }
}

function fileEntry(name: string, path: string, size: number, mode = 0o644): CpioEntry {
  return { kind: 'file', name, mode, size, data: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Uint8Array> }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
}

/** The early microcode cpio entries (concatenated per vendor, in layer order). */
function microcodeEntries(pending: readonly PendingExtension[]): CpioEntry[] {
  const files: CpioEntry[] = []
  for (const vendor of UCODE_VENDORS) {
    const parts = pending.filter((p) => p.ucode[vendor] !== null)
    if (parts.length === 0) continue
    const size = parts.reduce((n, p) => n + (p.ucode[vendor] ?? 0), 0)
    files.push({
      kind: 'file',
      name: `kernel/x86/microcode/${vendor}.bin`,
      mode: 0o644,
      size,
      data: async function* () {
        for (const p of parts) {
          for await (const c of createReadStream(join(p.dir(), 'ucode', `${vendor}.bin`))) yield c as Buffer
        }
      },
    })
  }
  if (files.length === 0) return []
  return [{ kind: 'dir', name: 'kernel', mode: 0o755 }, { kind: 'dir', name: 'kernel/x86', mode: 0o755 }, { kind: 'dir', name: 'kernel/x86/microcode', mode: 0o755 }, ...files]
}

/**
 * Firmware of all extensions merged as the reference's moves do: later extensions overwrite file
 * contents, the first creator of a path decides its mode, missing parents of <FirmwarePath> get
 * the mode of the first firmware root.
 */
function firmwareEntries(exts: readonly { dir: string; stored: StoredExtension; name: string }[], firmwareRel: string): CpioEntry[] {
  const dirs = new Map<string, number>()
  const files = new Map<string, { mode: number; size: number; src: string }>()
  for (const e of exts) {
    const fw = e.stored.firmware
    if (fw === null) continue
    const parts = firmwareRel.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/')
      if (files.has(d)) throw new InvalidInputError(`system extension ${JSON.stringify(e.name)}: firmware path ${d} clashes with a file`)
      if (!dirs.has(d)) dirs.set(d, fw.rootMode)
    }
    for (const entry of fw.entries) {
      const name = `${firmwareRel}/${entry.path}`
      if (entry.kind === 'dir') {
        if (files.has(name)) throw new InvalidInputError(`system extension ${JSON.stringify(e.name)}: firmware directory ${name} clashes with a file`)
        if (!dirs.has(name)) dirs.set(name, entry.mode)
      } else {
        if (dirs.has(name)) throw new InvalidInputError(`system extension ${JSON.stringify(e.name)}: firmware file ${name} clashes with a directory`)
        const prev = files.get(name)
        files.set(name, { mode: prev?.mode ?? entry.mode, size: entry.size, src: join(e.dir, 'firmware', entry.path) })
      }
    }
  }
  return [
    ...[...dirs].map(([name, mode]): CpioEntry => ({ kind: 'dir', name, mode })),
    ...[...files].map(([name, f]) => fileEntry(name, f.src, f.size, f.mode)),
  ]
}

/**
 * How messages name a system extension before its manifest is read: its position in the profile
 * and, when the caller gave it, its image reference (`0 (ghcr.io/siderolabs/gvisor:…)`). Never its
 * tarballPath: that is a path on the builder host. Once the manifest is loaded, messages use the
 * manifest's name.
 */
export function extensionLabel(index: number, e: ExtensionInput): string {
  return e.imageRef ? `${index} (${e.imageRef})` : String(index)
}

/** Builds the initramfs for `profile` into `opts.output`. */
export async function buildInitramfs(profile: ImagerProfile, opts: InitramfsOptions): Promise<InitramfsStats> {
  const started = performance.now()
  const q = new Quirks(profile.version)
  const comp = q.compression()
  const stats: InitramfsStats = { extensionsBuilt: 0, extensionsReused: 0, modulesDep: 'none', layers: [], baseWrittenMs: 0 }

  const sources: ExtensionSource[] = []
  for (const [j, e] of profile.input.systemExtensions.entries()) {
    const digest = e.digest ?? opts.extensionDigests?.[e.tarballPath]
    const labels = await labelsOf(opts.extensionLabels?.[e.tarballPath])
    // messages reach clients (400): name the input by position and image, never by host path
    sources.push({ index: j, label: extensionLabel(j, e), path: e.tarballPath, cacheable: true, ...(digest !== undefined ? { digest } : {}), ...(labels ? { labels } : {}) })
  }
  if (profile.customization.embeddedMachineConfiguration !== '') {
    const dir = join(opts.workDir, 'virtual', 'embedded-config')
    const labels = await writeEmbeddedConfigExtension(dir, profile.customization.embeddedMachineConfiguration)
    const index = sources.length
    sources.push({
      index,
      label: `${index} (embedded-config)`,
      path: dir,
      // the machine configuration carries secrets: never keep it in the shared cache
      cacheable: false,
      labels: new Map([...labels].map(([p, l]) => [`rootfs/${p}`, l])),
      scratch: true,
    })
  }

  if (sources.length === 0) {
    // no system extensions: the base initramfs as is
    await opts.output.appendFile(profile.input.initramfs)
    stats.baseWrittenMs = Math.round(performance.now() - started)
    return stats
  }

  const target = targetVersion(profile.version)
  const xattrs = await resolveXattrMode(opts.selinuxLabels ?? 'auto', (await squashfsFlavour()).pseudoXattrs, opts.workDir)
  stats.xattrs = xattrs.mode
  if (xattrs.fallback !== undefined) stats.xattrsFallback = xattrs.fallback
  const ctx: ProcessingContext = {
    cacheDir: opts.cacheDir,
    workDir: opts.workDir,
    comp,
    firmwareRel: q.firmwarePath().replace(/^\//, ''),
    modulesRel: q.kernelModulesPath().replace(/^\//, ''),
    xattrs: xattrs.mode,
    ...(opts.signal ? { signal: opts.signal } : {}),
  }

  // Stage 1, in layer order: cache lookups, extraction, manifests, microcode
  const pending: PendingExtension[] = []
  try {
    for (const idx of layerOrder(sources.length)) {
      opts.signal?.throwIfAborted()
      pending.push(await openExtension(sources[idx]!, ctx))
    }
    for (const p of pending) checkCompatibility(p.metadata, target)

    // Early microcode cpio, then the base initramfs (hashed on the way for the modules.dep key)
    const early = microcodeEntries(pending)
    if (early.length > 0) await opts.output.writeAll(writeNewc(early, { mtime: SOURCE_DATE_EPOCH }))
    const baseHash = createHash('sha256')
    await opts.output.appendFile(profile.input.initramfs, (c) => baseHash.update(c))
    const baseSha256 = baseHash.digest('hex')
    stats.baseWrittenMs = Math.round(performance.now() - started)

    // Stage 2: squashfs images (built or reused)
    const done: { pending: PendingExtension; stored: StoredExtension }[] = []
    for (const p of pending) {
      opts.signal?.throwIfAborted()
      done.push({ pending: p, stored: await p.finish() })
      if (p.reused) stats.extensionsReused++
      else stats.extensionsBuilt++
    }

    const layers: (ExtensionLayer & { file: string })[] = done.map(({ pending: p, stored }) => ({
      image: `${p.source.index}.sqsh`,
      metadata: stored.metadata,
      file: join(p.dir(), 'image.sqsh'),
    }))

    const providers = done.filter((d) => d.stored.modules)
    if (providers.length > 0) {
      const md = await buildModulesDep({
        baseInitramfs: profile.input.initramfs,
        baseSha256,
        providers: providers.map((d) => ({ dir: d.pending.dir(), key: d.pending.key, name: d.stored.metadata.name })),
        cacheDir: opts.cacheDir,
        workDir: opts.workDir,
        comp,
        modulesRel: ctx.modulesRel,
        xattrs: ctx.xattrs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
      stats.modulesDep = md.reused ? 'reused' : 'built'
      layers.push({ image: 'modules.dep.sqsh', metadata: md.metadata, file: md.sqsh })
    }
    stats.layers = layers.map((l) => l.image)

    // The appended, compressed cpio
    const yamlBytes = new TextEncoder().encode(emitExtensionsYaml(layers))
    const entries: CpioEntry[] = [
      ...(await Promise.all(layers.map(async (l) => fileEntry(l.image, l.file, await sizeOf(l.file))))),
      { kind: 'file', name: 'extensions.yaml', mode: 0o644, size: yamlBytes.byteLength, data: () => [yamlBytes] },
      ...firmwareEntries(
        done.map((d) => ({ dir: d.pending.dir(), stored: d.stored, name: d.stored.metadata.name })),
        ctx.firmwareRel,
      ),
    ]
    const { cmd, args } = cpioCompressor(comp)
    await opts.output.pipeThrough(cmd, args, writeNewc(orderDepthFirst(entries), { mtime: SOURCE_DATE_EPOCH }), opts.signal)
    return stats
  } catch (err) {
    await Promise.all(pending.map((p) => p.discard()))
    throw err
  }
}
