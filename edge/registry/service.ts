/**
 * The OCI registry frontend (factory-spec §8): installer images pulled as
 * `<host>/<image>/<schematic>:<version>`, built on demand and published signed, and the read-only
 * source proxy `/v2/siderolabs/<image>/…`.
 *
 * Two ways to serve what was published:
 * - the factory's own store (FsOciStore, the embedded default): manifests and blobs answered here
 *   (and blobs by Caddy without JavaScript once they exist);
 * - a configured registry (FACTORY_INSTALLER_REGISTRY): images are pushed there and clients are
 *   redirected (307, FACTORY_INSTALLER_EXTERNAL_REGISTRY) or proxied to it, as the reference does.
 */
import { InvalidInputError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import type { Catalog } from '../../src/catalog/catalog.ts'
import type { SchematicService } from '../../src/schematic/service.ts'
import { isDigest } from '../../src/oci/digest.ts'
import type { FsOciStore } from '../../src/oci/fs-store.ts'
import { OCI_INDEX } from '../../src/oci/media-types.ts'
import { isValidTag } from '../../src/oci/reference.ts'
import { compareSemver, parseSemver, tryParseSemver } from '../../src/talos/semver.ts'
import { fileResponse } from '../http/file-response.ts'
import { OciError, ociErrorResponse } from './errors.ts'
import type { InstallerPublisher } from './publisher.ts'
import { proxyRequest } from './proxy.ts'
import { parseInstallerImage, PROXY_COMPONENTS, type InstallerImage, type V2Resource } from './routing.ts'

/** Where published images are served from. */
export type Serving =
  | { kind: 'store'; store: FsOciStore }
  /** `base`: `<scheme>://<host>/v2/<namespace>` of the registry pulls go to */
  | { kind: 'proxy'; base: string }
  | { kind: 'redirect'; base: string }

export interface RegistryServiceDeps {
  schematics: SchematicService
  catalog: Catalog
  publisher: InstallerPublisher
  serving: Serving
  /** the source proxy's backing registry (`http://host/v2/<namespace>`), or null when it is not plain HTTP */
  sourceBase: string | null
  log: Logger
}

const EMPTY_INDEX = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }))

/**
 * go-containerregistry's scheme rule for a registry host: plain HTTP for loopback, `localhost`,
 * `*.local(host)` and RFC 1918 IPv4 addresses, HTTPS otherwise.
 */
export function registryScheme(host: string, insecure = false): 'http' | 'https' {
  if (insecure) return 'http'
  const name = host.replace(/:\d+$/, '')
  if (name === 'localhost' || host.startsWith('localhost:') || /\.local(host)?$/.test(name)) return 'http'
  if (host.includes('127.0.0.1') || host.includes('::1')) return 'http'
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(name)
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])]
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'http'
  }
  return 'https'
}

/** `host[:port][/namespace]` → `<scheme>://host[:port]/v2[/namespace]`. */
export function registryBase(option: string, insecure = false): string {
  const [host, ...path] = option.split('/').filter(Boolean)
  if (!host) throw new InvalidInputError('empty registry')
  return `${registryScheme(host, insecure)}://${host}/v2${path.length ? `/${path.join('/')}` : ''}`
}

export class RegistryService {
  constructor(private readonly deps: RegistryServiceDeps) {}

  get publisher(): InstallerPublisher {
    return this.deps.publisher
  }

  /** Schematic lookup (404) first, then the image name (400) — the reference's order. */
  private async installerRepo(image: string, schematic: string): Promise<InstallerImage> {
    if (!(await this.deps.schematics.get(schematic))) throw new OciError(404, 'NAME_UNKNOWN', `schematic ID ${JSON.stringify(schematic)} not found`)
    const parsed = parseInstallerImage(image)
    if (!parsed) throw new OciError(400, 'NAME_INVALID', `invalid image: ${image}`)
    return parsed
  }

  /** `latest` → the newest available version without a pre-release. */
  private async latestVersion(): Promise<string> {
    const list = (await this.deps.catalog.versions()).value
    const stable = list.map((t) => ({ t, v: tryParseSemver(t) })).filter((x) => x.v !== null && x.v.prerelease.length === 0)
    stable.sort((a, b) => compareSemver(a.v!, b.v!))
    const newest = stable.at(-1)
    if (!newest) throw new OciError(404, 'MANIFEST_UNKNOWN', 'no stable Talos version is available')
    return newest.t
  }

  private target(image: string, schematic: string, resource: V2Resource, ref: string, request: Request): Promise<Response> | null {
    const s = this.deps.serving
    if (s.kind === 'store') return null
    const url = `${s.base}/${image}/${schematic}/${resource}/${ref}${new URL(request.url).search}`
    if (s.kind === 'redirect') return Promise.resolve(new Response(null, { status: 307, headers: { location: url } }))
    return proxyRequest(request, url)
  }

  async manifest(image: string, schematic: string, reference: string, request: Request, requestId?: string): Promise<Response> {
    const installer = await this.installerRepo(image, schematic)
    const repo = `${installer.name}/${schematic}`
    let ref = reference
    if (ref === 'latest') ref = await this.latestVersion()
    if (!isDigest(ref)) {
      if (ref.includes(':')) throw new OciError(400, 'DIGEST_INVALID', `invalid digest: ${ref}`)
      if (!isValidTag(ref)) throw new OciError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${ref}`)
    }
    let version: string | null = null
    if (!isDigest(ref) && ref.startsWith('v')) {
      try {
        parseSemver(ref)
      } catch {
        throw new OciError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${ref} is not a Talos version`)
      }
      version = ref
      // the version's signed index, built and published when missing
      ref = (await this.deps.publisher.published(installer, schematic, version)) ?? (await this.deps.publisher.ensure(installer, schematic, version, requestId))
    }
    const forwarded = this.target(installer.name, schematic, 'manifests', ref, request)
    if (forwarded) return forwarded
    const store = (this.deps.serving as { store: FsOciStore }).store
    if (version !== null) await store.touchTag(repo, version) // recency for the store's size bound
    const m = await store.getManifest(repo, ref)
    if (!m) throw new OciError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${repo}:${ref}`)
    return new Response(request.method === 'HEAD' ? null : m.bytes, {
      headers: { 'content-type': m.mediaType, 'content-length': String(m.bytes.byteLength), 'docker-content-digest': m.digest, etag: `"${m.digest}"` },
    })
  }

  async blob(image: string, schematic: string, digest: string, request: Request): Promise<Response> {
    const installer = await this.installerRepo(image, schematic)
    if (!isDigest(digest)) throw new OciError(400, 'DIGEST_INVALID', `invalid digest: ${digest}`)
    const forwarded = this.target(installer.name, schematic, 'blobs', digest, request)
    if (forwarded) return forwarded
    const store = (this.deps.serving as { store: FsOciStore }).store
    const file = await store.blobFile(`${installer.name}/${schematic}`, digest)
    if (!file) throw new OciError(404, 'BLOB_UNKNOWN', `blob unknown: ${digest}`)
    return fileResponse(request, file.path, { 'content-type': 'application/octet-stream', 'docker-content-digest': digest })
  }

  /**
   * Referrers of a digest (OCI 1.1): this factory signs with the tag scheme and attaches no
   * referrers, so the answer is an empty index — with `OCI-Filters-Applied` when filtered.
   */
  async referrers(image: string, schematic: string, digest: string, request: Request): Promise<Response> {
    await this.installerRepo(image, schematic)
    if (!isDigest(digest)) throw new OciError(404, 'MANIFEST_UNKNOWN', `invalid referrers subject digest: ${digest}`)
    const headers: Record<string, string> = {
      'content-type': OCI_INDEX,
      'content-length': String(EMPTY_INDEX.byteLength),
      'docker-content-digest': `sha256:${new Bun.CryptoHasher('sha256').update(EMPTY_INDEX).digest('hex')}`,
    }
    if (new URL(request.url).searchParams.get('artifactType')) headers['oci-filters-applied'] = 'artifactType'
    return new Response(request.method === 'HEAD' ? null : EMPTY_INDEX, { headers })
  }

  /**
   * Tags of an installer repository (`tags/list`, with `n`/`last` paging): what was published —
   * version tags and their `.sig` signature tags. An addition to the reference, which has no tag
   * listing for installer repositories (but `skopeo inspect` asks for one).
   */
  async tags(image: string, schematic: string, request: Request): Promise<Response> {
    const installer = await this.installerRepo(image, schematic)
    const s = this.deps.serving
    if (s.kind !== 'store') {
      const url = `${s.base}/${installer.name}/${schematic}/tags/list${new URL(request.url).search}`
      return s.kind === 'redirect' ? new Response(null, { status: 307, headers: { location: url } }) : proxyRequest(request, url)
    }
    const params = new URL(request.url).searchParams
    let tags = await s.store.listTags(`${installer.name}/${schematic}`)
    const last = params.get('last')
    if (last) tags = tags.filter((t) => t > last)
    const n = Number(params.get('n') ?? '')
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (Number.isSafeInteger(n) && n > 0 && tags.length > n) {
      tags = tags.slice(0, n)
      headers.link = `</v2/${installer.name}/${schematic}/tags/list?n=${n}&last=${encodeURIComponent(tags.at(-1) as string)}>; rel="next"`
    }
    const body = JSON.stringify({ name: `${installer.name}/${schematic}`, tags })
    return new Response(request.method === 'HEAD' ? null : body, { headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } })
  }

  /** The read-only source proxy (§8.6): scheme check (503) before the image check (404). */
  async sourceProxy(image: string, resource: V2Resource | 'tags', reference: string, request: Request): Promise<Response> {
    if (this.deps.sourceBase === null) throw new OciError(503, 'UNAVAILABLE', 'proxying to an authorized/secure backing registry is not possible')
    const repo = PROXY_COMPONENTS[image]
    if (repo === undefined || !Object.hasOwn(PROXY_COMPONENTS, image)) throw new OciError(404, 'NAME_UNKNOWN', `unknown image: ${image}`)
    return proxyRequest(request, `${this.deps.sourceBase}/${repo}/${resource}/${reference}${new URL(request.url).search}`)
  }

  /** A write method: validated like a read (so bad input gets its 4xx), then refused. */
  async unsupported(image: string, schematic: string, resource: V2Resource, reference: string): Promise<Response> {
    await this.installerRepo(image, schematic)
    if (resource === 'manifests' && !isDigest(reference) && !isValidTag(reference)) {
      throw new OciError(400, reference.includes(':') ? 'DIGEST_INVALID' : 'MANIFEST_INVALID', `invalid manifest reference: ${reference}`)
    }
    return ociErrorResponse(405, 'UNSUPPORTED', 'this registry is read-only: installer images are built on pull', { allow: 'GET, HEAD' })
  }
}
