/**
 * The catalogue: available Talos versions, official extensions and overlays per version, and
 * talosctl binaries — read from the upstream images, cached, refreshed in the background and
 * served stale (flagged) when upstream is unreachable.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError, NotFoundError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { compareSemver, coreCompare, formatSemver, formatVersionTag, parseSemver, semver, toVersionTag, tryParseSemver, semverEquals, type SemVer } from '../talos/semver.ts'
import { parseExtensionCatalog, type OfficialExtension } from './extensions.ts'
import { parseOverlayCatalog, type OfficialOverlay } from './overlays.ts'
import { RefreshingValue, type Fresh } from './refreshing.ts'
import type { SharedCache } from './shared-cache.ts'
import { Lru } from '../store/lru.ts'
import { selectTalosctlFiles } from './talosctl.ts'
import { selectVersions } from './versions.ts'

/** What the catalogue needs from the upstream registry. */
export interface ImageSource {
  /** Tags of a repository (e.g. `siderolabs/imager`). */
  listTags(repository: string): Promise<string[]>
  /**
   * The flattened linux/amd64 filesystem of `repository:tag`, extracted once into a directory
   * the source owns; returns that directory. Throws NotFoundError when the tag does not exist.
   */
  extract(repository: string, tag: string): Promise<string>
}

export interface CatalogOptions {
  source: ImageSource
  log: Logger
  /** registry name written into extension refs (FACTORY_UPSTREAM_REGISTRY) */
  registry: string
  minTalosVersion: string
  brokenTalosVersions: readonly string[]
  refreshIntervalMs: number
  shared?: SharedCache
  components?: Partial<typeof DEFAULT_COMPONENTS>
}

export const DEFAULT_COMPONENTS = {
  imager: 'siderolabs/imager',
  installerBase: 'siderolabs/installer-base',
  installer: 'siderolabs/installer',
  extensions: 'siderolabs/extensions',
  overlays: 'siderolabs/overlays',
  talosctl: 'siderolabs/talosctl-all',
}

const OVERLAYS_SINCE = semver('1.7.0')
/** Per-version catalogue entries kept (extensions, overlays per version: far more than any release list). */
export const PER_VERSION_CACHE_ENTRIES = 1000
const TALOSCTL_SINCE = semver('1.11.0-alpha.3')

export class Catalog {
  readonly components: typeof DEFAULT_COMPONENTS
  private readonly versionList: RefreshingValue<string[]>
  /** per-version catalogues; bounded: keys come from URLs (only available versions reach it) */
  private readonly perVersion = new Lru<string, RefreshingValue<unknown>>(PER_VERSION_CACHE_ENTRIES)
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly broken: SemVer[]

  constructor(private readonly opts: CatalogOptions) {
    this.components = { ...DEFAULT_COMPONENTS, ...opts.components }
    const min = parseSemver(opts.minTalosVersion)
    this.broken = opts.brokenTalosVersions.map((b) => parseSemver(b))
    this.versionList = new RefreshingValue({
      name: 'versions',
      maxAgeMs: opts.refreshIntervalMs,
      log: opts.log,
      shared: opts.shared,
      load: async () => selectVersions(await opts.source.listTags(this.components.imager), { min, broken: this.broken }),
    })
  }

  /** Starts the background refresh of the version list. */
  start(): void {
    if (this.timer) return
    void this.versionList.refresh().catch(() => {})
    this.timer = setInterval(() => void this.versionList.refresh().catch(() => {}), this.opts.refreshIntervalMs)
    this.timer.unref?.()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Entries in the per-version catalogue cache (bounded by PER_VERSION_CACHE_ENTRIES). */
  get perVersionEntries(): number {
    return this.perVersion.size
  }

  /** The version list could not be refreshed from upstream the last time it was tried. */
  get isStale(): boolean {
    return this.versionList.failing
  }

  versions(): Promise<Fresh<string[]>> {
    return this.versionList.get()
  }

  /** The configured broken versions, `v`-prefixed, in configuration order (`/versions?broken=true`). */
  brokenVersions(): string[] {
    return this.opts.brokenTalosVersions.map(toVersionTag)
  }

  /**
   * Strict parse of a version from a URL: 400 when malformed. The `v` is optional. Build metadata
   * (`v1.12.0+x`) is refused: semver equality ignores it, so every distinct suffix would otherwise
   * name the same release and grow per-version caches and build jobs without bound.
   */
  parseVersion(raw: string): SemVer {
    if (raw.length > 64) throw new InvalidInputError('invalid version: longer than 64 characters')
    let v: SemVer
    try {
      v = parseSemver(raw)
    } catch (err) {
      throw new InvalidInputError(`invalid version ${JSON.stringify(raw)}: ${(err as Error).message}`)
    }
    if (v.build.length > 0) throw new InvalidInputError(`invalid version ${JSON.stringify(raw)}: build metadata is not accepted`)
    return v
  }

  /** Parses and checks availability: 400 malformed, 404 `version X is not available`. */
  async requireVersion(raw: string): Promise<{ version: SemVer; stale: boolean }> {
    const version = this.parseVersion(raw)
    const list = await this.versions()
    const available = list.value.some((tag) => {
      const v = tryParseSemver(tag)
      return v !== null && semverEquals(v, version)
    })
    if (!available) throw new NotFoundError(`version ${formatSemver(version)} is not available`)
    return { version, stale: list.stale }
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<Fresh<T>> {
    let entry = this.perVersion.get(key) as RefreshingValue<T> | undefined
    if (!entry) {
      // Per-version catalogues are immutable once published: load once, keep forever.
      entry = new RefreshingValue<T>({ name: key, load, maxAgeMs: Number.POSITIVE_INFINITY, log: this.opts.log, shared: this.opts.shared })
      this.perVersion.set(key, entry as RefreshingValue<unknown>)
    }
    return entry.get()
  }

  async extensions(raw: string): Promise<Fresh<OfficialExtension[]>> {
    const { version, stale } = await this.requireVersion(raw)
    const tag = formatVersionTag(version)
    const r = await this.cached(`extensions:${tag}`, async () => {
      const dir = await this.opts.source.extract(this.components.extensions, tag)
      const digests = await readOptional(join(dir, 'image-digests'))
      if (digests === null) throw new Error('failed to find image-digests file')
      return parseExtensionCatalog(digests, await readOptional(join(dir, 'descriptions.yaml')), this.opts.registry)
    })
    return { value: r.value, stale: r.stale || stale }
  }

  async overlays(raw: string): Promise<Fresh<OfficialOverlay[]>> {
    const version = this.parseVersion(raw)
    if (coreCompare(version, OVERLAYS_SINCE) < 0) return { value: [], stale: false }
    const checked = await this.requireVersion(raw)
    const tag = formatVersionTag(version)
    const r = await this.cached(`overlays:${tag}`, async () => {
      const dir = await this.opts.source.extract(this.components.overlays, tag)
      const text = await readOptional(join(dir, 'overlays.yaml'))
      if (text === null) throw new Error('failed to find overlays.yaml file')
      return parseOverlayCatalog(text)
    })
    return { value: r.value, stale: r.stale || checked.stale }
  }

  /** talosctl file names for a version (empty before 1.11.0-alpha.3). */
  async talosctlFiles(raw: string): Promise<{ tag: string; files: string[] }> {
    const { version } = await this.requireVersion(toVersionTag(raw))
    const tag = formatVersionTag(version)
    if (compareSemver(version, TALOSCTL_SINCE) < 0) return { tag, files: [] }
    const dir = await this.talosctlDir(version, tag)
    return { tag, files: selectTalosctlFiles(await readdir(dir)) }
  }

  /** Absolute path of one talosctl binary; 404 for anything not in the list (no traversal). */
  async talosctlFile(raw: string, name: string): Promise<string> {
    const { tag, files } = await this.talosctlFiles(raw)
    if (!files.includes(name)) throw new NotFoundError(`talosctl file ${JSON.stringify(name)} is not available for ${tag}`)
    const dir = await this.talosctlDir(parseSemver(tag), tag)
    const path = join(dir, name)
    await stat(path)
    return path
  }

  private async talosctlDir(version: SemVer, tag: string): Promise<string> {
    try {
      return await this.opts.source.extract(this.components.talosctl, tag)
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`version ${formatSemver(version)} is not available`)
      throw err
    }
  }
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    return null
  }
}
