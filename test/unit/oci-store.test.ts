/**
 * The factory's OCI store, cosign signatures and docker archives without a server: content
 * addressing and verification, repository scoping, atomic tags, damaged files read as misses,
 * signatures that fail on any change, keys generated once for racing nodes, and docker archives
 * that round-trip through our reader and GNU tar.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto'
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readOrCreateCosignKey, signatureTag, signImage, simpleSigningPayload, verifyImageSignature } from '../../src/oci/cosign.ts'
import { digestOf } from '../../src/oci/digest.ts'
import { dockerArchiveChunks, readDockerArchive } from '../../src/oci/docker-archive.ts'
import { FsOciStore } from '../../src/oci/fs-store.ts'
import { OCI_INDEX } from '../../src/oci/media-types.ts'

const dirs: string[] = []
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'oci-store-'))
  dirs.push(d)
  return d
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const enc = (s: string) => new TextEncoder().encode(s)
const streamOf = (...chunks: Uint8Array[]) => new ReadableStream<Uint8Array>({ start: (c) => (chunks.forEach((x) => c.enqueue(x)), c.close()) })
const REPO = `installer/${'a'.repeat(64)}`
const OTHER = `installer/${'b'.repeat(64)}`
const INDEX = enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }))

describe('FsOciStore', () => {
  test('blobs are verified against their digest and written whole or not at all', async () => {
    const store = new FsOciStore(await tmp())
    const data = enc('layer bytes')
    const digest = digestOf(data)
    await expect(store.putBlob(REPO, digest, data.byteLength, streamOf(enc('other bytes!')))).rejects.toThrow()
    expect(await store.hasBlob(REPO, digest)).toBe(false)
    expect((await readdir(store.blobsDir)).filter((n) => !n.startsWith('.'))).toEqual([])
    expect((await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp'))).toEqual([])
    await store.putBlob(REPO, digest, data.byteLength, streamOf(data.subarray(0, 3), data.subarray(3)))
    expect(await store.getBlobBytes(REPO, digest, 1024)).toEqual(data)
  })

  test('repositories only see what was published into them; the public tree links to the blob', async () => {
    const root = await tmp()
    const store = new FsOciStore(root)
    const data = enc('scoped')
    const digest = digestOf(data)
    await store.putBlob(REPO, digest, data.byteLength, data)
    expect(await store.hasBlob(OTHER, digest)).toBe(false)
    expect(await readlink(join(root, 'public', 'v2'))).toBe('../oci/repos')
    expect(await readFile(join(root, 'public', 'v2', ...REPO.split('/'), 'blobs', digest), 'utf8')).toBe('scoped')
    // the same blob published into another repository is stored once
    await store.putBlob(OTHER, digest, data.byteLength, data)
    expect((await readdir(store.blobsDir)).filter((n) => !n.startsWith('.'))).toEqual([digest.slice(7)])
  })

  test('manifests by digest and tag; tags move atomically; unknown refs are null', async () => {
    const store = new FsOciStore(await tmp())
    const digest = await store.putManifest(REPO, INDEX, OCI_INDEX, 'v1.10.0')
    expect(digest).toBe(digestOf(INDEX))
    expect(await store.getManifest(REPO, 'v1.10.0')).toEqual({ digest, mediaType: OCI_INDEX, bytes: INDEX })
    expect(await store.getManifest(REPO, digest)).not.toBeNull()
    expect(await store.getManifest(OTHER, digest)).toBeNull()
    expect(await store.getManifest(REPO, 'v9.9.9')).toBeNull()
    expect(await store.getManifest(REPO, '../../x')).toBeNull()
    const next = enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { n: '2' } }))
    await store.putManifest(REPO, next, OCI_INDEX, 'v1.10.0')
    expect((await store.getManifest(REPO, 'v1.10.0'))?.digest).toBe(digestOf(next))
    expect(await store.listTags(REPO)).toEqual(['v1.10.0'])
    await expect(store.putManifest(REPO, enc('not json'), OCI_INDEX)).rejects.toThrow()
  })

  test('a damaged blob file is a miss, not bad bytes', async () => {
    const store = new FsOciStore(await tmp())
    const digest = await store.putManifest(REPO, INDEX, OCI_INDEX, 'v1')
    await writeFile(store.blobPath(digest), '{"schemaVersion":2,"manifests":[],"x":1}')
    expect(await store.getManifest(REPO, 'v1')).toBeNull()
  })
})

describe('cosign signatures', () => {
  test('sign → verify; another key, another digest or a changed payload do not verify', async () => {
    const store = new FsOciStore(await tmp())
    const key = await readOrCreateCosignKey(join(await tmp(), 'keys', 'cosign.pem'))
    const digest = await store.putManifest(REPO, INDEX, OCI_INDEX)
    expect(await verifyImageSignature(store, REPO, digest, key.publicKey)).toBe(false)
    await signImage(store, REPO, digest, `factory.example.com/${REPO}`, key)
    expect(await verifyImageSignature(store, REPO, digest, key.publicKey)).toBe(true)
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey
    expect(await verifyImageSignature(store, REPO, digest, stranger)).toBe(false)

    // the stored payload is the simple-signing document for exactly this digest
    const sig = (await store.getManifest(REPO, signatureTag(digest)))!
    const layer = (JSON.parse(new TextDecoder().decode(sig.bytes)) as { layers: { digest: string; annotations: Record<string, string> }[] }).layers[0]!
    const payload = (await store.getBlobBytes(REPO, layer.digest, 4096))!
    expect(payload).toEqual(simpleSigningPayload(`factory.example.com/${REPO}`, digest))
    const publicKey = createPublicKey(key.publicPem)
    expect(verify('sha256', payload, publicKey, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64'))).toBe(true)

    // a signature tag pointing at a signature of another digest does not count
    const other = await store.putManifest(REPO, enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { o: '1' } })), OCI_INDEX)
    await signImage(store, REPO, other, `factory.example.com/${REPO}`, key)
    await store.putManifest(REPO, (await store.getManifest(REPO, signatureTag(other)))!.bytes, 'application/vnd.oci.image.manifest.v1+json', signatureTag(digest))
    expect(await verifyImageSignature(store, REPO, digest, key.publicKey)).toBe(false)
  })

  test('a generated key is created once: racing nodes end up with the same key', async () => {
    const path = join(await tmp(), 'keys', 'cosign-signing-key.pem')
    const keys = await Promise.all(Array.from({ length: 8 }, () => readOrCreateCosignKey(path)))
    expect(new Set(keys.map((k) => k.publicPem)).size).toBe(1)
    expect(keys[0]!.publicPem).toStartWith('-----BEGIN PUBLIC KEY-----\n')
    expect((await readFile(path, 'utf8')).startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true)
  })
})

describe('docker archives', () => {
  test('written in docker-save layout; read back with every blob verified', async () => {
    const dir = await tmp()
    const layerA = enc('A'.repeat(3000))
    const layerB = enc('B'.repeat(10))
    await writeFile(join(dir, 'b.tar.gz'), layerB)
    const config = enc('{"architecture":"amd64","os":"linux"}')
    const chunks: Uint8Array[] = []
    for await (const c of dockerArchiveChunks({
      config,
      layers: [
        { digest: digestOf(layerA), size: layerA.byteLength, data: layerA },
        { digest: digestOf(layerB), size: layerB.byteLength, source: join(dir, 'b.tar.gz') },
        { digest: digestOf(layerA), size: layerA.byteLength, data: layerA },
      ],
      repoTags: ['ghcr.io/siderolabs/installer:v1.9.5'],
    }))
      chunks.push(c)
    const archive = Buffer.concat(chunks)
    await writeFile(join(dir, 'image.tar'), archive)
    const listing = Bun.spawnSync(['tar', '-tvf', join(dir, 'image.tar')]).stdout.toString().trim().split('\n')
    expect(listing.map((l) => l.split(/\s+/).at(-1))).toEqual([`sha256:${digestOf(config).slice(7)}`, `${digestOf(layerA).slice(7)}.tar.gz`, `${digestOf(layerB).slice(7)}.tar.gz`, 'manifest.json'])
    expect(listing.every((l) => l.startsWith('-rw-r--r-- 0/0'))).toBe(true)

    const seen: string[] = []
    const manifest = await readDockerArchive(streamOf(archive), (blob) =>
      (async () => {
        const got = Buffer.concat(await Array.fromAsync(blob.open()))
        seen.push(`${blob.kind}:${digestOf(got) === blob.digest}`)
      })(),
    )
    expect(seen).toEqual(['config:true', 'layer:true', 'layer:true'])
    expect(manifest).toEqual({
      Config: `sha256:${digestOf(config).slice(7)}`,
      RepoTags: ['ghcr.io/siderolabs/installer:v1.9.5'],
      Layers: [`${digestOf(layerA).slice(7)}.tar.gz`, `${digestOf(layerB).slice(7)}.tar.gz`, `${digestOf(layerA).slice(7)}.tar.gz`],
    })
    // skipping blobs reads the archive all the same
    expect(await readDockerArchive(streamOf(archive), () => false)).toEqual(manifest)
  })

  test('a consumer that stops after the first chunk of a large layer does not derail the reader', async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 2654435761) >>> 24)
    const small = enc('after the big one')
    const chunks: Uint8Array[] = []
    for await (const c of dockerArchiveChunks({ config: enc('{}'), layers: [{ digest: digestOf(big), size: big.byteLength, data: big }, { digest: digestOf(small), size: small.byteLength, data: small }], repoTags: [] })) chunks.push(c)
    const archive = Buffer.concat(chunks)
    // feed the archive in many small pieces, as a file stream would
    const pieces = Array.from({ length: Math.ceil(archive.byteLength / 65536) }, (_, i) => archive.subarray(i * 65536, (i + 1) * 65536))
    const got: string[] = []
    const manifest = await readDockerArchive(streamOf(...pieces), (blob) =>
      (async () => {
        const reader = blob.open().getReader()
        const first = await reader.read()
        if (blob.size > 1024 * 1024) {
          await reader.cancel()
          got.push(`stopped after ${first.value?.byteLength} bytes`)
          return
        }
        const rest: Uint8Array[] = first.value ? [first.value] : []
        for (;;) {
          const r = await reader.read()
          if (r.done) break
          rest.push(r.value)
        }
        got.push(`${blob.kind}:${digestOf(Buffer.concat(rest)) === blob.digest}`)
      })(),
    )
    expect(got[0]).toBe('config:true')
    expect(got[1]).toStartWith('stopped after')
    expect(got[2]).toBe('layer:true')
    expect(manifest.Layers).toHaveLength(2)
  })

  test('a blob whose bytes do not match its name fails the read', async () => {
    const layer = enc('real bytes')
    const chunks: Uint8Array[] = []
    for await (const c of dockerArchiveChunks({ config: enc('{}'), layers: [{ digest: digestOf(enc('claimed')), size: layer.byteLength, data: layer }], repoTags: [] })) chunks.push(c)
    const read = readDockerArchive(streamOf(Buffer.concat(chunks)), (blob) => (async () => void (await Array.fromAsync(blob.open())))())
    await expect(read).rejects.toThrow('digest mismatch')
  })
})

describe('store size bound', () => {
  /** Publishes a one-layer image + index + signature for `tag` in `repo`, sharing `base`. */
  async function publish(store: FsOciStore, repo: string, tag: string, base: Uint8Array, own: Uint8Array, key: Awaited<ReturnType<typeof readOrCreateCosignKey>>) {
    for (const b of [base, own]) await store.putBlob(repo, digestOf(b), b.byteLength, b)
    const config = enc(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }))
    await store.putBlob(repo, digestOf(config), config.byteLength, config)
    const layers = [base, own].map((b) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: b.byteLength, digest: digestOf(b) }))
    const manifest = enc(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.byteLength, digest: digestOf(config) }, layers }))
    const m = await store.putManifest(repo, manifest, 'application/vnd.docker.distribution.manifest.v2+json')
    const index = enc(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: manifest.byteLength, digest: m, platform: { architecture: 'amd64', os: 'linux' } }] }))
    const digest = await store.putManifest(repo, index, OCI_INDEX)
    await signImage(store, repo, digest, `factory.test/${repo}`, key)
    await store.putManifest(repo, index, OCI_INDEX, tag)
    return { digest, own: digestOf(own), base: digestOf(base) }
  }

  test('over the bound: the least recently used version goes with its own blobs; shared and newer ones stay', async () => {
    const { utimes } = await import('node:fs/promises')
    const { collectOciStore } = await import('../../src/oci/fs-store-gc.ts')
    const root = await tmp()
    const store = new FsOciStore(root)
    const key = await readOrCreateCosignKey(join(root, 'keys', 'k.pem'))
    const base = new Uint8Array(40_000).fill(1)
    const old = await publish(store, REPO, 'v1.9.5', base, new Uint8Array(30_000).fill(2), key)
    const recent = await publish(store, OTHER, 'v1.12.0', base, new Uint8Array(30_000).fill(3), key)
    const now = Date.now() + 3_600_000
    await utimes(join(store.reposDir, ...REPO.split('/'), 'tags', 'v1.9.5'), new Date(now - 600_000), new Date(now - 600_000))
    await utimes(join(store.reposDir, ...OTHER.split('/'), 'tags', 'v1.12.0'), new Date(now - 60_000), new Date(now - 60_000))

    // under the bound, or everything too young: nothing happens
    expect((await collectOciStore(store, { maxBytes: 10_000_000, now })).tagsRemoved).toEqual([])
    expect((await collectOciStore(store, { maxBytes: 1, graceMs: 10 * 3_600_000, now })).tagsRemoved).toEqual([])

    const r = await collectOciStore(store, { maxBytes: 80_000, graceMs: 1000, now })
    expect(r.tagsRemoved).toEqual([`${REPO}:v1.9.5`])
    expect(r.bytesAfter).toBeLessThan(r.bytesBefore)
    expect(await store.getManifest(REPO, 'v1.9.5')).toBeNull()
    expect(await store.hasBlob(REPO, old.own)).toBe(false)
    await expect(readFile(store.blobPath(old.own))).rejects.toThrow()
    // the newer image is whole, signed, and the shared base layer is still there
    expect((await store.getManifest(OTHER, 'v1.12.0'))?.digest).toBe(recent.digest)
    expect(await verifyImageSignature(store, OTHER, recent.digest, key.publicKey)).toBe(true)
    expect(await store.getBlobBytes(OTHER, recent.base, 100_000)).toEqual(base)
    expect(await store.hasBlob(OTHER, recent.own)).toBe(true)
  })
})
