/**
 * Publishes an installer image for (image, schematic, version) — factory-spec §8.4 steps 5–6:
 * both architectures are built through the normal asset pipeline (one build per cache key in the
 * cluster, through the builder and its lock), each `docker save` tarball is imported into the
 * target (blobs by digest, a Docker schema2 manifest per architecture), then a multi-arch OCI
 * index is pushed by digest, signed, the signature read back and verified, and only then tagged
 * with the version — a failure before the tag leaves the tag absent.
 *
 * One publish per (image, schematic, version): single flight in this process, the cluster lock
 * across nodes (a node that loses the race waits and re-reads the tag).
 */
import type { KeyObject } from 'node:crypto'
import type { BuildLock } from '../../builder/lock.ts'
import { InvalidInputError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import { detectCompression } from '../../src/oci/compression.ts'
import { signatureTag, signImage, verifyImageSignature, type CosignKey } from '../../src/oci/cosign.ts'
import { archiveNameDigest, readDockerArchive } from '../../src/oci/docker-archive.ts'
import { digestOf } from '../../src/oci/digest.ts'
import type { Descriptor } from '../../src/oci/manifest.ts'
import { DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_INDEX, OCI_LAYER_ZSTD } from '../../src/oci/media-types.ts'
import type { OciTarget } from '../../src/oci/target.ts'
import { SingleFlight } from '../../src/single-flight.ts'
import type { AssetService } from '../assets.ts'
import { installerAssetPath, type InstallerImage } from './routing.ts'

const ARCHES = ['amd64', 'arm64'] as const
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar'
const MAX_CONFIG_BYTES = 16 * 1024 * 1024
/** verified signatures remembered (oldest forgotten first) */
const MAX_VERIFIED = 10_000

export interface PublisherDeps {
  /** the asset pipeline: plan the installer tarball of an arch, build it (or find it) */
  assets: Pick<AssetService, 'plan' | 'ensure'>
  target: OciTarget
  key: CosignKey
  lock: BuildLock
  log: Logger
  /** `docker-reference` written into signatures for a repository */
  dockerReference(repo: string): string
  /** how long a node waits for another node's publish before trying itself */
  lockWaitMs: number
  /** called (not awaited) after each publish, e.g. to keep the store within its bound */
  afterPublish?: () => void
}

export interface PublishCounters {
  /** indexes this node published */
  published: number
  /** requests that joined a publish already running here */
  joined: number
  /** publishes another node did while this one waited */
  peer: number
}

/** Reads the first chunk of a stream and gives back an equivalent stream. */
async function peekFirst(stream: ReadableStream<Uint8Array>): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader()
  const first = await reader.read()
  const head = first.done ? new Uint8Array(0) : first.value
  let sentHead = false
  return {
    head,
    stream: new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sentHead) {
          sentHead = true
          if (head.byteLength > 0) controller.enqueue(head)
          if (first.done) controller.close()
          return
        }
        const r = await reader.read()
        if (r.done) controller.close()
        else controller.enqueue(r.value)
      },
      async cancel(reason) {
        await reader.cancel(reason)
      },
    }),
  }
}

function layerMediaType(head: Uint8Array): string {
  const c = detectCompression(head)
  return c === 'gzip' ? DOCKER_LAYER_GZIP : c === 'zstd' ? OCI_LAYER_ZSTD : DOCKER_LAYER
}

/**
 * Imports a docker archive into `repo` of `target`: blobs the repository lacks are copied (verified
 * against the names the archive gives them), and a Docker schema2 manifest is pushed by digest.
 * Returns the manifest's descriptor.
 */
export async function importDockerArchive(target: OciTarget, repo: string, archive: ReadableStream<Uint8Array>): Promise<Descriptor> {
  let configBytes: Uint8Array | undefined
  const layerTypes = new Map<string, { size: number; mediaType: string }>()
  const manifest = await readDockerArchive(archive, (blob) => {
    return (async () => {
      if (blob.kind === 'config') {
        // small JSON, kept in memory for the manifest
        if (blob.size > MAX_CONFIG_BYTES) throw new InvalidInputError('docker archive config is too large')
        const chunks: Uint8Array[] = []
        for await (const c of blob.open()) chunks.push(c)
        configBytes = Buffer.concat(chunks)
        if (digestOf(configBytes) !== blob.digest) throw new InvalidInputError(`docker archive config does not match ${blob.digest}`)
        await target.putBlob(repo, blob.digest, blob.size, configBytes)
        return
      }
      const { head, stream } = await peekFirst(blob.open())
      layerTypes.set(blob.digest, { size: blob.size, mediaType: layerMediaType(head) })
      if (await target.hasBlob(repo, blob.digest)) await stream.cancel().catch(() => {})
      else await target.putBlob(repo, blob.digest, blob.size, stream)
    })()
  })
  const configDigest = archiveNameDigest(manifest.Config)
  if (!configBytes || digestOf(configBytes) !== configDigest) throw new InvalidInputError('docker archive has no readable config')
  const layers = manifest.Layers.map((name) => {
    const digest = archiveNameDigest(name)
    const l = layerTypes.get(digest)
    if (!l) throw new InvalidInputError(`docker archive lacks layer ${name}`)
    return { mediaType: l.mediaType, size: l.size, digest }
  })
  const bytes = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: DOCKER_CONFIG, size: configBytes.byteLength, digest: configDigest }, layers }),
  )
  const digest = await target.putManifest(repo, bytes, DOCKER_MANIFEST)
  return { mediaType: DOCKER_MANIFEST, digest, size: bytes.byteLength }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export class InstallerPublisher {
  readonly counters: PublishCounters = { published: 0, joined: 0, peer: 0 }
  private readonly flights = new SingleFlight<string>()
  /** `<repo>@<index digest>` → digest of the signature manifest that verified */
  private readonly verified = new Map<string, string>()

  constructor(private readonly deps: PublisherDeps) {}

  get publicKey(): KeyObject {
    return this.deps.key.publicKey
  }

  /** PKIX PEM of the signing key's public half (`/oci/cosign/signing-key.pub`). */
  get publicKeyPem(): string {
    return this.deps.key.publicPem
  }

  /**
   * The index digest `version` is tagged with in `repo` when its signature verifies, else null.
   * A signature manifest already verified for that digest is not verified again (its digest pins
   * its content): a warm pull costs two tag lookups, not a signature check.
   */
  async verifiedTag(repo: string, version: string): Promise<string | null> {
    const { target } = this.deps
    const digest = await target.resolveTag(repo, version)
    if (!digest) return null
    const sig = await target.resolveTag(repo, signatureTag(digest))
    const memoKey = `${repo}@${digest}`
    if (sig !== null && this.verified.get(memoKey) === sig) return digest
    if (sig !== null && (await verifyImageSignature(target, repo, digest, this.deps.key.publicKey))) {
      if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value as string)
      this.verified.set(memoKey, sig)
      return digest
    }
    this.deps.log.warn('published installer index has no valid signature; rebuilding', { repo, version, digest })
    return null
  }

  /**
   * The signed index digest when it is published already (the common, warm case), without joining
   * a publish; null when a publish is needed.
   */
  published(image: InstallerImage, schematic: string, version: string): Promise<string | null> {
    return this.verifiedTag(`${image.name}/${schematic}`, version)
  }

  /**
   * The signed index digest for (image, schematic, version), publishing it when needed. The work
   * is detached from the caller: a client that goes away does not cancel a publish others wait on.
   */
  ensure(image: InstallerImage, schematic: string, version: string, requestId?: string): Promise<string> {
    const repo = `${image.name}/${schematic}`
    const key = `${repo}:${version}`
    let joined = true
    const p = this.flights.run(key, async () => {
      joined = false
      return this.publishLocked(image, schematic, version, repo, requestId)
    })
    if (joined) this.counters.joined++
    return p
  }

  private async publishLocked(image: InstallerImage, schematic: string, version: string, repo: string, requestId?: string): Promise<string> {
    const lockKey = `publish:${repo}:${version}`
    for (let attempt = 0; attempt < 5; attempt++) {
      const done = await this.verifiedTag(repo, version)
      if (done) return done
      const handle = await this.deps.lock.tryAcquire(lockKey)
      if (!handle) {
        await this.deps.lock.waitForRelease(lockKey, this.deps.lockWaitMs)
        const peer = await this.verifiedTag(repo, version)
        if (peer) {
          this.counters.peer++
          return peer
        }
        const failure = await this.deps.lock.lastFailure(lockKey)
        if (failure !== null) throw new InvalidInputError(failure)
        continue
      }
      let failure: string | undefined
      try {
        const again = await this.verifiedTag(repo, version)
        if (again) return again
        return await this.publish(image, schematic, version, repo, requestId)
      } catch (err) {
        if (err instanceof InvalidInputError) failure = err.message
        throw err
      } finally {
        await handle.release(failure)
      }
    }
    throw new Error(`could not publish ${repo}:${version}: other nodes kept failing`)
  }

  private async publish(image: InstallerImage, schematic: string, version: string, repo: string, requestId?: string): Promise<string> {
    const { assets, target, log } = this.deps
    const started = performance.now()
    log.info('building installer image', { repo, version, request_id: requestId })
    const manifests = await Promise.all(
      ARCHES.map(async (arch) => {
        const planned = await assets.plan(schematic, version, installerAssetPath(image, arch))
        for (let attempt = 0; ; attempt++) {
          const { path } = await assets.ensure(planned.job, requestId)
          try {
            const d = await importDockerArchive(target, repo, Bun.file(path).stream())
            return { ...d, platform: { architecture: arch, os: 'linux' } }
          } catch (err) {
            // the asset store may evict the tarball between ensure and import: build it again once
            if (attempt > 0 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
          }
        }
      }),
    )
    log.info('publishing installer image', { repo, version, request_id: requestId })
    const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }))
    const digest = await target.putManifest(repo, index, OCI_INDEX)
    await signImage(target, repo, digest, this.deps.dockerReference(repo), this.deps.key)
    // read-after-write: a registry behind a cache may not show the signature at once
    let verified = false
    for (let delay = 250, waited = 0; !verified; waited += delay, delay = Math.min(delay * 2, 4000)) {
      verified = await verifyImageSignature(target, repo, digest, this.deps.key.publicKey)
      if (verified) break
      if (waited >= 30_000) throw new Error(`signature of ${repo}@${digest} did not verify after publishing`)
      await sleep(delay)
    }
    await target.putManifest(repo, index, OCI_INDEX, version)
    this.counters.published++
    this.deps.afterPublish?.()
    log.info('published installer image', { repo, version, digest, publish_ms: Math.round(performance.now() - started), request_id: requestId })
    return digest
  }
}
