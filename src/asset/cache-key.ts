/**
 * Asset cache key = sha256(go-yaml of the cleaned profile ‖ errata salts ‖ imager revision salt),
 * hex (factory `internal/profile/hash.go`, factory-spec §9.2, plus our revision salt).
 *
 * Why byte-exact up to the revision salt: the profile bytes and errata are the reference's (its
 * hash vectors hold with revision 0), so keys change exactly when the reference's would, and the
 * errata salts force rebuilds of assets that old imager bugs produced. (Our keys are not meant to
 * address a Go factory's cache: the native imager's bytes differ from the official imager's.)
 * Cleaning drops machine-local details (temp paths, insecure flags, registry hosts, enrolment key
 * paths) so the key depends only on what changes the output: version, platform, arch, SecureBoot
 * signer identity, extension digests, schematic ID, kernel args, META, overlay and output options.
 *
 * After the reference's errata we append one salt of our own, the revision of what the native
 * imager writes (IMAGER_REVISION): a change to the imager's output bumps it, so every asset built
 * before gets a new key and is rebuilt on its next request, while the stale entries age out of the
 * asset store through its LRU. Revision 0 appends nothing, i.e. gives the reference's key.
 */
import { createHash } from 'node:crypto'
import { cloneProfile, secureBootEnabled, profileToYaml, type ContainerAsset, type FileAsset, type Profile } from './profile.ts'

/** Go `filepath.Base` (the reference only applies it to non-empty values). */
export function goBase(path: string): string {
  if (path === '') return '.'
  const trimmed = path.replace(/\/+$/, '')
  if (trimmed === '') return '/'
  return trimmed.slice(trimmed.lastIndexOf('/') + 1)
}

function cleanContainer(c: ContainerAsset): void {
  delete c.forceInsecure
  if (c.ociPath) c.ociPath = goBase(c.ociPath)
  if (c.tarballPath) c.tarballPath = goBase(c.tarballPath)
  if (c.imageRef) {
    const i = c.imageRef.lastIndexOf('/')
    if (i !== -1) c.imageRef = c.imageRef.slice(i + 1)
  }
}

function cleanFile(f: FileAsset | undefined): void {
  if (f?.path) f.path = goBase(f.path)
}

/** Copy of the profile with non-deterministic fields normalised (factory `Clean`). */
export function cleanProfile(src: Profile): Profile {
  const p = cloneProfile(src)
  if (p.input.baseInstaller) cleanContainer(p.input.baseInstaller)
  for (const e of p.input.systemExtensions ?? []) cleanContainer(e)
  // Deliberate addition: the reference leaves overlay image paths uncleaned, so its keys for
  // overlay builds embed a per-process temp dir and never survive a restart. Basenames keep the
  // digest (`<arch>-sha256:…`) and drop the machine-local directory.
  if (p.overlay) cleanContainer(p.overlay.image)
  if (p.input.overlayInstaller) cleanContainer(p.input.overlayInstaller)
  if (p.input.imageCache) cleanContainer(p.input.imageCache)
  if (p.input.secureboot) {
    delete p.input.secureboot.keyExchangeKeyPath
    delete p.input.secureboot.signatureKeyPath
    delete p.input.secureboot.platformKeyPath
  }
  cleanFile(p.input.kernel)
  cleanFile(p.input.initramfs)
  cleanFile(p.input.sdBoot)
  cleanFile(p.input.sdStub)
  return p
}

/** Salts appended (in this order, without separators) when their condition holds. */
export const ERRATA: ReadonlyArray<{ readonly salt: string; readonly applies: (p: Profile) => boolean }> = [
  { salt: 'installer fix #8107', applies: (p) => p.output.kind === 'installer' },
  { salt: 'overlay installer layout fix', applies: (p) => p.output.kind === 'installer' && p.overlay !== undefined },
  { salt: 'secureboot iso gen fix #9565', applies: (p) => p.output.kind === 'iso' && secureBootEnabled(p) },
  { salt: 'vmware build fix #164', applies: (p) => p.platform === 'vmware' },
  { salt: 'installer tarball fix #9772', applies: (p) => p.output.kind === 'installer' },
  { salt: 'installer tarball fix #10278', applies: (p) => p.output.kind === 'installer' },
  { salt: 'overlay profile fix #11093', applies: (p) => p.overlay !== undefined },
  { salt: 'vmware arm64 kernel args fix #11735', applies: (p) => p.platform === 'vmware' && p.arch === 'arm64' },
  { salt: 'overlay extra kernel args fix #376', applies: (p) => p.overlay !== undefined && (p.output.kind === 'uki' || p.output.kind === 'installer') },
]

/**
 * Revision of the native imager's output, salted into every cache key. Bump it with any change
 * to the bytes the imager writes for the same profile and inputs (and add a line here):
 *
 *   1  SELinux labels and setuid/setgid/sticky bits kept in extension layers; the appended
 *      extensions archive compressed at the reference's levels (issue 12)
 */
export const IMAGER_REVISION = 1

/** The salt for `revision` ('' for 0: the reference's key). */
export function imagerRevisionSalt(revision: number): string {
  if (!Number.isSafeInteger(revision) || revision < 0) throw new RangeError(`imager revision must be a non-negative integer, got ${revision}`)
  return revision === 0 ? '' : `native imager revision ${revision}`
}

export interface CacheKeyOptions {
  /**
   * Our addition after the reference's errata: Secure Boot profiles name their keys only by the
   * fixed `/secureboot/…` paths, so the key set's fingerprints are appended
   * (src/secureboot/keys.ts `secureBootCacheSalt`) — new keys must not serve assets signed with
   * the old ones. Applied to Secure Boot profiles only.
   */
  readonly secureBootSalt?: string
  /** the native imager revision (default IMAGER_REVISION); 0 gives the reference's bytes (§9.2) */
  readonly revision?: number
}

/**
 * The exact bytes hashed: cleaned profile YAML followed by the applicable errata salts, then our
 * own: the Secure Boot key salt and the imager revision salt. With `revision: 0` and no Secure
 * Boot salt these are the reference's bytes (factory-spec §9.2).
 */
export function cacheKeyMaterial(profile: Profile, opts: CacheKeyOptions = {}): string {
  const p = cleanProfile(profile)
  let text = profileToYaml(p)
  for (const e of ERRATA) if (e.applies(p)) text += e.salt
  if (opts.secureBootSalt && secureBootEnabled(p)) text += opts.secureBootSalt
  return text + imagerRevisionSalt(opts.revision ?? IMAGER_REVISION)
}

/**
 * Cache key of an enhanced profile (compute it before the builder fills in kernel/initramfs
 * paths): lowercase hex sha256. `revision` 0 gives the reference's key.
 */
export function profileCacheKey(profile: Profile, opts: CacheKeyOptions = {}): string {
  return createHash('sha256').update(cacheKeyMaterial(profile, opts), 'utf8').digest('hex')
}
