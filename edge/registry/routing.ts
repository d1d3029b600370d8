/**
 * `/v2/*` routing (factory-spec §8.1) and installer image names (§8.2), pure functions.
 *
 * The path after `/v2` is trimmed of slashes and split: the last segment is the reference, the one
 * before it the resource, the rest the repository. `siderolabs/<image…>` repositories are the
 * read-only source proxy (§8.6); `<image>/<schematic>` ones are installer images.
 */
export type V2Resource = 'manifests' | 'blobs' | 'referrers'

export type V2Route =
  | { kind: 'ping' }
  | { kind: 'schematic'; resource: V2Resource; image: string; schematic: string; reference: string }
  /** our addition: `<image>/<schematic>/tags/list` (skopeo inspect lists tags; the reference answers 404) */
  | { kind: 'tags'; image: string; schematic: string }
  | { kind: 'proxy'; resource: V2Resource | 'tags'; image: string; reference: string }
  | { kind: 'unknown'; reason: string }

const RESOURCES: readonly string[] = ['manifests', 'blobs', 'referrers']

/** Routes the part of the URL path after `/v2` (e.g. `/installer/<id>/manifests/v1.10.0`). */
export function routeV2(path: string): V2Route {
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  if (trimmed === '') return { kind: 'ping' }
  const unknown: V2Route = { kind: 'unknown', reason: `unknown registry path: ${JSON.stringify(path)}` }
  const segments = trimmed.split('/')
  if (segments.length < 3) return unknown
  const reference = segments[segments.length - 1] as string
  const resource = segments[segments.length - 2] as string
  const repository = segments.slice(0, -2)
  if (reference === '') return unknown
  if (repository[0] === 'siderolabs') {
    const image = repository.slice(1).join('/')
    if (image === '') return unknown
    if (RESOURCES.includes(resource)) return { kind: 'proxy', resource: resource as V2Resource, image, reference }
    if (resource === 'tags' && reference === 'list') return { kind: 'proxy', resource: 'tags', image, reference }
    return unknown
  }
  if (resource === 'tags' && reference === 'list' && repository.length === 2) {
    return { kind: 'tags', image: repository[0] as string, schematic: repository[1] as string }
  }
  if (RESOURCES.includes(resource) && repository.length === 2) {
    return { kind: 'schematic', resource: resource as V2Resource, image: repository[0] as string, schematic: repository[1] as string, reference }
  }
  return unknown
}

/** What an installer image name asks for (§8.2). */
export interface InstallerImage {
  /** the repository's first segment, as requested */
  name: string
  platform: string
  secureboot: boolean
  /** `installer` / `installer-secureboot`: the legacy names, built for `metal` */
  legacy: boolean
}

/** A path component of the distribution grammar (also keeps the name safe as a directory name). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

/** `installer`, `installer-secureboot`, `<platform>-installer[-secureboot]`; null for anything else. */
export function parseInstallerImage(name: string): InstallerImage | null {
  if (!COMPONENT.test(name)) return null
  if (name === 'installer') return { name, platform: 'metal', secureboot: false, legacy: true }
  if (name === 'installer-secureboot') return { name, platform: 'metal', secureboot: true, legacy: true }
  let m = /^(.+)-installer-secureboot$/.exec(name)
  if (m) return { name, platform: m[1] as string, secureboot: true, legacy: false }
  m = /^(.+)-installer$/.exec(name)
  if (m) return { name, platform: m[1] as string, secureboot: false, legacy: false }
  return null
}

/** The HTTP asset path of an installer image for one architecture (factory-spec §6.2 rules 6–7). */
export function installerAssetPath(image: InstallerImage, arch: 'amd64' | 'arm64'): string {
  const sb = image.secureboot ? '-secureboot' : ''
  return image.legacy ? `installer-${arch}${sb}.tar` : `${image.platform}-installer-${arch}${sb}.tar`
}

/** Components the source proxy serves (§8.6), by image name → upstream repository path. */
export const PROXY_COMPONENTS: Readonly<Record<string, string>> = {
  'installer-base': 'siderolabs/installer-base',
  installer: 'siderolabs/installer',
  imager: 'siderolabs/imager',
  extensions: 'siderolabs/extensions',
  overlays: 'siderolabs/overlays',
  'talosctl-all': 'siderolabs/talosctl-all',
}
