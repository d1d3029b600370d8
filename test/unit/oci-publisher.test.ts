/**
 * Publish order and failure semantics of installer indexes (factory-spec §8.4 step 6, the
 * reference's registry_publish_test): blobs and per-arch manifests, the index by digest, the
 * signature, its read-back verification, and only then the version tag — a failure before the tag
 * leaves it absent and the next request publishes again. Concurrent requests share one publish.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalLock } from '../../builder/lock.ts'
import { InstallerPublisher } from '../../edge/registry/publisher.ts'
import { parseInstallerImage } from '../../edge/registry/routing.ts'
import type { AssetService } from '../../edge/assets.ts'
import { silentLogger } from '../../src/log.ts'
import { readOrCreateCosignKey, signatureTag } from '../../src/oci/cosign.ts'
import { digestOf } from '../../src/oci/digest.ts'
import { dockerArchiveChunks } from '../../src/oci/docker-archive.ts'
import { FsOciStore } from '../../src/oci/fs-store.ts'
import type { OciTarget, StoredManifest } from '../../src/oci/target.ts'

let dir: string
const tarballs: Record<string, string> = {}
const ID = 'c'.repeat(64)
const image = parseInstallerImage('metal-installer')!

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oci-publisher-'))
  for (const arch of ['amd64', 'arm64']) {
    const layer = new TextEncoder().encode(`layer of ${arch}`)
    const config = new TextEncoder().encode(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }))
    const chunks: Uint8Array[] = []
    for await (const c of dockerArchiveChunks({ config, layers: [{ digest: digestOf(layer), size: layer.byteLength, data: layer }], repoTags: [] })) chunks.push(c)
    tarballs[arch] = join(dir, `${arch}.tar`)
    await writeFile(tarballs[arch], Buffer.concat(chunks))
  }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The pipeline's two calls, answering from the prepared tarballs; counts builds. */
function fakeAssets() {
  const calls = { ensure: 0 }
  const assets = {
    plan: async (_s: string, _v: string, path: string) => ({ job: { path } }),
    ensure: async (job: { path: string }) => {
      calls.ensure++
      return { path: tarballs[job.path.includes('arm64') ? 'arm64' : 'amd64'] }
    },
  } as unknown as Pick<AssetService, 'plan' | 'ensure'>
  return { assets, calls }
}

/** Records every write and can fail one of them. */
class Recording implements OciTarget {
  readonly log: string[] = []
  failOn: ((step: string) => boolean) | null = null
  constructor(private readonly inner: FsOciStore) {}
  private step(s: string): void {
    this.log.push(s)
    if (this.failOn?.(s)) throw new Error(`injected failure at ${s}`)
  }
  hasBlob(repo: string, digest: string) {
    return this.inner.hasBlob(repo, digest)
  }
  async putBlob(repo: string, digest: string, size: number, data: Uint8Array | ReadableStream<Uint8Array>) {
    this.step('blob')
    return this.inner.putBlob(repo, digest, size, data)
  }
  async putManifest(repo: string, bytes: Uint8Array, mediaType: string, tag?: string) {
    const kind = mediaType.includes('index') ? 'index' : mediaType.includes('docker') ? 'image' : 'signature'
    this.step(tag === undefined ? `${kind}@digest` : tag.endsWith('.sig') ? `${kind}:sig` : `${kind}:${tag}`)
    return this.inner.putManifest(repo, bytes, mediaType, tag)
  }
  resolveTag(repo: string, tag: string) {
    return this.inner.resolveTag(repo, tag)
  }
  async getManifest(repo: string, ref: string): Promise<StoredManifest | null> {
    return this.inner.getManifest(repo, ref)
  }
  getBlobBytes(repo: string, digest: string, max: number) {
    return this.inner.getBlobBytes(repo, digest, max)
  }
}

async function setup() {
  const root = await mkdtemp(join(dir, 'store-'))
  const store = new FsOciStore(root)
  const target = new Recording(store)
  const { assets, calls } = fakeAssets()
  const key = await readOrCreateCosignKey(join(root, 'keys', 'cosign.pem'))
  const publisher = new InstallerPublisher({ assets, target, key, lock: new LocalLock(), log: silentLogger, dockerReference: (r) => `factory.test/${r}`, lockWaitMs: 1000 })
  return { store, target, calls, publisher }
}

describe('InstallerPublisher', () => {
  test('order: blobs and per-arch manifests, index by digest, signature, then the tag', async () => {
    const { target, publisher, store } = await setup()
    const digest = await publisher.ensure(image, ID, 'v1.12.0')
    // the two architectures are imported concurrently; the milestones after them are strictly ordered
    const milestones = target.log.filter((s) => s !== 'blob')
    expect(milestones).toEqual(['image@digest', 'image@digest', 'index@digest', 'signature:sig', 'index:v1.12.0'])
    const at = (s: string) => target.log.indexOf(s)
    expect(target.log.lastIndexOf('image@digest')).toBeLessThan(at('index@digest'))
    expect(target.log.slice(at('index@digest'), at('signature:sig'))).toContain('blob') // payload and config before the signature manifest
    expect(await store.resolveTag(`metal-installer/${ID}`, 'v1.12.0')).toBe(digest)
    expect(await store.resolveTag(`metal-installer/${ID}`, signatureTag(digest))).not.toBeNull()
    const index = JSON.parse(new TextDecoder().decode((await store.getManifest(`metal-installer/${ID}`, digest))!.bytes)) as { manifests: { platform: { architecture: string } }[] }
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64'])
  })

  test('a failure while signing leaves the version untagged; the next request publishes again', async () => {
    const { target, publisher, store, calls } = await setup()
    target.failOn = (s) => s === 'signature:sig'
    await expect(publisher.ensure(image, ID, 'v1.12.0')).rejects.toThrow('injected failure')
    expect(await store.resolveTag(`metal-installer/${ID}`, 'v1.12.0')).toBeNull()
    expect(publisher.counters.published).toBe(0)
    target.failOn = null
    const digest = await publisher.ensure(image, ID, 'v1.12.0')
    expect(await store.resolveTag(`metal-installer/${ID}`, 'v1.12.0')).toBe(digest)
    expect(publisher.counters.published).toBe(1)
    expect(calls.ensure).toBe(4)
  })

  test('concurrent requests share one publish; a published index is not published again', async () => {
    const { publisher, calls } = await setup()
    const digests = await Promise.all(Array.from({ length: 10 }, () => publisher.ensure(image, ID, 'v1.12.0')))
    expect(new Set(digests).size).toBe(1)
    expect(publisher.counters.published).toBe(1)
    expect(publisher.counters.joined).toBe(9)
    expect(calls.ensure).toBe(2)
    expect(await publisher.published(image, ID, 'v1.12.0')).toBe(digests[0]!)
    await publisher.ensure(image, ID, 'v1.12.0')
    expect(publisher.counters.published).toBe(1)
  })
})
