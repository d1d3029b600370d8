/**
 * Where published installer images go: the factory's own store under the data directory
 * (fs-store.ts, the embedded default) or a configured registry (registry-target.ts). The
 * publisher and the signature code only use this interface.
 *
 * `repo` is the repository path inside the target (`<image>/<schematic>`; a registry target puts
 * its namespace in front).
 */
export interface StoredManifest {
  digest: string
  mediaType: string
  bytes: Uint8Array
}

export interface OciTarget {
  /** True when the repository already has the blob. */
  hasBlob(repo: string, digest: string): Promise<boolean>
  /** Stores a blob (bytes or a stream of exactly `size` bytes hashing to `digest`). */
  putBlob(repo: string, digest: string, size: number, data: Uint8Array | ReadableStream<Uint8Array>): Promise<void>
  /** Stores a manifest by digest and, when given, under `tag`; returns its digest. */
  putManifest(repo: string, bytes: Uint8Array, mediaType: string, tag?: string): Promise<string>
  /** The digest a tag points at, or null (cheaper than fetching the manifest). */
  resolveTag(repo: string, tag: string): Promise<string | null>
  /** A manifest by tag or digest, or null when the repository has none. */
  getManifest(repo: string, ref: string): Promise<StoredManifest | null>
  /** A small blob's bytes (verified), or null when the repository has none. */
  getBlobBytes(repo: string, digest: string, maxBytes: number): Promise<Uint8Array | null>
}
