/**
 * Manifest, index and image-config shapes (OCI image-spec v1.1 and Docker schema2), with runtime
 * validation of what a registry returns and platform selection from an index.
 */
import { InvalidInputError, NotFoundError, UpstreamUnavailableError } from '../errors.ts'
import { isDigest } from './digest.ts'
import { isImageManifestType, isIndexType } from './media-types.ts'

export interface Platform {
  os: string
  architecture: string
  variant?: string
  'os.version'?: string
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  urls?: string[]
  artifactType?: string
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface ImageIndex {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  manifests: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

/** The parts of an image config the factory reads (everything else is kept in the raw JSON). */
export interface ImageConfig {
  architecture?: string
  os?: string
  variant?: string
  created?: string
  config?: {
    Env?: string[]
    Entrypoint?: string[]
    Cmd?: string[]
    WorkingDir?: string
    Labels?: Record<string, string>
  }
  rootfs?: { type: string; diff_ids: string[] }
  history?: unknown[]
}

/** A parsed manifest document, discriminated by kind. */
export type ParsedManifest =
  | { kind: 'image'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: ImageIndex }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkDescriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v) || typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || !isDigest(v.digest) || typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new UpstreamUnavailableError(`malformed descriptor in ${where}`)
  }
  if (v.platform !== undefined && (!isRecord(v.platform) || typeof v.platform.os !== 'string' || typeof v.platform.architecture !== 'string')) {
    throw new UpstreamUnavailableError(`malformed platform in ${where}`)
  }
  return v as unknown as Descriptor
}

/**
 * Parses manifest bytes. `contentType` is the registry's Content-Type (may be empty or generic);
 * the document's own `mediaType` wins when present, and otherwise the shape decides.
 * Throws UpstreamUnavailableError for malformed or unsupported documents (e.g. Docker schema1).
 */
export function parseManifest(bytes: Uint8Array, contentType: string, where: string): ParsedManifest {
  let doc: unknown
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new UpstreamUnavailableError(`manifest ${where} is not valid JSON`)
  }
  if (!isRecord(doc)) throw new UpstreamUnavailableError(`manifest ${where} is not a JSON object`)
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : ''
  const header = contentType.split(';')[0]?.trim() ?? ''
  let mediaType = declared || header
  if (!isIndexType(mediaType) && !isImageManifestType(mediaType)) {
    // Untyped OCI documents: decide by shape.
    if (Array.isArray(doc.manifests)) mediaType = 'application/vnd.oci.image.index.v1+json'
    else if (isRecord(doc.config) && Array.isArray(doc.layers)) mediaType = 'application/vnd.oci.image.manifest.v1+json'
    else throw new UpstreamUnavailableError(`manifest ${where} has unsupported media type ${JSON.stringify(mediaType || 'unknown')}`)
  }
  if (doc.schemaVersion !== 2) throw new UpstreamUnavailableError(`manifest ${where} has unsupported schemaVersion ${String(doc.schemaVersion)}`)
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new UpstreamUnavailableError(`index ${where} has no manifests list`)
    doc.manifests.forEach((d) => checkDescriptor(d, where))
    return { kind: 'index', mediaType, manifest: doc as unknown as ImageIndex }
  }
  if (!Array.isArray(doc.layers)) throw new UpstreamUnavailableError(`manifest ${where} has no layers list`)
  checkDescriptor(doc.config, where)
  doc.layers.forEach((d) => checkDescriptor(d, where))
  return { kind: 'image', mediaType, manifest: doc as unknown as ImageManifest }
}

/** Parses an image config blob; throws UpstreamUnavailableError when it is not a JSON object. */
export function parseImageConfig(bytes: Uint8Array, where: string): ImageConfig {
  let doc: unknown
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new UpstreamUnavailableError(`image config ${where} is not valid JSON`)
  }
  if (!isRecord(doc)) throw new UpstreamUnavailableError(`image config ${where} is not a JSON object`)
  return doc as ImageConfig
}

/** Parses `linux/amd64`, `linux/arm/v7`, or a bare architecture (`arm64` → linux/arm64). */
export function parsePlatform(value: string): Platform {
  const parts = value.split('/')
  if (parts.length === 1 && parts[0]) return { os: 'linux', architecture: parts[0] }
  const [os, architecture, variant] = parts
  if (!os || !architecture || parts.length > 3) throw new InvalidInputError(`invalid platform ${JSON.stringify(value)}`)
  return variant ? { os, architecture, variant } : { os, architecture }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`
}

/** arm64 images usually carry variant v8 (or none); treat both as the same platform. */
function variantMatches(want: Platform, have: Platform): boolean {
  if (!want.variant) return true
  if (want.architecture === 'arm64' && (want.variant === 'v8') && (!have.variant || have.variant === 'v8')) return true
  return want.variant === have.variant
}

/**
 * Picks the index entry for a platform: same os and architecture, and the variant when one is
 * asked for. Throws NotFoundError naming `where` when the index has none.
 */
export function selectPlatform(index: ImageIndex, platform: Platform, where: string): Descriptor {
  const found = index.manifests.find(
    (d) => d.platform !== undefined && d.platform.os === platform.os && d.platform.architecture === platform.architecture && variantMatches(platform, d.platform),
  )
  if (!found) {
    const have = index.manifests.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : [])).join(', ')
    throw new NotFoundError(`no ${formatPlatform(platform)} image in ${where} (has: ${have || 'none'})`)
  }
  return found
}
