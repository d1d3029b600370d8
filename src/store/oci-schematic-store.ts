/**
 * Schematics stored in an OCI registry with the reference's layout (factory-spec §4.7), so several
 * nodes (and the official factory) can share one repository:
 *
 * - the canonical YAML bytes are a blob whose digest is `sha256:<schematic id>`;
 * - an OCI image manifest tagged `<id>` holds that blob as its single layer, media type
 *   `application/vnd.sidero.dev-image.schematic`. The manifest exists only so that registry
 *   garbage collection keeps the blob. Its config is the two-byte JSON `{}` typed
 *   `application/vnd.oci.image.config.v1+json` (not the OCI 1.1 "empty" type), because common
 *   clients such as skopeo refuse to inspect manifests whose config is not an image config;
 * - get/has read the blob `sha256:<id>` directly; a registry 404 means "unknown schematic".
 */
import { InvalidInputError, NotFoundError } from '../errors.ts'
import type { RegistryClient } from '../oci/client.ts'
import { digestOf } from '../oci/digest.ts'
import { OCI_CONFIG, OCI_MANIFEST, SCHEMATIC_LAYER } from '../oci/media-types.ts'
import { isSchematicId, type SchematicStore } from './schematic-store.ts'

export const DEFAULT_SCHEMATIC_REPOSITORY = 'siderolabs/image-factory/schematics'

const EMPTY_CONFIG = new TextEncoder().encode('{}')
/** Canonical schematics are small; anything bigger in the registry is not ours. */
const MAX_SCHEMATIC_BYTES = 4 * 1024 * 1024

export interface OciSchematicStoreOptions {
  client: RegistryClient
  /** Repository path in the client's registry (default `siderolabs/image-factory/schematics`). */
  repository?: string
}

export class OciSchematicStore implements SchematicStore {
  private readonly client: RegistryClient
  readonly repository: string

  constructor(opts: OciSchematicStoreOptions) {
    this.client = opts.client
    this.repository = opts.repository ?? DEFAULT_SCHEMATIC_REPOSITORY
  }

  async get(id: string): Promise<Uint8Array | null> {
    if (!isSchematicId(id)) return null
    try {
      return await this.client.getBlobBytes(this.repository, `sha256:${id}`, { maxBytes: MAX_SCHEMATIC_BYTES })
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
  }

  async has(id: string): Promise<boolean> {
    if (!isSchematicId(id)) return false
    return this.client.blobExists(this.repository, `sha256:${id}`)
  }

  async put(id: string, canonical: Uint8Array): Promise<void> {
    if (!isSchematicId(id)) throw new InvalidInputError(`invalid schematic ID ${JSON.stringify(id)}`)
    const digest = digestOf(canonical)
    if (digest !== `sha256:${id}`) throw new InvalidInputError(`schematic ID ${id} does not match its content (${digest})`)
    if ((await this.client.headManifest(this.repository, id)) && (await this.client.blobExists(this.repository, digest))) return
    await this.client.pushBlob(this.repository, canonical, digest)
    const config = await this.client.pushBlob(this.repository, EMPTY_CONFIG)
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: SCHEMATIC_LAYER, digest, size: canonical.byteLength }],
    }
    await this.client.putManifest(this.repository, id, new TextEncoder().encode(JSON.stringify(manifest)), OCI_MANIFEST)
  }
}
