/**
 * Pull conformance of the installer registry, written from the OCI distribution spec's pull
 * workflow (spec "Pull" + conformance `01_pull_test.go` checks, anchors §4.5) against a published
 * installer image: blob and manifest HEAD/GET by tag and by digest, 404s with the spec's JSON error
 * codes, digest and content-type headers, HEAD without a body, Range on blobs; plus the
 * factory-specific rules (repository scoping, unknown schematic/image/version, read-only, re-publish
 * when the signature no longer verifies).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

const VERSION = 'v1.9.5'
const SPEC_CODES = ['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS']
const OCI_MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
const INDEX_ACCEPT = 'application/vnd.oci.image.index.v1+json'
const MISSING = `sha256:${'0'.repeat(64)}`

let up: Upstream
let edge: RunningEdge
let id: string
let other: string
let repo: string
let indexDigest: string
let manifestDigest: string
let configDigest: string
let layerDigest: string
let layerSize: number

const v2 = (path: string, init?: RequestInit) => fetch(`${edge.url}/v2/${path}`, init)

async function ociError(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const body = (await res.json()) as { errors: { code: string; message: string }[] }
  expect(body.errors.length).toBeGreaterThan(0)
  expect(SPEC_CODES.concat(['UNAVAILABLE', 'UNKNOWN'])).toContain(body.errors[0]!.code)
  return body.errors[0]!.code
}

beforeAll(async () => {
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  const mk = async (body: unknown) => ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify(body) })).json()) as { id: string }).id
  id = await mk({ customization: { extraKernelArgs: ['conformance'] } })
  other = await mk({ customization: { extraKernelArgs: ['conformance-other'] } })
  repo = `metal-installer/${id}`
  const index = await v2(`${repo}/manifests/${VERSION}`, { headers: { accept: INDEX_ACCEPT } })
  expect(index.status).toBe(200)
  indexDigest = index.headers.get('docker-content-digest') as string
  const doc = (await index.json()) as { manifests: { digest: string; platform: { architecture: string } }[] }
  manifestDigest = doc.manifests.find((m) => m.platform.architecture === 'amd64')!.digest
  const manifest = (await (await v2(`${repo}/manifests/${manifestDigest}`, { headers: { accept: OCI_MANIFEST_ACCEPT } })).json()) as {
    config: { digest: string }
    layers: { digest: string; size: number }[]
  }
  configDigest = manifest.config.digest
  layerDigest = manifest.layers.at(-1)!.digest
  layerSize = manifest.layers.at(-1)!.size
}, 240_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

describe('base', () => {
  test('GET /v2/ and /v2 → 200, empty body', async () => {
    for (const path of ['/v2/', '/v2']) {
      const res = await fetch(`${edge.url}${path}`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('')
    }
  })
})

describe('pull blobs', () => {
  test('HEAD and GET of a nonexistent blob → 404 BLOB_UNKNOWN', async () => {
    const head = await v2(`${repo}/blobs/${MISSING}`, { method: 'HEAD' })
    expect(head.status).toBe(404)
    expect(await head.text()).toBe('')
    const get = await v2(`${repo}/blobs/${MISSING}`)
    expect(get.status).toBe(404)
    expect(await ociError(get)).toBe('BLOB_UNKNOWN')
  })

  test('HEAD of an existing blob → 200, digest and length, no body', async () => {
    const head = await v2(`${repo}/blobs/${layerDigest}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('docker-content-digest')).toBe(layerDigest)
    expect(Number(head.headers.get("content-length"))).toBe(layerSize)
    expect(await head.text()).toBe('')
  })

  test('GET of an existing blob → 200, bytes hash to the digest', async () => {
    for (const d of [configDigest, layerDigest]) {
      const res = await v2(`${repo}/blobs/${d}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('docker-content-digest')).toBe(d)
      expect(res.headers.get('content-type')).toBe('application/octet-stream')
      const bytes = new Uint8Array(await res.arrayBuffer())
      expect(`sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`).toBe(d)
    }
  })

  test('Range on blobs: 206 with Content-Range, suffix ranges, 416 beyond the end', async () => {
    const full = new Uint8Array(await (await v2(`${repo}/blobs/${layerDigest}`)).arrayBuffer())
    const part = await v2(`${repo}/blobs/${layerDigest}`, { headers: { range: 'bytes=10-19' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${layerSize}`)
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(full.subarray(10, 20))
    const tail = await v2(`${repo}/blobs/${layerDigest}`, { headers: { range: 'bytes=-5' } })
    expect(tail.status).toBe(206)
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(full.subarray(layerSize - 5))
    const beyond = await v2(`${repo}/blobs/${layerDigest}`, { headers: { range: `bytes=${layerSize + 10}-` } })
    expect(beyond.status).toBe(416)
  })

  test('a malformed digest → 400 DIGEST_INVALID', async () => {
    const res = await v2(`${repo}/blobs/sha256:nothex`)
    expect(res.status).toBe(400)
    expect(await ociError(res)).toBe('DIGEST_INVALID')
  })

  test('blobs are scoped to their repository: another schematic does not see them', async () => {
    const res = await v2(`metal-installer/${other}/blobs/${layerDigest}`)
    expect(res.status).toBe(404)
    expect(await ociError(res)).toBe('BLOB_UNKNOWN')
  })
})

describe('pull manifests', () => {
  test('HEAD and GET of a nonexistent manifest → 404 MANIFEST_UNKNOWN', async () => {
    for (const ref of ['.INVALID_MANIFEST_NAME', 'sometag', MISSING, 'v1.99.0']) {
      const head = await v2(`${repo}/manifests/${ref}`, { method: 'HEAD' })
      expect(head.status).toBe(404)
      const get = await v2(`${repo}/manifests/${ref}`)
      expect(get.status).toBe(404)
      expect(await ociError(get)).toBe('MANIFEST_UNKNOWN')
    }
  })

  test('HEAD and GET by digest → 200, the manifest media type, digest header', async () => {
    const head = await v2(`${repo}/manifests/${manifestDigest}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST_ACCEPT } })
    expect(head.status).toBe(200)
    expect(head.headers.get('docker-content-digest')).toBe(manifestDigest)
    expect(head.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json')
    const headLength = Number(head.headers.get('content-length'))
    expect(await head.text()).toBe('')
    const get = await v2(`${repo}/manifests/${manifestDigest}`, { headers: { accept: OCI_MANIFEST_ACCEPT } })
    expect(get.status).toBe(200)
    const bytes = new Uint8Array(await get.arrayBuffer())
    expect(Number(get.headers.get('content-length'))).toBe(bytes.byteLength)
    expect(headLength).toBe(bytes.byteLength)
    expect(`sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`).toBe(manifestDigest)
  })

  test('HEAD and GET by tag → 200 with the index digest (served from the store)', async () => {
    const published = edge.ctx.registry.publisher.counters.published
    const head = await v2(`${repo}/manifests/${VERSION}`, { method: 'HEAD', headers: { accept: INDEX_ACCEPT } })
    expect(head.status).toBe(200)
    expect(head.headers.get('docker-content-digest')).toBe(indexDigest)
    expect(head.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json')
    const get = await v2(`${repo}/manifests/${VERSION}`, { headers: { accept: INDEX_ACCEPT } })
    expect(get.status).toBe(200)
    expect(get.headers.get('docker-content-digest')).toBe(indexDigest)
    expect(edge.ctx.registry.publisher.counters.published).toBe(published)
  })

  test('the error-codes probe: a PUT with an invalid digest reference → 400 with a spec code', async () => {
    const res = await v2(`${repo}/manifests/sha256:totallywrong`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{"invalid": true}' })
    expect(res.status).toBe(400)
    expect(SPEC_CODES).toContain(await ociError(res))
  })

  test('read-only: writes answer 405 UNSUPPORTED (teardown deletes accept it)', async () => {
    for (const [method, path] of [
      ['DELETE', `${repo}/manifests/${manifestDigest}`],
      ['DELETE', `${repo}/blobs/${configDigest}`],
      ['PUT', `${repo}/manifests/${VERSION}`],
      ['POST', `${repo}/blobs/uploads/`],
    ] as const) {
      const res = await v2(path, { method, body: method === 'PUT' ? '{}' : null })
      expect(res.status).toBe(405)
      expect(await ociError(res)).toBe('UNSUPPORTED')
    }
  })
})

describe('content discovery', () => {
  test('tags/list names the version and its signature tag', async () => {
    const res = await v2(`${repo}/tags/list`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { name: string; tags: string[] }
    expect(body).toEqual({ name: repo, tags: [`${indexDigest.replace(':', '-')}.sig`, VERSION].sort() })
    const page = await v2(`${repo}/tags/list?n=1`)
    expect(((await page.json()) as { tags: string[] }).tags).toHaveLength(1)
    expect(page.headers.get('link')).toContain('rel="next"')
  })

  test('referrers: an empty OCI index; OCI-Filters-Applied only with a filter; a bad digest → 404', async () => {
    const res = await v2(`${repo}/referrers/${indexDigest}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json')
    expect(res.headers.get('oci-filters-applied')).toBeNull()
    expect(await res.json()).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })
    const filtered = await v2(`${repo}/referrers/${indexDigest}?artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson`)
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType')
    const bad = await v2(`${repo}/referrers/sha256:deadbeef`)
    expect(bad.status).toBe(404)
    expect(await bad.text()).toContain('invalid referrers subject digest: sha256:deadbeef')
  })
})

describe('factory rules', () => {
  test('unknown schematic → 404 NAME_UNKNOWN (checked before the image name), bad image → 400 NAME_INVALID', async () => {
    const unknown = await v2(`not-an-installer/${'a'.repeat(64)}/manifests/${VERSION}`)
    expect(unknown.status).toBe(404)
    expect(await ociError(unknown)).toBe('NAME_UNKNOWN')
    const bad = await v2(`imager/${id}/manifests/${VERSION}`)
    expect(bad.status).toBe(400)
    expect(await ociError(bad)).toBe('NAME_INVALID')
    const path = await v2('foo/manifests/v1')
    expect(path.status).toBe(404)
    expect(await ociError(path)).toBe('NAME_UNKNOWN')
  })

  test('hostile names: escapes, traversal and oversized segments are 4xx, never a file outside the store', async () => {
    for (const path of [
      `installer/..%2F..%2F..%2Fetc/manifests/${VERSION}`,
      `..%2Fmetal-installer/${id}/blobs/${layerDigest}`,
      `metal-installer/${id}/blobs/sha256:..%2F..%2F${'0'.repeat(58)}`,
      `metal-installer/${id}%00/manifests/${VERSION}`,
      `${'x'.repeat(5000)}/${id}/manifests/${VERSION}`,
      `metal-installer/${id}/manifests/${'v'.repeat(300)}`,
    ]) {
      const res = await v2(path)
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
    }
  })

  test('latest resolves to the newest stable version', async () => {
    const versions = (await (await fetch(`${edge.url}/versions`)).json()) as string[]
    const newest = versions.filter((v) => !v.includes('-')).at(-1)!
    const res = await v2(`${repo}/manifests/latest`, { method: 'HEAD', headers: { accept: INDEX_ACCEPT } })
    expect(res.status).toBe(200)
    const tagged = await v2(`${repo}/manifests/${newest}`, { method: 'HEAD', headers: { accept: INDEX_ACCEPT } })
    expect(res.headers.get('docker-content-digest')).toBe(tagged.headers.get('docker-content-digest'))
  }, 120_000)

  test('a published index whose signature no longer verifies is published again (no new build)', async () => {
    const store = join(edge.dataDir, 'oci', 'repos', ...repo.split('/'))
    await rm(join(store, 'tags', `${indexDigest.replace(':', '-')}.sig`))
    const before = { published: edge.ctx.registry.publisher.counters.published, runs: edge.ctx.builder!.manager.counters.imagerRuns }
    const res = await v2(`${repo}/manifests/${VERSION}`, { headers: { accept: INDEX_ACCEPT } })
    expect(res.status).toBe(200)
    expect(res.headers.get('docker-content-digest')).toBe(indexDigest) // deterministic images: same index again
    expect(edge.ctx.registry.publisher.counters.published).toBe(before.published + 1)
    expect(edge.ctx.builder!.manager.counters.imagerRuns).toBe(before.runs)
    const sig = await v2(`${repo}/manifests/${indexDigest.replace(':', '-')}.sig`)
    expect(sig.status).toBe(200)
  }, 120_000)

  test('source proxy: unknown images → 404, known ones proxied from the plain-HTTP upstream', async () => {
    const unknown = await v2(`siderolabs/nonexistent/manifests/${VERSION}`)
    expect(unknown.status).toBe(404)
    expect(await ociError(unknown)).toBe('NAME_UNKNOWN')
    const tags = await v2('siderolabs/installer/tags/v1')
    expect(tags.status).toBe(404)
    const list = await v2('siderolabs/installer/tags/list')
    expect(list.status).toBe(200)
    expect(((await list.json()) as { tags: string[] }).tags).toContain(VERSION)
    const index = await v2(`siderolabs/installer/manifests/${VERSION}`, { headers: { accept: INDEX_ACCEPT } })
    expect(index.status).toBe(200)
    expect(index.headers.get('docker-content-digest')).toBe(up.release.versions.find((v) => v.version === VERSION)!.images['siderolabs/installer']!.digest)
  })
})
