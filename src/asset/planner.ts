/**
 * URL → build job (factory-spec §6.1): schematic → version → path → profile → cache key.
 *
 * Why one planner shared by the edge and the builder: the builder must derive what it builds from
 * what the client asked (schematic ID, version, asset path) and never from a profile a caller
 * supplies — otherwise anyone who can reach its job API could publish arbitrary bytes under a
 * schematic's URL. The edge plans too, to look up hits and to answer bad requests early; both use
 * this code, so they agree on the key.
 */
import { NotFoundError, NotImplementedError } from '../errors.ts'
import type { Catalog } from '../catalog/catalog.ts'
import type { SchematicService } from '../schematic/service.ts'
import { formatVersionTag } from '../talos/semver.ts'
import { profileCacheKey } from './cache-key.ts'
import type { BuildJob } from './job.ts'
import { BUILT_KINDS } from './kinds.ts'
import { contentTypeFor } from './mime.ts'
import { ENHANCE_ERROR_PREFIX, PATH_ERROR_PREFIX, parseAssetPath, prefixError, type AssetRequest } from './path.ts'
import { buildProfile, overlayProfileFragment, type SecureBootAssets } from './profile.ts'

export interface PlannedAsset {
  job: BuildJob
  request: AssetRequest
  versionTag: string
  /** the catalogue could not be refreshed (answer may be stale) */
  stale: boolean
}

/** What the planner needs to know about the Secure Boot keys (never the keys themselves). */
export interface PlannerSecureBoot {
  /** signer locations written into profiles (`/secureboot/…`, mapped to files by the runner) */
  readonly assets: SecureBootAssets
  /** appended to Secure Boot cache keys (the keys' fingerprints) */
  readonly cacheSalt: string
}

export interface PlannerDeps {
  schematics: SchematicService
  catalog: Catalog
  /** Secure Boot when enabled; undefined → SecureBoot paths are 400 `secure boot is disabled`. */
  secureBoot?: () => PlannerSecureBoot | undefined
  /** native imager revision salted into cache keys (default IMAGER_REVISION; tests change it) */
  imagerRevision?: number
}

export class AssetPlanner {
  constructor(private readonly deps: PlannerDeps) {}

  /**
   * Resolves a URL into a build job; throws 400/404 with the reference's reasons, in the
   * reference's order (factory-spec §6.1): unknown schematic, malformed version, bad path, version
   * not available, profile enhancement.
   */
  async plan(schematicId: string, rawVersion: string, path: string): Promise<PlannedAsset> {
    const stored = await this.deps.schematics.get(schematicId)
    if (!stored) throw new NotFoundError(`schematic ID ${JSON.stringify(schematicId)} not found`)
    // version parse: 400 here, 500 in the reference
    this.deps.catalog.parseVersion(rawVersion)
    let request: AssetRequest
    try {
      request = parseAssetPath(path)
    } catch (err) {
      throw prefixError(err, PATH_ERROR_PREFIX)
    }
    const { version, stale } = await this.deps.catalog.requireVersion(rawVersion)
    const versionTag = formatVersionTag(version)
    if (!BUILT_KINDS.has(request.kind)) throw new NotImplementedError(`${request.kind} assets are not built by this factory yet`)
    const catalog = this.deps.catalog
    const secureBoot = this.deps.secureBoot?.()
    let built
    try {
      built = await buildProfile(request, stored.schematic, versionTag, {
        schematicId,
        ...(secureBoot ? { secureBoot: secureBoot.assets } : {}),
        resolveExtension: async (name) => {
          const list = (await catalog.extensions(versionTag)).value
          const found = list.find((e) => e.name === name)
          return found ? { ref: found.ref, digest: found.digest } : null
        },
        resolveOverlay: async (name) => {
          const list = (await catalog.overlays(versionTag)).value
          const found = list.find((o) => o.name === name)
          if (!found) return null
          // the overlay's profile fragment (e.g. `bootloader: grub`) shapes the profile and its key
          const fragment = await catalog.overlayProfile(found, name)
          return { name: found.name, ref: found.ref, digest: found.digest, profile: fragment === null ? null : overlayProfileFragment(fragment) }
        },
      })
    } catch (err) {
      throw prefixError(err, ENHANCE_ERROR_PREFIX)
    }
    const job: BuildJob = {
      key: profileCacheKey(built.profile, {
        ...(secureBoot ? { secureBootSalt: secureBoot.cacheSalt } : {}),
        ...(this.deps.imagerRevision !== undefined ? { revision: this.deps.imagerRevision } : {}),
      }),
      contentType: contentTypeFor(path),
      urlParts: [schematicId, versionTag, path],
      version: versionTag,
      schematic: { id: schematicId, canonical: stored.canonical },
      profile: built.profile as unknown as Record<string, unknown>,
      dependencies: built.dependencies as unknown as Record<string, unknown>[],
    }
    return { job, request, versionTag, stale }
  }
}
