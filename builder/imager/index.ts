/**
 * The native imager: turns a Talos imager profile (imager-spec §2.1) into one boot asset.
 *
 *   await runImager(profileYamlOrParsed, { output: '/path/asset', cacheDir, workDir, signal })
 *
 * Output kinds built today: `kernel` (the kernel bytes), `cmdline` (the kernel command line, no
 * trailing newline), `initramfs` (base initramfs + system extensions, initramfs.ts). Other kinds
 * throw ImagerUnsupportedError. The asset is written progressively to `output` (front to back,
 * visible to a reader tailing the file); on failure the partial file is left for the caller to
 * discard. `bun builder/imager/cli.ts` is the same thing as a command (profile on stdin).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCmdline } from '../../src/talos/cmdline.ts'
import { ImagerAbortedError, ImagerUnsupportedError, ioError } from './errors.ts'
import { sweepStaleTemps } from './extension-cache.ts'
import { buildInitramfs, type InitramfsStats } from './initramfs.ts'
import { OutputSink } from './output.ts'
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
  readonly extensionLabels?: Readonly<Record<string, string>>
  readonly selinuxLabels?: SelinuxLabelsSetting
  readonly signal?: AbortSignal
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
  initramfs: async (p, ctx) => ({
    initramfs: await buildInitramfs(p, {
      output: ctx.output,
      cacheDir: ctx.cacheDir,
      workDir: ctx.workDir,
      ...(ctx.extensionDigests ? { extensionDigests: ctx.extensionDigests } : {}),
      ...(ctx.extensionLabels ? { extensionLabels: ctx.extensionLabels } : {}),
      ...(ctx.selinuxLabels ? { selinuxLabels: ctx.selinuxLabels } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  }),
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

/** The imager's command line for a profile (computed for every kind, as the reference does). */
export function profileCmdline(p: ImagerProfile): string {
  return buildCmdline({
    platform: p.platform,
    arch: p.arch,
    version: p.version,
    outputKind: p.output.kind,
    secureboot: p.secureboot,
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
  if (profile.output.outFormat !== 'raw') throw new ImagerUnsupportedError(`output format ${profile.output.outFormat} is not supported by the native imager yet`)
  if (kind === 'cmdline' && profile.hasOverlay) throw new ImagerUnsupportedError('overlay kernel arguments are not supported by the native imager yet')
  // validates the platform for every kind (the reference builds the cmdline unconditionally)
  const cmdline = profileCmdline(profile)
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

  const out = await OutputSink.open(opts.output)
  let ok = false
  let bytes = 0
  let initramfs: InitramfsStats | undefined
  try {
    const extra = await builder(profile, {
      output: out,
      cmdline,
      cacheDir: opts.cacheDir ?? null,
      workDir: work,
      ...(opts.extensionDigests ? { extensionDigests: opts.extensionDigests } : {}),
      ...(opts.extensionLabels ? { extensionLabels: opts.extensionLabels } : {}),
      ...(opts.selinuxLabels ? { selinuxLabels: opts.selinuxLabels } : {}),
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
