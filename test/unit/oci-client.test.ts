/**
 * RegistryClient against small in-test registries (Bun.serve on 127.0.0.1) that replay recorded
 * registry behaviours: token challenges, pagination, indexes, retries and failures.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NotFoundError, UpstreamUnauthorizedError, UpstreamUnavailableError } from '../../src/errors.ts'
import { parseChallenge } from '../../src/oci/auth.ts'
import { nextLink, RegistryClient } from '../../src/oci/client.ts'
import { digestOf } from '../../src/oci/digest.ts'
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts'
import { parseReference, parseRepositoryOption } from '../../src/oci/reference.ts'
import { freePort } from '../helpers/ports.ts'

type Handler = (req: Request, url: URL) => Response | Promise<Response>

const servers: { stop(force?: boolean): void }[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true)
})

function serve(handler: Handler): { host: string; url: string } {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => handler(req, new URL(req.url)) })
  servers.push(server)
  return { host: `127.0.0.1:${server.port}`, url: `http://127.0.0.1:${server.port}` }
}

const enc = (s: string) => new TextEncoder().encode(s)
const json = (v: unknown) => enc(JSON.stringify(v))

function manifestResponse(bytes: Uint8Array, mediaType: string, method = 'GET'): Response {
  return new Response(method === 'HEAD' ? null : bytes, {
    headers: { 'content-type': mediaType, 'docker-content-digest': digestOf(bytes), 'content-length': String(bytes.byteLength) },
  })
}

function registryError(status: number, code: string): Response {
  return Response.json({ errors: [{ code, message: code.toLowerCase() }] }, { status })
}

/** A two-platform image set: configs, manifests and an index (OCI or Docker flavoured). */
function multiArch(docker = false) {
  const configs = { amd64: json({ architecture: 'amd64', os: 'linux' }), arm64: json({ architecture: 'arm64', os: 'linux', variant: 'v8' }) }
  const layer = enc('layer-bytes')
  const manifests = Object.fromEntries(
    (['amd64', 'arm64'] as const).map((arch) => [
      arch,
      json({
        schemaVersion: 2,
        mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
        config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : OCI_CONFIG, digest: digestOf(configs[arch]), size: configs[arch].byteLength },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.byteLength }],
      }),
    ]),
  ) as Record<'amd64' | 'arm64', Uint8Array>
  const index = json({
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST_LIST : OCI_INDEX,
    manifests: [
      { mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST, digest: digestOf(manifests.amd64), size: manifests.amd64.byteLength, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST, digest: digestOf(manifests.arm64), size: manifests.arm64.byteLength, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: OCI_MANIFEST, digest: digestOf(enc('att')), size: 3, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  })
  const blobs = new Map<string, Uint8Array>([
    [digestOf(configs.amd64), configs.amd64],
    [digestOf(configs.arm64), configs.arm64],
    [digestOf(layer), layer],
  ])
  return { configs, manifests, index, blobs, indexType: docker ? DOCKER_MANIFEST_LIST : OCI_INDEX, manifestType: docker ? DOCKER_MANIFEST : OCI_MANIFEST }
}

/** Serves one multi-arch image at `repo:tag` (plus its manifests by digest and blobs). */
function imageRegistry(repo: string, tag: string, set: ReturnType<typeof multiArch>, seen: string[] = []) {
  return serve((req, url) => {
    seen.push(`${req.method} ${url.pathname}`)
    if (url.pathname === `/v2/${repo}/manifests/${tag}` || url.pathname === `/v2/${repo}/manifests/${digestOf(set.index)}`) {
      return manifestResponse(set.index, set.indexType, req.method)
    }
    for (const m of Object.values(set.manifests)) {
      if (url.pathname === `/v2/${repo}/manifests/${digestOf(m)}`) return manifestResponse(m, set.manifestType, req.method)
    }
    const blob = url.pathname.startsWith(`/v2/${repo}/blobs/`) ? set.blobs.get(url.pathname.slice(`/v2/${repo}/blobs/`.length)) : undefined
    if (blob) return new Response(blob)
    return registryError(404, url.pathname.includes('/blobs/') ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN')
  })
}

describe('auth', () => {
  test('anonymous bearer challenge: token fetched once, then reused', async () => {
    const set = multiArch()
    let tokenCalls = 0
    let tokenQuery = ''
    const reg = serve((req, url) => {
      if (url.pathname === '/token') {
        tokenCalls++
        tokenQuery = url.search
        expect(req.headers.get('authorization')).toBeNull()
        return Response.json({ token: 'tok-1', expires_in: 300 })
      }
      if (req.headers.get('authorization') !== 'Bearer tok-1') {
        return new Response(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED' }] }), {
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="http://${url.host}/token",service="test-registry",scope="repository:siderolabs/imager:pull"` },
        })
      }
      if (url.pathname === '/v2/siderolabs/imager/manifests/v1.7.0') return manifestResponse(set.index, OCI_INDEX, req.method)
      return registryError(404, 'MANIFEST_UNKNOWN')
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, retries: 0 })
    const m = await client.getManifest('siderolabs/imager', 'v1.7.0')
    expect(m.kind).toBe('index')
    expect(m.digest).toBe(digestOf(set.index))
    expect(await client.headManifest('siderolabs/imager', 'v1.7.0')).toEqual({ digest: digestOf(set.index), mediaType: OCI_INDEX, size: set.index.byteLength })
    expect(tokenCalls).toBe(1)
    const q = new URLSearchParams(tokenQuery)
    expect(q.get('service')).toBe('test-registry')
    expect(q.get('scope')).toBe('repository:siderolabs/imager:pull')
  })

  test('credentials are sent to the token realm as Basic auth', async () => {
    let seenAuth: string | null = null
    const reg = serve((req, url) => {
      if (url.pathname === '/token') {
        seenAuth = req.headers.get('authorization')
        return Response.json({ access_token: 'tok-2' })
      }
      if (req.headers.get('authorization') !== 'Bearer tok-2') {
        return new Response(null, { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${url.host}/token",service="svc"` } })
      }
      return Response.json({ name: 'a/b', tags: ['x'] })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, username: 'user', password: 'pa:ss', retries: 0 })
    expect(await client.listTags('a/b')).toEqual(['x'])
    expect(seenAuth as string | null).toBe(`Basic ${Buffer.from('user:pa:ss').toString('base64')}`)
  })

  test('401 from the token service → UpstreamUnauthorizedError', async () => {
    const reg = serve((_req, url) => {
      if (url.pathname === '/token') return new Response('denied', { status: 401 })
      return new Response(null, { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${url.host}/token",service="svc",scope="repository:a/b:pull"` } })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, username: 'u', password: 'bad', retries: 0 })
    const err = await client.getManifest('a/b', 'v1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamUnauthorizedError)
    expect((err as Error).message).toContain(reg.host)
  })

  test('a token that is still refused → UpstreamUnauthorizedError', async () => {
    const reg = serve((_req, url) => {
      if (url.pathname === '/token') return Response.json({ token: 'useless' })
      return new Response(null, { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${url.host}/token"` } })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, retries: 0 })
    await expect(client.getManifest('a/b', 'v1')).rejects.toBeInstanceOf(UpstreamUnauthorizedError)
  })

  test('Basic challenge is answered with the configured credentials', async () => {
    const expected = `Basic ${Buffer.from('alice:secret').toString('base64')}`
    const reg = serve((req) => {
      if (req.headers.get('authorization') !== expected) return new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="registry"' } })
      return Response.json({ tags: ['v1'] })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, username: 'alice', password: 'secret', retries: 0 })
    expect(await client.listTags('x')).toEqual(['v1'])
    const anon = new RegistryClient({ registry: reg.host, insecure: true, retries: 0 })
    await expect(anon.listTags('x')).rejects.toBeInstanceOf(UpstreamUnauthorizedError)
  })

  test('a static token is sent on every request; 403 → UpstreamUnauthorizedError', async () => {
    const reg = serve((req) => {
      if (req.headers.get('authorization') === 'Bearer static-t') return Response.json({ tags: ['a'] })
      return registryError(403, 'DENIED')
    })
    expect(await new RegistryClient({ registry: reg.host, insecure: true, token: 'static-t' }).listTags('x')).toEqual(['a'])
    const err = await new RegistryClient({ registry: reg.host, insecure: true, token: 'other' }).listTags('x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamUnauthorizedError)
    expect((err as Error).message).toContain('403 DENIED')
  })

  test('parseChallenge', () => {
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:siderolabs/imager:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:siderolabs/imager:pull' },
    })
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } })
    expect(parseChallenge(null)).toBeNull()
  })
})

describe('manifests', () => {
  test('OCI index: the requested platform is chosen and its config fetched', async () => {
    const set = multiArch()
    const reg = imageRegistry('siderolabs/imager', 'v1.7.0', set)
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const arm = await client.resolveImage('siderolabs/imager', 'v1.7.0', 'arm64')
    expect(arm.digest).toBe(digestOf(set.manifests.arm64))
    expect(arm.indexDigest).toBe(digestOf(set.index))
    expect(arm.config.architecture).toBe('arm64')
    expect(arm.manifest.layers).toHaveLength(1)
    const amd = await client.getManifest('siderolabs/imager', 'v1.7.0', { platform: 'linux/amd64' })
    expect(amd.kind).toBe('image')
    expect(amd.digest).toBe(digestOf(set.manifests.amd64))
    const none = await client.resolveImage('siderolabs/imager', 'v1.7.0', 'riscv64').catch((e: unknown) => e)
    expect(none).toBeInstanceOf(NotFoundError)
    expect((none as Error).message).toContain('linux/riscv64')
  })

  test('Docker manifest list: platform selection and Docker media types', async () => {
    const set = multiArch(true)
    const reg = imageRegistry('siderolabs/installer', 'v1.6.0', set)
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const top = await client.getManifest('siderolabs/installer', 'v1.6.0')
    expect(top.kind).toBe('index')
    expect(top.mediaType).toBe(DOCKER_MANIFEST_LIST)
    const amd = await client.resolveImage('siderolabs/installer', 'v1.6.0', 'linux/amd64')
    expect(amd.mediaType).toBe(DOCKER_MANIFEST)
    expect(amd.digest).toBe(digestOf(set.manifests.amd64))
    expect(amd.config.architecture).toBe('amd64')
  })

  test('the Accept header names all four manifest types', async () => {
    let accept = ''
    const set = multiArch()
    const reg = serve((req) => {
      accept = req.headers.get('accept') ?? ''
      return manifestResponse(set.manifests.amd64, OCI_MANIFEST)
    })
    await new RegistryClient({ registry: reg.host, insecure: true }).getManifest('a/b', 'v1')
    for (const t of [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST]) expect(accept).toContain(t)
  })

  test('404 → NotFoundError naming repo:ref; HEAD 404 → null', async () => {
    const reg = serve(() => registryError(404, 'MANIFEST_UNKNOWN'))
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const err = await client.getManifest('siderolabs/imager', 'v9.9.9').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe(`manifest unknown: ${reg.host}/siderolabs/imager:v9.9.9`)
    expect(await client.headManifest('siderolabs/imager', 'v9.9.9')).toBeNull()
  })

  test('a manifest fetched by digest must hash to it', async () => {
    const set = multiArch()
    const reg = serve(() => manifestResponse(set.manifests.amd64, OCI_MANIFEST))
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    await expect(client.getManifest('a/b', digestOf(set.manifests.arm64))).rejects.toBeInstanceOf(UpstreamUnavailableError)
  })

  test('the namespace prefixes every repository path (pull-through mirrors)', async () => {
    const set = multiArch()
    const seen: string[] = []
    const reg = imageRegistry('proxy/siderolabs/imager', 'v1.7.0', set, seen)
    const client = new RegistryClient({ registry: reg.host, insecure: true, namespace: 'proxy' })
    const img = await client.resolveImage('siderolabs/imager', 'v1.7.0', 'amd64')
    expect(img.digest).toBe(digestOf(set.manifests.amd64))
    expect(seen.every((s) => s.includes('/v2/proxy/siderolabs/imager/'))).toBe(true)
  })
})

describe('tags', () => {
  test('pagination over 3 pages via Link headers', async () => {
    const all = ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0', 'v1.4.0']
    const requests: string[] = []
    const reg = serve((_req, url) => {
      requests.push(url.search)
      const n = Number(url.searchParams.get('n') ?? '100')
      const last = url.searchParams.get('last')
      const start = last ? all.indexOf(last) + 1 : 0
      const page = all.slice(start, start + n)
      const headers: Record<string, string> = {}
      if (start + n < all.length) headers.link = `</v2/siderolabs/imager/tags/list?last=${page[page.length - 1]}&n=${n}>; rel="next"`
      return Response.json({ name: 'siderolabs/imager', tags: page }, { headers })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    expect(await client.listTags('siderolabs/imager', { pageSize: 2 })).toEqual(all)
    expect(requests).toEqual(['?n=2', '?last=v1.1.0&n=2', '?last=v1.3.0&n=2'])
  })

  test('nextLink parses relative and absolute targets', () => {
    expect(nextLink('</v2/a/tags/list?last=x&n=1>; rel="next"')).toBe('/v2/a/tags/list?last=x&n=1')
    expect(nextLink('<https://r.io/v2/a/tags/list?last=x>; rel=next')).toBe('https://r.io/v2/a/tags/list?last=x')
    expect(nextLink('</x>; rel="prev"')).toBeUndefined()
    expect(nextLink(null)).toBeUndefined()
  })

  test('unknown repository → NotFoundError', async () => {
    const reg = serve(() => registryError(404, 'NAME_UNKNOWN'))
    const err = await new RegistryClient({ registry: reg.host, insecure: true }).listTags('nope/x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toContain('repository unknown')
  })
})

describe('blobs', () => {
  test('a blob whose bytes do not match its digest errors at the end of the stream', async () => {
    const claimed = digestOf(enc('the real content'))
    const reg = serve(() => new Response(enc('tampered content')))
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const stream = await client.getBlob('a/b', claimed)
    const err = await new Response(stream).arrayBuffer().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamUnavailableError)
    expect((err as Error).message).toContain('digest mismatch')
  })

  test('blobToFile writes atomically and leaves nothing behind on mismatch', async () => {
    const good = enc('good bytes '.repeat(10_000))
    const reg = serve((_req, url) => new Response(url.pathname.endsWith(digestOf(good)) ? good : enc('bad')))
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const dir = await mkdtemp(join(tmpdir(), 'oci-client-'))
    try {
      const path = join(dir, 'sub', 'blob')
      expect(await client.blobToFile('a/b', digestOf(good), path)).toEqual({ digest: digestOf(good), size: good.byteLength })
      expect(digestOf(new Uint8Array(await readFile(path)))).toBe(digestOf(good))
      const bad = join(dir, 'bad')
      await expect(client.blobToFile('a/b', digestOf(enc('other')), bad)).rejects.toBeInstanceOf(UpstreamUnavailableError)
      expect(existsSync(bad)).toBe(false)
      expect(readdirSync(dir).sort()).toEqual(['sub'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('redirects to another origin are followed without credentials', async () => {
    const data = enc('blob via cdn')
    let cdnAuth: string | null = 'unset'
    const cdn = serve((req) => {
      cdnAuth = req.headers.get('authorization')
      return new Response(data)
    })
    const reg = serve((req) => {
      if (req.headers.get('authorization') !== 'Bearer s') return new Response(null, { status: 401 })
      return new Response(null, { status: 307, headers: { location: `${cdn.url}/storage/blob?sig=1` } })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, token: 's' })
    expect(new Uint8Array(await client.getBlobBytes('a/b', digestOf(data)))).toEqual(data)
    expect(cdnAuth as string | null).toBeNull()
  })

  test('blobExists: 200 → true, 404 → false', async () => {
    const reg = serve((_req, url) => (url.pathname.endsWith('a'.repeat(64)) ? new Response(null) : new Response(null, { status: 404 })))
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    expect(await client.blobExists('x/y', `sha256:${'a'.repeat(64)}`)).toBe(true)
    expect(await client.blobExists('x/y', `sha256:${'b'.repeat(64)}`)).toBe(false)
  })
})

describe('retries and failures', () => {
  test('503 twice then 200 → retried', async () => {
    let calls = 0
    const reg = serve(() => {
      calls++
      if (calls <= 2) return new Response('busy', { status: 503 })
      return Response.json({ tags: ['v1'] })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, retries: 3, retryBaseMs: 5 })
    expect(await client.listTags('a/b')).toEqual(['v1'])
    expect(calls).toBe(3)
  })

  test('429 is retried; persistent 5xx → UpstreamUnavailableError after bounded attempts', async () => {
    let calls = 0
    const reg = serve(() => {
      calls++
      return new Response('down', { status: calls === 1 ? 429 : 502 })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true, retries: 2, retryBaseMs: 5 })
    const err = await client.listTags('a/b').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamUnavailableError)
    expect((err as Error).message).toContain('502')
    expect(calls).toBe(3)
  })

  test('unreachable port → UpstreamUnavailableError naming the registry', async () => {
    const port = await freePort()
    const client = new RegistryClient({ registry: `127.0.0.1:${port}`, insecure: true, retries: 1, retryBaseMs: 5 })
    const err = await client.getManifest('siderolabs/imager', 'v1.7.0').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamUnavailableError)
    expect((err as Error).message).toContain(`registry 127.0.0.1:${port} is unreachable`)
  })

  test('an injected fetch that throws is retried, then reported', async () => {
    let calls = 0
    const client = new RegistryClient({
      registry: 'registry.invalid',
      retries: 2,
      retryBaseMs: 1,
      fetch: async () => {
        calls++
        throw new TypeError('network down')
      },
    })
    await expect(client.ping()).rejects.toThrow('registry registry.invalid is unreachable: network down')
    expect(calls).toBe(3)
  })
})

describe('push', () => {
  test('monolithic upload: POST then PUT with ?digest=, skipped when the blob exists', async () => {
    const data = enc('push me')
    const stored = new Map<string, Uint8Array>()
    const log: string[] = []
    const reg = serve(async (req, url) => {
      log.push(`${req.method} ${url.pathname}`)
      const blob = /^\/v2\/a\/b\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)
      if (blob && req.method === 'HEAD') return new Response(null, { status: stored.has(blob[1] ?? '') ? 200 : 404 })
      if (req.method === 'POST' && url.pathname === '/v2/a/b/blobs/uploads/') return new Response(null, { status: 202, headers: { location: '/v2/a/b/blobs/uploads/u1?_state=s' } })
      if (req.method === 'PUT' && url.pathname === '/v2/a/b/blobs/uploads/u1') {
        expect(url.searchParams.get('_state')).toBe('s')
        const digest = url.searchParams.get('digest') ?? ''
        stored.set(digest, new Uint8Array(await req.arrayBuffer()))
        return new Response(null, { status: 201 })
      }
      if (req.method === 'PUT' && url.pathname === '/v2/a/b/manifests/v1') {
        expect(req.headers.get('content-type')).toBe(OCI_MANIFEST)
        return new Response(null, { status: 201 })
      }
      return new Response(null, { status: 404 })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    expect(await client.pushBlob('a/b', data)).toEqual({ digest: digestOf(data), size: data.byteLength })
    expect(stored.get(digestOf(data))).toEqual(data)
    log.length = 0
    await client.pushBlob('a/b', data)
    expect(log).toEqual([`HEAD /v2/a/b/blobs/${digestOf(data)}`])
    const m = json({ schemaVersion: 2 })
    expect(await client.putManifest('a/b', 'v1', m, OCI_MANIFEST)).toBe(digestOf(m))
    await expect(client.pushBlob('a/b', data, digestOf(enc('different')))).rejects.toThrow('does not match')
  })
})

describe('push with auth', () => {
  test('uploads ask for a pull,push token and reuse it for PATCH/PUT', async () => {
    const scopes: string[] = []
    const authed: string[] = []
    const reg = serve(async (req, url) => {
      if (url.pathname === '/token') {
        const scope = url.searchParams.get('scope') ?? ''
        scopes.push(scope)
        return Response.json({ token: `t:${scope}` })
      }
      const push = req.method !== 'GET' && req.method !== 'HEAD'
      const scope = `repository:a/b:${push ? 'pull,push' : 'pull'}`
      if (req.headers.get('authorization') !== `Bearer t:${scope}`) {
        return new Response(null, { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${url.host}/token",service="s",scope="${scope}"` } })
      }
      authed.push(`${req.method} ${url.pathname}`)
      if (req.method === 'HEAD') return new Response(null, { status: 404 })
      if (req.method === 'POST') return new Response(null, { status: 202, headers: { location: `http://${url.host}/v2/a/b/blobs/uploads/u` } })
      if (req.method === 'PATCH') {
        await req.arrayBuffer()
        return new Response(null, { status: 202, headers: { location: `/v2/a/b/blobs/uploads/u2` } })
      }
      return new Response(null, { status: 201 })
    })
    const client = new RegistryClient({ registry: reg.host, insecure: true })
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc('streamed'))
        c.close()
      },
    })
    expect(await client.pushBlob('a/b', body)).toEqual({ digest: digestOf(enc('streamed')), size: 8 })
    expect(scopes).toEqual(['repository:a/b:pull,push'])
    expect(authed).toEqual(['POST /v2/a/b/blobs/uploads/', 'PATCH /v2/a/b/blobs/uploads/u', 'PUT /v2/a/b/blobs/uploads/u2'])
  })
})

describe('references', () => {
  test('parseReference', () => {
    expect(parseReference('ghcr.io/siderolabs/gvisor:20231214.0@sha256:' + 'a'.repeat(64))).toEqual({
      registry: 'ghcr.io',
      repository: 'siderolabs/gvisor',
      tag: '20231214.0',
      digest: `sha256:${'a'.repeat(64)}`,
    })
    expect(parseReference('127.0.0.1:5000/siderolabs/imager:v1.7.0')).toEqual({ registry: '127.0.0.1:5000', repository: 'siderolabs/imager', tag: 'v1.7.0' })
    expect(parseReference('siderolabs/imager', 'ghcr.io')).toEqual({ registry: 'ghcr.io', repository: 'siderolabs/imager' })
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox' })
    expect(() => parseReference('ghcr.io/Bad/Name')).toThrow()
  })

  test('parseRepositoryOption (factory-spec §11.2)', () => {
    expect(parseRepositoryOption('reg.io/ns/sub/repo')).toEqual({ registry: 'reg.io', namespace: 'ns/sub', repository: 'repo' })
    expect(parseRepositoryOption('ns/repo')).toEqual({ registry: 'ghcr.io', namespace: 'ns', repository: 'repo' })
    expect(parseRepositoryOption('repo')).toEqual({ registry: 'ghcr.io', namespace: '', repository: 'repo' })
    expect(parseRepositoryOption('127.0.0.1:5000/siderolabs/image-factory/schematics')).toEqual({
      registry: '127.0.0.1:5000',
      namespace: 'siderolabs/image-factory',
      repository: 'schematics',
    })
  })
})
