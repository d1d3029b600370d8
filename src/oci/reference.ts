/**
 * Image references (`host[:port]/path/name:tag@sha256:…`), repository names, and the reference's
 * one-string form of OCI repository options (factory-spec §11.2).
 */
import { InvalidInputError } from '../errors.ts'
import { isDigest } from './digest.ts'

export interface ImageReference {
  /** `host[:port]`, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string
  /** Path inside the registry, e.g. `siderolabs/imager`. */
  repository: string
  tag?: string
  digest?: string
}

/** Where a set of images lives: registry host, optional path prefix and repository (factory-spec §11.2). */
export interface RepositoryOption {
  registry: string
  namespace: string
  repository: string
}

const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** True when the first path segment names a registry host (contains `.` or `:`, or is `localhost`). */
export function looksLikeRegistry(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment === 'localhost'
}

/** True for a repository path valid under the distribution grammar (`a/b-c/d_e`). */
export function isValidRepository(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name.split('/').every((c) => COMPONENT_RE.test(c))
}

/** True for a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag)
}

/** A manifest reference is a tag or a digest. */
export function isValidManifestRef(ref: string): boolean {
  return isValidTag(ref) || isDigest(ref)
}

/** Joins path parts with `/`, dropping empty ones and stray slashes: (`proxy`, ``, `siderolabs/imager`) → `proxy/siderolabs/imager`. */
export function joinRepository(...parts: (string | undefined)[]): string {
  return parts
    .flatMap((p) => (p ?? '').split('/'))
    .filter((p) => p.length > 0)
    .join('/')
}

/**
 * Parses `host[:port]/path:tag@digest`. Without a registry-looking first segment the registry is
 * `defaultRegistry` (a Docker Hub single name gets the `library/` prefix). Throws InvalidInputError.
 */
export function parseReference(input: string, defaultRegistry = 'docker.io'): ImageReference {
  let rest = input.trim()
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!isDigest(digest)) throw new InvalidInputError(`invalid image reference ${JSON.stringify(input)}: bad digest`)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!isValidTag(tag)) throw new InvalidInputError(`invalid image reference ${JSON.stringify(input)}: bad tag`)
  }
  const segments = rest.split('/')
  let registry = defaultRegistry
  if (segments.length > 1 && looksLikeRegistry(segments[0] ?? '')) registry = segments.shift() ?? defaultRegistry
  let repository = segments.join('/')
  if (registry === 'docker.io' && segments.length === 1) repository = `library/${repository}`
  if (!isValidRepository(repository)) throw new InvalidInputError(`invalid image reference ${JSON.stringify(input)}: bad repository`)
  const out: ImageReference = { registry, repository }
  if (tag !== undefined) out.tag = tag
  if (digest !== undefined) out.digest = digest
  return out
}

/** Formats a reference back to `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`
}

/**
 * The one-string form of an OCI repository option (factory-spec §11.2): `reg.io/ns/sub/repo` →
 * registry `reg.io`, namespace `ns/sub`, repository `repo`; two segments without a registry-looking
 * first one → namespace + repository; one segment → repository only (registry = `defaultRegistry`).
 */
export function parseRepositoryOption(input: string, defaultRegistry = 'ghcr.io'): RepositoryOption {
  const segments = input.split('/').filter((s) => s.length > 0)
  let registry = defaultRegistry
  if (segments.length > 1 && looksLikeRegistry(segments[0] ?? '')) registry = segments.shift() ?? defaultRegistry
  const repository = segments.pop() ?? ''
  return { registry, namespace: segments.join('/'), repository }
}
