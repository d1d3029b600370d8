/**
 * Catalogue routes against a real registry loaded with the stand-in release (factory-spec
 * §3.3–3.7): versions, official extensions and overlays, talosctl — and the stale answer when the
 * upstream registry goes away mid-test.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { $ } from 'bun'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
beforeAll(async () => {
  up = await startUpstream()
  edge = await startEdge({ ...up.env, FACTORY_BROKEN_TALOS_VERSIONS: '1.9.4', FACTORY_VERSION_REFRESH_INTERVAL: '500ms' })
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

const get = (p: string, init?: RequestInit) => fetch(`${edge.url}${p}`, init)

describe('published images are what real clients see', () => {
  test('skopeo inspects the imager index for both architectures', async () => {
    for (const arch of ['amd64', 'arm64']) {
      const out = await $`skopeo inspect --tls-verify=false --override-arch ${arch} docker://${up.registry.host}/siderolabs/imager:v1.12.0`.json()
      expect(out.Architecture).toBe(arch)
    }
    const tags = await $`skopeo list-tags --tls-verify=false docker://${up.registry.host}/siderolabs/imager`.json()
    expect([...tags.Tags].sort()).toEqual(['v1.10.7', 'v1.12.0', 'v1.7.6', 'v1.9.5'])
  })
})

describe('GET /versions', () => {
  test('ascending, v-prefixed, Go-style JSON', async () => {
    const res = await get('/versions')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('["v1.7.6","v1.9.5","v1.10.7","v1.12.0"]\n')
    expect(res.headers.get('warning')).toBeNull()
  })

  test('?broken=true lists the configured broken versions', async () => {
    expect(await (await get('/versions?broken=true')).json()).toEqual(['v1.9.4'])
  })
})

describe('GET /version/:version/extensions/official', () => {
  test('lists the catalogue re-homed onto the configured registry, in catalogue order', async () => {
    const res = await get('/version/v1.12.0/extensions/official')
    expect(res.status).toBe(200)
    const list = (await res.json()) as { name: string; ref: string; digest: string; author: string; description: string }[]
    const expected = up.release.versions.find((v) => v.version === 'v1.12.0')!.extensions
    expect(list.map((e) => e.name)).toEqual(expected.map((e) => e.name))
    for (const e of list) {
      expect(Object.keys(e).sort()).toEqual(['author', 'description', 'digest', 'name', 'ref'])
      expect(e.ref.startsWith(`${up.registry.host}/${e.name}:`)).toBe(true)
      expect(e.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    }
    expect(list.find((e) => e.name === 'siderolabs/gvisor')?.description).not.toBe('')
  })

  test('the v is optional', async () => {
    expect((await get('/version/1.12.0/extensions/official')).status).toBe(200)
  })

  test('unknown version → 404 with the reference text; malformed → 400', async () => {
    const nf = await get('/version/v1.5.0-alpha.0/extensions/official')
    expect(nf.status).toBe(404)
    expect(await nf.text()).toBe('version 1.5.0-alpha.0 is not available\n')
    const bad = await get('/version/foo/extensions/official')
    expect(bad.status).toBe(400)
  })
})

describe('GET /version/:version/overlays/official', () => {
  test('overlays for ≥ 1.7, ref as published', async () => {
    const list = (await (await get('/version/v1.12.0/overlays/official')).json()) as { name: string; image: string; ref: string; digest: string }[]
    expect(list).toHaveLength(1)
    expect(list[0]!.name).toBe('rpi_generic')
    expect(list[0]!.image).toBe('siderolabs/sbc-raspberrypi')
    expect(list[0]!.ref).toBe('ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0')
  })

  test('before 1.7 → [] without any lookup, even for unlisted versions', async () => {
    for (const v of ['v1.5.0', 'v1.0.0']) {
      const res = await get(`/version/${v}/overlays/official`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('[]\n')
    }
  })
})

describe('talosctl', () => {
  test('≥ 1.11: sorted download URLs on the external URL', async () => {
    const res = await get('/talosctl/v1.12.0')
    expect(res.headers.get('content-type')).toBe('application/json')
    const urls = (await res.json()) as string[]
    expect(urls.length).toBe(9)
    expect(urls[0]).toBe(`${edge.ctx.config.http.externalUrl}talosctl/v1.12.0/talosctl-darwin-amd64`)
    expect([...urls].sort()).toEqual(urls)
  })

  test('< 1.11 → []', async () => {
    expect(await (await get('/talosctl/v1.10.7')).json()).toEqual([])
  })

  test('download, HEAD, and no path escapes', async () => {
    const res = await get('/talosctl/v1.12.0/talosctl-linux-amd64')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="talosctl-linux-amd64"')
    const body = await res.text()
    expect(body).toContain('v1.12.0')
    const head = await get('/talosctl/v1.12.0/talosctl-linux-amd64', { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String(body.length))
    for (const p of ['..%2F..%2Fetc%2Fpasswd', 'talosctl', 'image-digests']) {
      expect((await get(`/talosctl/v1.12.0/${p}`)).status).toBe(404)
    }
    expect((await get('/talosctl/v1.99.0/talosctl-linux-amd64')).status).toBe(404)
  })
})

describe('upstream goes away', () => {
  test('the last good answers are served with a Warning header', async () => {
    await get('/version/v1.10.7/extensions/official') // warm a per-version catalogue
    await up.registry.stop()
    // wait for a background refresh to fail
    let res: Response | undefined
    for (let i = 0; i < 60; i++) {
      res = await get('/versions')
      if (res.headers.get('warning')) break
      await Bun.sleep(250)
    }
    expect(res!.status).toBe(200)
    expect(res!.headers.get('warning')).toContain('110')
    expect(await res!.json()).toEqual(['v1.7.6', 'v1.9.5', 'v1.10.7', 'v1.12.0'])
    const ext = await get('/version/v1.10.7/extensions/official')
    expect(ext.status).toBe(200)
    expect(ext.headers.get('warning')).toContain('110')
  })

  test('a cold factory with no upstream answers 503 with a reason', async () => {
    const cold = await startEdge({ ...up.env })
    try {
      const res = await fetch(`${cold.url}/versions`)
      expect(res.status).toBe(503)
      const text = await res.text()
      expect(text).toContain(up.registry.host)
      expect(text.trim().split('\n')).toHaveLength(1)
    } finally {
      await cold.stop()
    }
  })
})
