/**
 * The native imager: turns a Talos imager profile (imager-spec §2.1) into one boot asset.
 *
 *   await runImager(profileYamlOrParsed, { output: '/path/asset', cacheDir, workDir, signal })
 *
 * Output kinds built today: `kernel` (the kernel bytes), `cmdline` (the kernel command line, no
 * trailing newline), `initramfs` (base initramfs + system extensions, initramfs.ts), `uki`
 * (uki.ts, signed for Secure Boot), `iso` (iso.ts), `installer` (a `docker save` tarball of
 * the installer image, installer.ts) and `image` (disk images in every disk and output format,
 * disk.ts). Other kinds throw ImagerUnsupportedError; parts.ts has the building blocks
 * (initramfs, UKI, systemd-boot, enrolment files) they share. The asset is written progressively to `output` (front to back,
 * visible to a reader tailing the file); on failure the partial file is left for the caller to
 * discard. `bun builder/imager/cli.ts` is the same thing as a command (profile on stdin).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCmdline } from '../../src/talos/cmdline.ts'
import { ImagerAbortedError, ImagerUnsupportedError, ioError } from './errors.ts'
import { sweepStaleTemps } from './extension-cache.ts'
import { buildDiskImage } from './disk.ts'
import { buildInitramfs, type InitramfsStats } from './initramfs.ts'
import { buildInstaller } from './installer.ts'
import { OutputSink } from './output.ts'
import { prepareOverlay, type PreparedOverlay } from './overlay.ts'
import { initramfsOptions, writeUkiTo } from './parts.ts'
import { buildIso } from './iso.ts'
import { parseProfile, type ImagerProfile, type OutputKind } from './profile.ts'
import type { SelinuxLabelsSetting } from './xattrs.ts'

export { parseProfile, type ImagerProfile } from './profile.ts'
export { writeEmbeddedConfigExtension, writeSchematicExtension } from './virtual-extensions.ts'

/**
 * What an output builder gets: the checked profile, the output file (written front to back), the
 * command line and this run's scratch space. One builder per output kind, one file per family.
 */
export interface BuildContext {
  readonly output: OutputSink
  /** The kernel command line of the profile (imager-spec §3), computed once. */
  readonly cmdline: string
  readonly cacheDir: string | null
  /** Scratch directory of this run (removed afterwards). */
  readonly workDir: string
  readonly extensionDigests?: Readonly<Record<string, string>>
  /** GRUB module roots (`<dir>/<platform>/`) to use before the host's /usr/lib/grub */
  readonly grubDirs?: readonly string[]
  readonly extensionLabels?: Readonly<Record<string, string>>
  readonly selinuxLabels?: SelinuxLabelsSetting
  /** see RunImagerOptions.wellKnownCertsDir */
  readonly wellKnownCertsDir?: string
  readonly signal?: AbortSignal
  /** The profile's overlay with its `get-options` answer, when it has one (overlay.ts). */
  readonly overlay?: PreparedOverlay | null
}

/** Builds one output kind into `ctx.output`; may return statistics for the result. */
export type KindBuilder = (profile: ImagerProfile, ctx: BuildContext) => Promise<Partial<Pick<ImagerResult, 'initramfs'>> | void>

const BUILDERS: Partial<Record<OutputKind, KindBuilder>> = {
  kernel: async (p, ctx) => {
    await ctx.output.appendFile(p.input.kernel)
  },
  cmdline: async (_p, ctx) => {
    await ctx.output.write(new TextEncoder().encode(ctx.cmdline))
  },
  iso: async (p, ctx) => {
    await buildIso(p, ctx)
  },
  uki: async (p, ctx) => {
    // the UKI output kind carries no extra profile (imager-spec §5.1)
    await writeUkiTo(p, ctx, ctx.output, { extraProfiles: [] })
  },
  initramfs: async (p, ctx) => ({ initramfs: await buildInitramfs(p, initramfsOptions(ctx, ctx.output)) }),
  installer: async (p, ctx) => {
    await buildInstaller(p, ctx)
  },
  image: async (p, ctx) => {
    await buildDiskImage(p, ctx)
  },
}

/** Output kinds the native imager builds. */
export const NATIVE_KINDS: ReadonlySet<OutputKind> = new Set(Object.keys(BUILDERS) as OutputKind[])

export interface RunImagerOptions {
  /** File to write the asset to (created/truncated). */
  readonly output: string
  /** Cache for processed extensions, shared across runs; without it nothing is reused. */
  readonly cacheDir?: string
  /** Parent of this run's scratch directory (default: the OS temp dir). */
  readonly workDir?: string
  /** Content digests of directory extension inputs, by their `tarballPath` (cache identity). */
  readonly extensionDigests?: Readonly<Record<string, string>>
  /** GRUB module roots to use before the host's /usr/lib/grub (e.g. the imager image's) */
  readonly grubDirs?: readonly string[]
  /**
   * Extraction records (JSON with the SELinux labels of the image's PAX records, as
   * src/oci/extract-image.ts writes them) of directory extension inputs, by their `tarballPath`.
   */
  readonly extensionLabels?: Readonly<Record<string, string>>
  /**
   * Whether extension layers carry SELinux labels: 'auto' (default) when the work directory's
   * filesystem can hold them (probed), 'on' without probing, 'off' never.
   */
  readonly selinuxLabels?: SelinuxLabelsSetting
  /** Directory of the well-known UEFI certificates `includeWellKnownCerts` enrols (src/secureboot/well-known.ts). */
  readonly wellKnownCertsDir?: string
  readonly signal?: AbortSignal
}

export interface ImagerResult {
  readonly kind: OutputKind
  /** Size of the asset written. */
  readonly bytes: number
  readonly durationMs: number
  /** Only for `initramfs`. */
  readonly initramfs?: InitramfsStats
}

/**
 * The imager's command line for a profile (computed for every kind, as the reference does);
 * `overlayKernelArgs` is the overlay installer's `get-options` answer.
 */
export function profileCmdline(p: ImagerProfile, overlayKernelArgs?: readonly string[]): string {
  return buildCmdline({
    platform: p.platform,
    arch: p.arch,
    version: p.version,
    outputKind: p.output.kind,
    secureboot: p.secureboot,
    ...(overlayKernelArgs !== undefined ? { overlayKernelArgs } : {}),
    metaContents: p.customization.metaContents,
    extraKernelArgs: p.customization.extraKernelArgs,
  })
}

export async function runImager(profileInput: string | ImagerProfile, opts: RunImagerOptions): Promise<ImagerResult> {
  const started = performance.now()
  const profile = typeof profileInput === 'string' ? parseProfile(profileInput) : profileInput
  const kind = profile.output.kind
  const builder = BUILDERS[kind]
  if (builder === undefined) throw new ImagerUnsupportedError(`output kind ${kind} is not supported by the native imager yet`)
  // disk images post-process their own output (compressors stream into it)
  if (profile.output.outFormat !== 'raw' && kind !== 'image') throw new ImagerUnsupportedError(`output format ${profile.output.outFormat} is not supported by the native imager yet`)
  if (profile.hasOverlay && profile.overlay === null) throw new ImagerUnsupportedError('overlay.image is required to use an overlay')
  // validates the platform for every kind (the reference builds the cmdline unconditionally);
  // checked again with the overlay's kernel args once its installer answered
  profileCmdline(profile)
  if (opts.signal?.aborted) throw new ImagerAbortedError('build cancelled')

  const parent = opts.workDir ?? tmpdir()
  let work: string
  try {
    await mkdir(parent, { recursive: true })
    work = await mkdtemp(join(parent, 'imager-'))
  } catch (err) {
    throw ioError(`cannot create work directory in ${parent}`, err)
  }
  if (opts.cacheDir !== undefined) {
    try {
      await mkdir(opts.cacheDir, { recursive: true })
    } catch (err) {
      throw ioError(`cannot create cache directory ${opts.cacheDir}`, err)
    }
    await sweepStaleTemps(opts.cacheDir)
  }

  let overlay: PreparedOverlay | null
  let cmdline: string
  try {
    // kernel and initramfs never use the overlay (nor the cmdline)
    overlay = kind === 'kernel' || kind === 'initramfs' ? null : await prepareOverlay(profile, work, opts.signal)
    cmdline = profileCmdline(profile, overlay?.kernelArgs)
  } catch (err) {
    await rm(work, { recursive: true, force: true }).catch(() => undefined)
    throw err
  }

  const out = await OutputSink.open(opts.output)
  let ok = false
  let bytes = 0
  let initramfs: InitramfsStats | undefined
  try {
    const extra = await builder(profile, {
      output: out,
      cmdline,
      overlay,
      cacheDir: opts.cacheDir ?? null,
      workDir: work,
      ...(opts.extensionDigests ? { extensionDigests: opts.extensionDigests } : {}),
      ...(opts.grubDirs ? { grubDirs: opts.grubDirs } : {}),
      ...(opts.extensionLabels ? { extensionLabels: opts.extensionLabels } : {}),
      ...(opts.selinuxLabels ? { selinuxLabels: opts.selinuxLabels } : {}),
      ...(opts.wellKnownCertsDir ? { wellKnownCertsDir: opts.wellKnownCertsDir } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    })
    if (extra?.initramfs) initramfs = extra.initramfs
    bytes = await out.size()
    ok = true
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof ImagerAbortedError)) throw new ImagerAbortedError('build cancelled', { cause: err })
    throw err
  } finally {
    await out.close({ sync: ok }).catch((err: unknown) => {
      if (ok) throw err
    })
    await rm(work, { recursive: true, force: true }).catch(() => undefined)
  }
  return { kind, bytes, durationMs: Math.round(performance.now() - started), ...(initramfs ? { initramfs } : {}) }
}
