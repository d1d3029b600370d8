/**
 * RegistryClient, extraction and the OCI schematic store against a real registry (Debian's
 * docker-registry via the test harness), cross-checked with skopeo where a real client matters.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidInputError, NotFoundError } from '../../src/errors.ts'
import { RegistryClient } from '../../src/oci/client.ts'
import { digestOf, digestOfFile } from '../../src/oci/digest.ts'
import { UnsafeArchiveError } from '../../src/oci/extract.ts'
import { extractImage, extractionRecordPath, readExtractionRecord } from '../../src/oci/extract-image.ts'
import { tarToBytes, withParentDirs } from '../../src/oci/tar-writer.ts'
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.ts'
import { OciSchematicStore } from '../../src/store/oci-schematic-store.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'

let reg: TestRegistry
let client: RegistryClient
let work: string

const enc = (s: string) => new TextEncoder().encode(s)
const json = (v: unknown) => enc(JSON.stringify(v))

beforeAll(async () => {
  reg = await startRegistry()
  client = new RegistryClient({ registry: reg.host, insecure: true })
  work = await mkdtemp(join(tmpdir(), 'oci-int-'))
})

afterAll(async () => {
  await reg?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

/** A gzip'ed tar of a directory tree, made with GNU tar (entries named `./…`). */
async function layerFrom(files: Record<string, string>, name: string): Promise<string> {
  const dir = join(work, `${name}-tree`)
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), content)
  }
  const out = join(work, `${name}.tar.gz`)
  const p = Bun.spawnSync(['tar', '--sort=name', '--owner=0', '--group=0', '-C', dir, '-czf', out, '.'])
  if (p.exitCode !== 0) throw new Error(p.stderr.toString())
  return out
}

/** Pushes a single-platform image (config + layers) and returns its manifest bytes. */
async function pushImage(repo: string, arch: string, layerPaths: string[]): Promise<Uint8Array> {
  const layers = []
  for (const path of layerPaths) {
    const pushed = await client.pushBlob(repo, path)
    layers.push({ mediaType: OCI_LAYER_GZIP, digest: pushed.digest, size: pushed.size })
  }
  const config = json({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: [`ARCH=${arch}`] } })
  const cfg = await client.pushBlob(repo, config)
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size }, layers })
  await client.putManifest(repo, digestOf(manifest), manifest, OCI_MANIFEST)
  return manifest
}

describe('push and pull', () => {
  const repo = 'siderolabs/imager'
  let amd64: Uint8Array
  let arm64: Uint8Array
  let index: Uint8Array

  beforeAll(async () => {
    const base = await layerFrom({ 'usr/install/amd64/vmlinuz': 'kernel-amd64', 'usr/install/arm64/vmlinuz': 'kernel-arm64', 'etc/old': 'old' }, 'base')
    const top = await layerFrom({ 'usr/install/amd64/initramfs.xz': 'initramfs', 'etc/.wh.old': '' }, 'top')
    const armOnly = await layerFrom({ 'arm-only': 'yes' }, 'arm')
    amd64 = await pushImage(repo, 'amd64', [base, top])
    arm64 = await pushImage(repo, 'arm64', [base, armOnly])
    index = json({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: digestOf(amd64), size: amd64.byteLength, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: OCI_MANIFEST, digest: digestOf(arm64), size: arm64.byteLength, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    })
    for (const tag of ['v1.7.0', 'v1.7.1', 'v1.8.0-alpha.0', 'v1.8.0', 'latest']) await client.putManifest(repo, tag, index, OCI_INDEX)
  })

  test('pull the index back and select platforms', async () => {
    const top = await client.getManifest(repo, 'v1.7.0')
    expect(top.kind).toBe('index')
    expect(top.mediaType).toBe(OCI_INDEX)
    expect(top.digest).toBe(digestOf(index))
    const arm = await client.resolveImage(repo, 'v1.7.0', 'arm64')
    expect(arm.digest).toBe(digestOf(arm64))
    expect(arm.indexDigest).toBe(digestOf(index))
    expect(arm.config.architecture).toBe('arm64')
    expect(arm.config.config?.Env).toEqual(['ARCH=arm64'])
    const amd = await client.getManifest(repo, 'v1.7.0', { platform: 'linux/amd64' })
    expect(amd.digest).toBe(digestOf(amd64))
    expect(await client.headManifest(repo, 'v1.7.0')).toEqual({ digest: digestOf(index), mediaType: OCI_INDEX, size: index.byteLength })
    expect(await client.headManifest(repo, 'v0.0.1')).toBeNull()
    await expect(client.getManifest(repo, 'v0.0.1')).rejects.toThrow(new NotFoundError(`manifest unknown: ${reg.host}/${repo}:v0.0.1`))
  })

  test('skopeo sees the index and resolves arm64', () => {
    const p = Bun.spawnSync(['skopeo', 'inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${reg.host}/${repo}:v1.7.0`])
    expect(p.exitCode).toBe(0)
    const info = JSON.parse(p.stdout.toString()) as { Digest: string; Architecture: string }
    expect(info.Digest).toBe(digestOf(index)) // skopeo reports the top-level (index) digest
    expect(info.Architecture).toBe('arm64')
  })

  test('list tags, with and without pagination', async () => {
    const expected = ['latest', 'v1.7.0', 'v1.7.1', 'v1.8.0', 'v1.8.0-alpha.0']
    expect((await client.listTags(repo)).sort()).toEqual(expected)
    expect((await client.listTags(repo, { pageSize: 2 })).sort()).toEqual(expected)
    await expect(client.listTags('siderolabs/nothing-here')).rejects.toBeInstanceOf(NotFoundError)
  })

  test('extractImage unpacks one platform atomically, whiteouts applied', async () => {
    const dest = join(work, 'out', 'imager-amd64')
    const res = await extractImage(client, repo, 'v1.7.0', 'amd64', dest)
    expect(res.digest).toBe(digestOf(amd64))
    expect(readFileSync(join(dest, 'usr/install/amd64/vmlinuz'), 'utf8')).toBe('kernel-amd64')
    expect(readFileSync(join(dest, 'usr/install/amd64/initramfs.xz'), 'utf8')).toBe('initramfs')
    expect(existsSync(join(dest, 'etc/old'))).toBe(false)
    expect(existsSync(join(dest, 'etc/.wh.old'))).toBe(false)
    expect(readdirSync(join(work, 'out'))).toEqual(['imager-amd64'])
    const arm = join(work, 'out', 'imager-arm64')
    await extractImage(client, repo, 'v1.7.0', 'arm64', arm)
    expect(readFileSync(join(arm, 'arm-only'), 'utf8')).toBe('yes')
    expect(readFileSync(join(arm, 'etc/old'), 'utf8')).toBe('old')
    await expect(extractImage(client, repo, 'v1.7.0', 'amd64', dest)).rejects.toBeInstanceOf(InvalidInputError)
  })

  test('extractImage keeps setuid bits, makes the root private and records the SELinux labels before the tree appears', async () => {
    const labelled = 'labels/image'
    const sel = (l: string) => ({ 'SCHILY.xattr.security.selinux': l })
    const layer = join(work, 'labelled.tar.gz')
    const tar = await tarToBytes(
      withParentDirs([
        { type: 'dir', path: 'rootfs', pax: sel('system_u:object_r:root_t:s0') },
        { type: 'file', path: 'rootfs/usr/bin/helper', data: 'x', mode: 0o4755, pax: sel('system_u:object_r:helper_exec_t:s0') },
        { type: 'file', path: 'rootfs/etc/plain', data: 'y' },
      ]),
    )
    await writeFile(layer, Bun.gzipSync(new Uint8Array(tar)))
    await client.putManifest(labelled, 'v1', await pushImage(labelled, 'amd64', [layer]), OCI_MANIFEST)
    const dest = join(work, 'labelled-out', 'sha256-x.layout2')
    const res = await extractImage(client, labelled, 'v1', 'amd64', dest, { recordPath: extractionRecordPath(dest) })
    expect(statSync(join(dest, 'rootfs/usr/bin/helper')).mode & 0o7777).toBe(0o4755)
    expect(statSync(dest).mode & 0o777).toBe(0o700)
    expect(readdirSync(join(work, 'labelled-out')).sort()).toEqual(['sha256-x.layout2', 'sha256-x.layout2.json'])
    expect(readFileSync(`${dest}.json`, 'utf8')).toBe(
      '{"format":1,"selinuxLabels":{"rootfs":"system_u:object_r:root_t:s0","rootfs/usr/bin/helper":"system_u:object_r:helper_exec_t:s0"}}\n',
    )
    expect(await readExtractionRecord(`${dest}.json`)).toEqual(res.selinuxLabels)
    await writeFile(join(work, 'bad-record.json'), '{"format":1,"selinuxLabels":{"../etc/passwd":"x"}}')
    await expect(readExtractionRecord(join(work, 'bad-record.json'))).rejects.toBeInstanceOf(InvalidInputError)
  })

  test('a hostile layer fails extractImage and leaves nothing behind', async () => {
    const evilRepo = 'evil/image'
    const dir = join(work, 'evil-tree')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'fine'), 'ok')
    const link = Bun.spawnSync(['ln', '-s', '/etc', join(dir, 'etc')])
    expect(link.exitCode).toBe(0)
    const l1 = join(work, 'evil1.tar.gz')
    expect(Bun.spawnSync(['tar', '-C', dir, '-czf', l1, '.']).exitCode).toBe(0)
    const dir2 = join(work, 'evil-tree2')
    await mkdir(join(dir2, 'etc'), { recursive: true })
    await writeFile(join(dir2, 'etc', 'pwned'), 'x')
    const l2 = join(work, 'evil2.tar.gz')
    expect(Bun.spawnSync(['tar', '-C', dir2, '-czf', l2, 'etc/pwned']).exitCode).toBe(0)
    const m = await pushImage(evilRepo, 'amd64', [l1, l2])
    await client.putManifest(evilRepo, 'v1', m, OCI_MANIFEST)
    const dest = join(work, 'evil-out', 'x')
    await expect(extractImage(client, evilRepo, 'v1', 'amd64', dest)).rejects.toBeInstanceOf(UnsafeArchiveError)
    expect(existsSync('/etc/pwned')).toBe(false)
    expect(readdirSync(join(work, 'evil-out'))).toEqual([])
  })

  test('stream a large blob to a file and compare sha256', async () => {
    const src = join(work, 'big.bin')
    const data = new Uint8Array(12 * 1024 * 1024)
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) % 251
    await Bun.write(src, data)
    const pushed = await client.pushBlob('big/blob', src)
    const local = await digestOfFile(src)
    expect(pushed).toEqual(local)
    const dest = join(work, 'dl', 'big.bin')
    expect(await client.blobToFile('big/blob', pushed.digest, dest)).toEqual(pushed)
    expect(await digestOfFile(dest)).toEqual(local)
    const sha = Bun.spawnSync(['sha256sum', dest]).stdout.toString().split(' ')[0]
    expect(`sha256:${sha}`).toBe(pushed.digest)
  })

  test('push from a stream (one PATCH) and read it back', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => new Uint8Array(100_000).fill(i))
    const s = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift()
        if (next) c.enqueue(next)
        else c.close()
      },
    })
    const pushed = await client.pushBlob('stream/blob', s)
    expect(pushed.size).toBe(4_000_000)
    expect(await client.blobExists('stream/blob', pushed.digest)).toBe(true)
    const back = await client.getBlobBytes('stream/blob', pushed.digest)
    expect(digestOf(back)).toBe(pushed.digest)
    // an existing blob named by digest is not sent again
    const again = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error('must not be read')) }, { highWaterMark: 0 })
    expect(await client.pushBlob('stream/blob', again, pushed.digest)).toEqual(pushed)
  })
})

describe('OCI schematic store', () => {
  const canonical = enc('customization: {}\n')
  const id = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

  test('put/get/has round trip in the reference layout', async () => {
    const store = new OciSchematicStore({ client })
    expect(digestOf(canonical)).toBe(`sha256:${id}`)
    expect(await store.has(id)).toBe(false)
    expect(await store.get(id)).toBeNull()
    await store.put(id, canonical)
    await store.put(id, canonical) // idempotent
    expect(await store.has(id)).toBe(true)
    expect(new TextDecoder().decode((await store.get(id)) ?? new Uint8Array())).toBe('customization: {}\n')
    expect(await store.get('not-an-id')).toBeNull()
    expect(await store.has('ABC')).toBe(false)
    expect(await store.get('0'.repeat(64))).toBeNull()
    await expect(store.put('0'.repeat(64), canonical)).rejects.toBeInstanceOf(InvalidInputError)

    const m = await client.getManifest('siderolabs/image-factory/schematics', id)
    expect(m.kind).toBe('image')
    if (m.kind === 'image') {
      expect(m.manifest.layers).toEqual([{ mediaType: 'application/vnd.sidero.dev-image.schematic', digest: `sha256:${id}`, size: canonical.byteLength }])
    }
    expect(await client.listTags('siderolabs/image-factory/schematics')).toEqual([id])
  })

  test('skopeo inspect sees the schematic manifest', () => {
    const p = Bun.spawnSync(['skopeo', 'inspect', '--tls-verify=false', `docker://${reg.host}/siderolabs/image-factory/schematics:${id}`])
    expect(p.stderr.toString()).toBe('')
    expect(p.exitCode).toBe(0)
    const info = JSON.parse(p.stdout.toString()) as { RepoTags: string[]; Layers: string[] }
    expect(info.RepoTags).toContain(id)
    expect(info.Layers).toEqual([`sha256:${id}`])
  })

  test('a custom repository path works', async () => {
    const store = new OciSchematicStore({ client, repository: 'mirror/schematics' })
    await store.put(id, canonical)
    expect(await store.has(id)).toBe(true)
    expect(await client.headManifest('mirror/schematics', id)).not.toBeNull()
  })
})
