/**
 * Hostile requests against the asset, PXE, catalogue and talosctl routes: every one gets a 4xx
 * with a one-line reason (or a harmless 200 for a legal oddity), never a 500, never a file outside
 * the store, never a header injection.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
let id: string

beforeAll(async () => {
  up = await startUpstream(['v1.12.0'])
  edge = await startEdge(up.env)
  id = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: '{}' })).json()) as { id: string }).id
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

const raw = (path: string, init?: RequestInit) => fetch(`${edge.url}${path}`, init)

describe('hostile asset requests', () => {
  test.each([
    ['traversal in the file name', () => `/image/${id}/v1.12.0/..%2F..%2F..%2Fetc%2Fpasswd`],
    ['encoded traversal in the schematic', () => `/image/..%2F..%2Fetc/v1.12.0/kernel-amd64`],
    ['traversal in the version', () => `/image/${id}/..%2F..%2F/kernel-amd64`],
    ['version with build metadata junk', () => `/image/${id}/v1.12.0+%00/kernel-amd64`],
    ['very long version', () => `/image/${id}/v1.${'9'.repeat(5000)}.0/kernel-amd64`],
    ['very long path', () => `/image/${id}/v1.12.0/${'a'.repeat(8000)}.iso`],
    ['NUL in the path', () => `/image/${id}/v1.12.0/kernel-amd64%00.iso`],
    ['unknown platform', () => `/image/${id}/v1.12.0/cmdline-evilcloud-amd64`],
    ['secureboot when it is disabled', () => `/image/${id}/v1.12.0/cmdline-metal-amd64-secureboot`],
    ['PXE with a traversal', () => `/pxe/${id}/v1.12.0/..%2Fmetal-amd64`],
    ['catalogue with a traversal version', () => `/version/..%2F..%2Fetc/extensions/official`],
    ['talosctl with a traversal', () => `/talosctl/v1.12.0/..%2F..%2Fetc%2Fpasswd`],
    ['talosctl with an absolute path', () => `/talosctl/v1.12.0/%2Fetc%2Fpasswd`],
  ])('%s → 4xx, one line', async (_name, path) => {
    const res = await raw(path())
    const text = await res.text()
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    expect(text.trimEnd().includes('\n')).toBe(false)
    expect(text).not.toContain('root:')
  })

  test('?filename= cannot inject headers or break Content-Disposition', async () => {
    const res = await raw(`/image/${id}/v1.12.0/kernel-amd64?filename=${encodeURIComponent('a"\r\nSet-Cookie: x=1; b.bin')}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toBeNull()
    const cd = res.headers.get('content-disposition')!
    expect(cd).not.toMatch(/[\r\n]/)
    expect(cd.startsWith('attachment; filename="')).toBe(true)
    await res.arrayBuffer()
  }, 60_000)

  test('?filename= cannot add lines to a checksum sidecar', async () => {
    for (const sidecar of ['sha256', 'sha512']) {
      const res = await raw(`/image/${id}/v1.12.0/kernel-amd64.${sidecar}?filename=${encodeURIComponent('a\nb\r\n0000  /etc/passwd\u0000.bin')}`)
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toMatch(/^[0-9a-f]+  ab0000  \/etc\/passwd\.bin\n$/)
      expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text))
    }
  }, 60_000)

  test('malformed Range headers fall back to the whole file or 416, never 500', async () => {
    const url = `/image/${id}/v1.12.0/kernel-amd64`
    await (await raw(url)).arrayBuffer()
    for (const range of ['bytes=abc', 'bytes=5-1', 'bytes=-0', 'bytes=0-1,5-6', 'items=0-1', `bytes=${'9'.repeat(40)}-`]) {
      const res = await raw(url, { headers: { range: range } })
      expect([200, 206, 416]).toContain(res.status)
      await res.arrayBuffer()
    }
  }, 60_000)

  test('nothing was written outside the data directory layout', () => {
    const allowed = new Set(['artifacts', 'assets', 'by-url', 'cache', 'public', 'schematics', 'tmp', 'work'])
    for (const entry of readdirSync(edge.dataDir)) expect(allowed.has(entry) ? entry : `unexpected ${entry}`).toBe(entry)
    expect(readdirSync(join(edge.dataDir, 'by-url'))).toEqual([id])
  })
})

describe('internal failures do not reach the client', () => {
  const HOST_PATH = '/var/lib/factory-secret/work/job-1234/rootfs.sqsh'
  let fake: ReturnType<typeof Bun.serve>
  let remote: RunningEdge
  let unreachable: RunningEdge
  const seen: string[] = []

  beforeAll(async () => {
    // a builder daemon whose build fails with the imager's last stderr line (host paths)
    fake = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (req) => {
        seen.push(new URL(req.url).pathname)
        return new Response(`build failed: mksquashfs failed: FATAL ERROR: Could not create destination file ${HOST_PATH}: No space left on device\n`, { status: 500 })
      },
    })
    remote = await startEdge({ ...up.env, FACTORY_BUILDER_URL: `http://127.0.0.1:${fake.port}` })
    unreachable = await startEdge({ ...up.env, FACTORY_BUILDER_URL: `unix:${join(edge.dataDir, 'no-such-dir', 'builder.sock')}` })
  }, 60_000)
  afterAll(async () => {
    await remote?.stop()
    await unreachable?.stop()
    await fake?.stop(true)
  })

  const schematic = async (e: RunningEdge) => ((await (await fetch(`${e.url}/schematics`, { method: 'POST', body: '{}' })).json()) as { id: string }).id

  test('a failed build → 500 with a fixed line naming the request, no host path', async () => {
    const sid = await schematic(remote)
    for (const path of ['kernel-amd64', 'kernel-amd64.sha256']) {
      const res = await fetch(`${remote.url}/image/${sid}/v1.12.0/${path}`, { headers: { 'x-request-id': 'req-42' } })
      const text = await res.text()
      expect(res.status).toBe(500)
      expect(text).toBe('build failed (see the factory log, request req-42)\n')
      expect(text).not.toContain('/var/lib')
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    }
    expect(seen).toContain('/v1/build')
    const pxe = await fetch(`${remote.url}/pxe/${sid}/v1.12.0/metal-amd64`)
    expect(pxe.status).toBe(500)
    expect(await pxe.text()).not.toContain('/var/lib')
  })

  test('an unreachable builder → 503 without the socket path', async () => {
    const sid = await schematic(unreachable)
    const res = await fetch(`${unreachable.url}/image/${sid}/v1.12.0/kernel-amd64`)
    const text = await res.text()
    expect(res.status).toBe(503)
    expect(text).toBe('builder is unreachable\n')
  })
})
