/**
 * Runs the imager for a job: materialises the job's dependencies (boot inputs of the version,
 * extension images, the schematic virtual extension), points the profile at them, and runs the
 * imager as a child process with the profile YAML on stdin (execa; killed on timeout).
 */
import { pathExists } from '../src/fs-util.ts'
import { execa } from 'execa'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { profileToYaml, type Profile } from '../src/asset/profile.ts'
import { parseImageLine } from '../src/catalog/extensions.ts'
import { NotImplementedError } from '../src/errors.ts'
import { BUILT_KINDS } from '../src/asset/kinds.ts'
import type { Logger } from '../src/log.ts'
import type { Artifacts } from './artifacts.ts'
import { writeSchematicExtension } from './imager/virtual-extensions.ts'
import { extractionRecordPath } from '../src/oci/extract-image.ts'
import { BuildInputError, type BuildJob, type RunBuild } from './job.ts'

const IMAGER_CLI = resolve(import.meta.dir, 'imager/cli.ts')

/** Output kinds whose bytes do not depend on the overlay image (imager-spec §4, §9). */
const KINDS_WITHOUT_OVERLAY: ReadonlySet<string> = new Set(['kernel', 'cmdline', 'initramfs'])

interface ContainerAssetLike {
  imageRef?: string
  tarballPath?: string
  ociPath?: string
}

function repositoryOf(ref: string): string {
  const parsed = parseImageLine(`${ref}@sha256:${'0'.repeat(64)}`)
  if (!parsed) throw new BuildInputError(`cannot parse image reference ${JSON.stringify(ref)}`)
  return parsed.repository
}

export interface RunnerOptions {
  artifacts: Artifacts
  /** imager caches (processed extensions), reused across builds */
  cacheDir: string
  /** scratch space for builds */
  workDir: string
  externalUrl: string
  log: Logger
  /** counted once per imager process started */
  onImagerStart?: () => void
  /** whether layers carry SELinux labels (probed once at start-up, builder/selinux-labels.ts) */
  selinuxLabels: boolean
}

export function createImagerRunner(opts: RunnerOptions): RunBuild {
  return async (job: BuildJob, outputPath: string, signal: AbortSignal) => {
    const profile = structuredClone(job.profile) as Record<string, unknown> & {
      arch: string
      output: { kind: string }
      input: Record<string, unknown> & { systemExtensions?: ContainerAssetLike[] }
    }
    const kind = profile.output?.kind
    if (!BUILT_KINDS.has(kind)) throw new NotImplementedError(`output kind ${kind} is not implemented by this factory yet`)
    const arch = profile.arch
    // The profile names the overlay for every kind but cmdline/kernel (the cache key must match the
    // reference's), yet only disk images, installers, ISOs and UKIs use its image: the initramfs
    // is the same with or without it, so its overlay image is never fetched.
    const usesOverlay = !KINDS_WITHOUT_OVERLAY.has(kind)

    // Materialise the boot inputs and every dependency concurrently (each is fetched once and
    // cached on disk), mapping each dependency's profile path to a local directory.
    const local = new Map<string, string>()
    // cache identity of each extension directory for the imager: the image digest (no need to
    // fingerprint the unpacked tree); and its SELinux labels, from the extraction record
    const digests: Record<string, string> = {}
    const labels: Record<string, string> = {}
    const materialise = async (dep: Record<string, string | boolean>): Promise<void> => {
      const path = String(dep.path)
      switch (dep.kind) {
        case 'extension': {
          const dir = await opts.artifacts.image(repositoryOf(String(dep.ref)), String(dep.digest), String(dep.arch))
          local.set(path, dir)
          digests[dir] = `${String(dep.digest)}-${String(dep.arch)}`
          labels[dir] = extractionRecordPath(dir)
          return
        }
        case 'schematic-extension': {
          const dir = join(opts.cacheDir, 'schematics', `${job.schematic.id}-${dep.withExtraInfo ? 'extra' : 'plain'}`)
          if (!(await pathExists(dir))) {
            await writeSchematicExtension(dir, {
              id: job.schematic.id,
              canonicalYaml: job.schematic.canonical,
              externalUrl: opts.externalUrl,
              version: job.version,
            })
          }
          local.set(path, dir)
          return
        }
        case 'overlay':
          if (!usesOverlay) return
          throw new NotImplementedError('overlay inputs are not implemented by this factory yet')
        default:
          throw new NotImplementedError(`${String(dep.kind)} inputs are not implemented by this factory yet`)
      }
    }
    // the build timeout covers fetching inputs too, not only the imager run
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new Error('build timed out'))
      signal.addEventListener('abort', () => reject(new Error('build timed out')), { once: true })
    })
    aborted.catch(() => {})
    const [inputs] = await Promise.race([
      Promise.all([opts.artifacts.versionInputs(job.version, arch), ...(job.dependencies as Record<string, string | boolean>[]).map(materialise)]),
      aborted,
    ])
    profile.input.kernel = { path: inputs.kernel }
    profile.input.initramfs = { path: inputs.initramfs }
    if (inputs.sdStub) profile.input.sdStub = { path: inputs.sdStub }
    if (inputs.sdBoot) profile.input.sdBoot = { path: inputs.sdBoot }
    profile.input.systemExtensions = (profile.input.systemExtensions ?? []).map((ext) => {
      const key = ext.ociPath ?? ext.tarballPath ?? ''
      const dir = local.get(key)
      if (!dir) throw new BuildInputError(`no local input for extension ${JSON.stringify(key)}`)
      return { imageRef: '', tarballPath: dir }
    })

    await mkdir(opts.workDir, { recursive: true })
    await mkdir(opts.cacheDir, { recursive: true })
    opts.onImagerStart?.()
    const args = [
      IMAGER_CLI,
      ...['--output', outputPath, '--cache-dir', opts.cacheDir, '--work-dir', opts.workDir],
      ...['--extension-digests', JSON.stringify(digests), '--extension-labels', JSON.stringify(labels)],
      ...['--selinux-labels', opts.selinuxLabels ? 'on' : 'off'],
    ]
    const result = await execa(process.execPath, args, {
      input: profileToYaml(profile as unknown as Profile), // the same serialisation the cache key hashes
      cancelSignal: signal,
      reject: false,
      stdout: 'ignore',
      stderr: 'pipe',
      env: { SOURCE_DATE_EPOCH: '1559424892' },
      maxBuffer: 1024 * 1024,
    })
    if (signal.aborted) throw new Error('build timed out')
    if (result.exitCode !== 0) {
      const reason = String(result.stderr ?? '').trim().split('\n').pop() || `imager exited with ${result.exitCode}`
      opts.log.warn('imager failed', { key: job.key, exit_code: result.exitCode, stderr: String(result.stderr ?? '').slice(-2000) })
      // imager exit codes: 2 invalid input (e.g. incompatible extension), 3 unsupported
      if (result.exitCode === 2) throw new BuildInputError(reason)
      if (result.exitCode === 3) throw new NotImplementedError(reason)
      throw new Error(reason)
    }
  }
}

