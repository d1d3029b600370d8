/**
 * OciTarget backed by a registry (the reference's `artifacts.installer.internal` repository):
 * published installer images are pushed there, and the edge redirects or proxies pulls to it.
 */
import { NotFoundError } from '../errors.ts'
import type { RegistryClient } from './client.ts'
import { digestOf } from './digest.ts'
import type { OciTarget, StoredManifest } from './target.ts'

export class RegistryTarget implements OciTarget {
  /** `client` carries the namespace (e.g. `siderolabs`) in front of every repository. */
  constructor(readonly client: RegistryClient) {}

  hasBlob(repo: string, digest: string): Promise<boolean> {
    return this.client.blobExists(repo, digest)
  }

  async putBlob(repo: string, digest: string, _size: number, data: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    await this.client.pushBlob(repo, data, digest)
  }

  async putManifest(repo: string, bytes: Uint8Array, mediaType: string, tag?: string): Promise<string> {
    const digest = digestOf(bytes)
    await this.client.putManifest(repo, digest, bytes, mediaType)
    if (tag !== undefined) await this.client.putManifest(repo, tag, bytes, mediaType)
    return digest
  }

  async resolveTag(repo: string, tag: string): Promise<string | null> {
    return (await this.client.headManifest(repo, tag))?.digest ?? null
  }

  async getManifest(repo: string, ref: string): Promise<StoredManifest | null> {
    try {
      const got = await this.client.getManifest(repo, ref)
      return { digest: got.digest, mediaType: got.mediaType, bytes: got.bytes }
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
  }

  async getBlobBytes(repo: string, digest: string, maxBytes: number): Promise<Uint8Array | null> {
    try {
      return await this.client.getBlobBytes(repo, digest, { maxBytes })
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
  }
}
