/**
 * Reads one platform's image out of an OCI image layout directory (image-spec "image layout"):
 * `index.json` → (nested index →) image manifest → config and layer blob files. Every JSON document
 * read is checked against its digest; layer blobs are only located (they are streamed by callers).
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../errors.ts'
import { digestOf, parseDigest } from './digest.ts'
import { parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from './manifest.ts'

export interface LayoutImage {
  /** digest of the image manifest */
  digest: string
  mediaType: string
  manifest: ImageManifest
  /** the config blob exactly as stored */
  configBytes: Uint8Array
  config: ImageConfig
  /** layer descriptors with the path of each blob file */
  layers: { descriptor: Descriptor; path: string }[]
}

export function layoutBlobPath(dir: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest)
  return join(dir, 'blobs', algorithm, hex)
}

async function readBlob(dir: string, d: Descriptor, what: string, max = 16 * 1024 * 1024): Promise<Uint8Array> {
  if (d.size > max) throw new InvalidInputError(`${what} ${d.digest} in ${dir} is too large`)
  let bytes: Uint8Array
  try {
    bytes = await readFile(layoutBlobPath(dir, d.digest))
  } catch {
    throw new InvalidInputError(`${what} ${d.digest} is missing from the OCI layout ${dir}`)
  }
  if (digestOf(bytes, parseDigest(d.digest).algorithm) !== d.digest) throw new InvalidInputError(`${what} ${d.digest} in ${dir} does not match its digest`)
  return bytes
}

/**
 * The `linux/<arch>` image of the layout: an index entry with that platform (possibly through a
 * nested index), or the only image manifest whose config says that architecture.
 */
export async function readLayoutImage(dir: string, arch: string): Promise<LayoutImage> {
  let top: unknown
  try {
    top = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))
  } catch {
    throw new InvalidInputError(`${dir} is not an OCI image layout (no readable index.json)`)
  }
  const bytes = new TextEncoder().encode(JSON.stringify(top))
  let current = parseManifest(bytes, '', `${dir}/index.json`)
  let depth = 0
  let chosen: Descriptor | undefined
  while (current.kind === 'index') {
    if (++depth > 3) throw new InvalidInputError(`OCI layout ${dir} nests indexes too deeply`)
    const entries = current.manifest.manifests
    const match = entries.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? (entries.length === 1 ? entries[0] : undefined)
    if (!match) throw new InvalidInputError(`OCI layout ${dir} has no linux/${arch} image`)
    chosen = match
    current = parseManifest(await readBlob(dir, match, 'manifest'), match.mediaType, `${dir}@${match.digest}`)
  }
  if (!chosen) throw new InvalidInputError(`OCI layout ${dir} has no image index`)
  const manifest = current.manifest
  const configBytes = await readBlob(dir, manifest.config, 'config')
  const config = parseImageConfig(configBytes, `${dir}@${manifest.config.digest}`)
  if (config.architecture !== undefined && config.architecture !== arch) {
    throw new InvalidInputError(`OCI layout ${dir}: image is ${config.architecture}, not ${arch}`)
  }
  const layers = []
  for (const d of manifest.layers) {
    const path = layoutBlobPath(dir, d.digest)
    const st = await stat(path).catch(() => null)
    if (!st || st.size !== d.size) throw new InvalidInputError(`layer ${d.digest} is missing from the OCI layout ${dir}`)
    layers.push({ descriptor: d, path })
  }
  return { digest: chosen.digest, mediaType: current.mediaType, manifest, configBytes, config, layers }
}
