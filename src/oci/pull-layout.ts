/**
 * Pulls one platform's image from a registry into an OCI image layout directory, blobs unchanged
 * (the installer reuses base layers by digest, so they must never be re-compressed).
 *
 * The directory is named by the image manifest's digest and published with a rename once
 * complete, so a reader (another build, another node on the same data directory) sees either
 * nothing or the whole layout, and a tag that moves upstream gets a new directory.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathExists } from '../fs-util.ts'
import type { RegistryClient } from './client.ts'
import { digestOf } from './digest.ts'
import { layoutBlobPath } from './layout-reader.ts'

export interface PulledLayout {
  dir: string
  /** digest of the platform's image manifest */
  digest: string
}

/** `repo:ref` for `linux/<arch>` into `<parent>/<arch>-<manifest hex>/` (reused when present). */
export async function pullToLayout(client: RegistryClient, repo: string, ref: string, arch: string, parent: string): Promise<PulledLayout> {
  const image = await client.resolveImage(repo, ref, arch)
  const dir = join(parent, `${arch}-${image.digest.replace(':', '-')}`)
  if (await pathExists(join(dir, 'index.json'))) return { dir, digest: image.digest }
  await mkdir(parent, { recursive: true })
  const tmp = join(parent, `.tmp-${randomBytes(6).toString('hex')}`)
  try {
    await mkdir(join(tmp, 'blobs', 'sha256'), { recursive: true })
    await writeFile(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    for (const layer of image.manifest.layers) {
      await client.blobToFile(repo, layer.digest, layoutBlobPath(tmp, layer.digest), { size: layer.size })
    }
    const configBytes = await client.getBlobBytes(repo, image.manifest.config.digest, { maxBytes: 16 * 1024 * 1024 })
    await writeFile(layoutBlobPath(tmp, digestOf(configBytes)), configBytes)
    await writeFile(layoutBlobPath(tmp, image.digest), image.bytes)
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.bytes.byteLength, platform: { architecture: arch, os: 'linux' } }],
    }
    await writeFile(join(tmp, 'index.json'), JSON.stringify(index))
    try {
      await rename(tmp, dir)
    } catch (err) {
      // another process published the same digest first: theirs is identical
      if (!(await pathExists(join(dir, 'index.json')))) throw err
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return { dir, digest: image.digest }
}
