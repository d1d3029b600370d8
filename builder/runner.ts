/**
 * Runs the imager for a job: materialises the job's dependencies (boot inputs of the version,
 * extension images, the schematic virtual extension), points the profile at them, and runs the
 * imager as a child process with the profile YAML on stdin (execa; killed on timeout).
 */
import { pathExists } from '../src/fs-util.ts'
import { execa } from 'execa'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { cloneProfile, profileToYaml, type Profile } from '../src/asset/profile.ts'
import { parseImageLine } from '../src/catalog/extensions.ts'
import { looksLikeRegistry } from '../src/oci/reference.ts'
import { NotImplementedError } from '../src/errors.ts'
import { BUILT_KINDS } from '../src/asset/kinds.ts'
import type { Logger } from '../src/log.ts'
import { PROFILE_KEY_PATHS, type SecureBootKeyFiles } from '../src/secureboot/keys.ts'
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

/** The catalogue's identity of an upstream image (`ghcr.io/siderolabs/…`), for the installer's RepoTags. */
function withRegistry(ref: string): string {
  return looksLikeRegistry(ref.split('/')[0] ?? '') ? ref : `ghcr.io/${ref}`
}

/** `siderolabs/installer-base:v1.10.0` → repository and tag. */
function splitTag(ref: string): { repository: string; tag: string } {
  const i = ref.lastIndexOf(':')
  if (i <= ref.lastIndexOf('/')) throw new BuildInputError(`image reference ${JSON.stringify(ref)} has no tag`)
  return { repository: ref.slice(0, i), tag: ref.slice(i + 1) }
}

export interface RunnerOptions {
  artifacts: Artifacts
  /** imager caches (processed extensions), reused across builds */
  cacheDir: string
  /** scratch space for builds */
  workDir: string
  externalUrl: string
  /** GRUB module root handed to the imager (FACTORY_GRUB_DIR) */
  grubDir?: string
  log: Logger
  /** counted once per imager process started */
  onImagerStart?: () => void
  /** Secure Boot key files (Secure Boot enabled); profiles name them by the `/secureboot/…` paths */
  secureBoot?: SecureBootKeyFiles
  /** whether layers carry SELinux labels (probed once at start-up, builder/selinux-labels.ts) */
  selinuxLabels: boolean
}

type Signer = { keyPath?: string; certPath?: string }

/**
 * Points the profile's Secure Boot signers at the real key files: the planner writes the paths the
 * official imager container mounts (`/secureboot/…`), which is also what the cache key hashes.
 */
function mapSecureBootPaths(secureboot: { secureBootSigner?: Signer; pcrSigner?: Signer } | undefined, files: SecureBootKeyFiles | undefined): void {
  if (!secureboot) return
  if (!files) throw new BuildInputError('secure boot is disabled')
  const map: Record<string, string> = {
    [PROFILE_KEY_PATHS.signingKeyPath]: files.signingKeyPath,
    [PROFILE_KEY_PATHS.signingCertPath]: files.signingCertPath,
    [PROFILE_KEY_PATHS.pcrKeyPath]: files.pcrKeyPath,
  }
  for (const signer of [secureboot.secureBootSigner, secureboot.pcrSigner]) {
    if (!signer) continue
    if (signer.keyPath !== undefined && map[signer.keyPath]) signer.keyPath = map[signer.keyPath]
    if (signer.certPath !== undefined && map[signer.certPath]) signer.certPath = map[signer.certPath]
  }
}

export function createImagerRunner(opts: RunnerOptions): RunBuild {
  return async (job: BuildJob, outputPath: string, signal: AbortSignal) => {
    const profile = cloneProfile(job.profile as unknown as Profile) as unknown as Record<string, unknown> & {
      arch: string
      output: { kind: string }
      input: Record<string, unknown> & { systemExtensions?: ContainerAssetLike[]; secureboot?: { secureBootSigner?: Signer; pcrSigner?: Signer } }
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
        case 'overlay': {
          if (!usesOverlay) return
          // host-arch image (its installer runs) or target-arch image (artifacts for installers)
          local.set(path, await opts.artifacts.image(repositoryOf(String(dep.ref)), String(dep.digest), String(dep.arch)))
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
        case 'base-installer': {
          const { repository, tag } = splitTag(String(dep.ref))
          local.set(path, await opts.artifacts.baseInstaller(repository, tag, String(dep.arch)))
          return
        }
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
    mapSecureBootPaths(profile.input.secureboot, opts.secureBoot)
    if (inputs.sdStub) profile.input.sdStub = { path: inputs.sdStub }
    if (inputs.sdBoot) profile.input.sdBoot = { path: inputs.sdBoot }
    profile.input.systemExtensions = (profile.input.systemExtensions ?? []).map((ext) => {
      const key = ext.ociPath ?? ext.tarballPath ?? ''
      const dir = local.get(key)
      if (!dir) throw new BuildInputError(`no local input for extension ${JSON.stringify(key)}`)
      return { imageRef: '', tarballPath: dir }
    })
    // overlay images: the imager takes extracted directories as tarballPath; kinds that never run
    // the overlay (kernel, initramfs) may be planned without materialising it
    const overlay = profile.overlay as { image?: ContainerAssetLike } | undefined
    const overlayInstaller = profile.input.overlayInstaller as ContainerAssetLike | undefined
    const localDir = (asset: ContainerAssetLike | undefined): string | undefined => (asset ? local.get(asset.ociPath ?? asset.tarballPath ?? '') : undefined)
    if (overlay?.image && !localDir(overlay.image) && (kind === 'kernel' || kind === 'initramfs')) {
      delete profile.overlay
      delete profile.input.overlayInstaller
    } else {
      const localImage = (asset: ContainerAssetLike | undefined, what: string): ContainerAssetLike | undefined => {
        if (asset === undefined) return undefined
        const dir = localDir(asset)
        if (!dir) throw new BuildInputError(`no local input for ${what}`)
        return { imageRef: asset.imageRef ?? '', tarballPath: dir }
      }
      if (overlay?.image) overlay.image = localImage(overlay.image, 'the overlay image')
      if (overlayInstaller) profile.input.overlayInstaller = localImage(overlayInstaller, 'the overlay installer image')
    }
    // the base installer as an OCI layout with its blobs unchanged (installer output)
    const base = profile.input.baseInstaller as ContainerAssetLike | undefined
    if (base) {
      const dir = base.ociPath ? local.get(base.ociPath) : undefined
      if (!dir) throw new BuildInputError(`no local input for the base installer ${JSON.stringify(base.ociPath ?? '')}`)
      profile.input.baseInstaller = { imageRef: withRegistry(base.imageRef ?? ''), ociPath: dir }
    }

    await mkdir(opts.workDir, { recursive: true })
    await mkdir(opts.cacheDir, { recursive: true })
    opts.onImagerStart?.()
    const args = [
      IMAGER_CLI,
      ...['--output', outputPath, '--cache-dir', opts.cacheDir, '--work-dir', opts.workDir],
      ...['--extension-digests', JSON.stringify(digests), '--extension-labels', JSON.stringify(labels)],
      ...['--selinux-labels', opts.selinuxLabels ? 'on' : 'off'],
    ]
    // GRUB modules of the version's imager image (e.g. arm64-efi, which an amd64 host cannot install)
    if (inputs.grubDir) args.push('--grub-dir', inputs.grubDir)
    // Microsoft's KEK/db certificates for `includeWellKnownCerts` (FACTORY_SECUREBOOT_WELL_KNOWN_CERTS)
    if (opts.secureBoot?.wellKnown) args.push('--well-known-certs', opts.secureBoot.wellKnown.dir)
    const result = await execa(process.execPath, args, {
      input: profileToYaml(profile as unknown as Profile), // the same serialisation the cache key hashes
      cancelSignal: signal,
      reject: false,
      stdout: 'ignore',
      stderr: 'pipe',
      env: { SOURCE_DATE_EPOCH: '1559424892', ...(opts.grubDir ? { FACTORY_GRUB_DIR: opts.grubDir } : {}) },
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

