/**
 * /image downloads through the edge alone (in-process builder): statuses and reasons, HEAD,
 * Range/ETag, sidecars, filename override, per-version formats.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
let id: string
let plain: string

beforeAll(async () => {
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  const mk = async (body: string) => ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
  id = await mk(JSON.stringify({ customization: { systemExtensions: { officialExtensions: ['siderolabs/gvisor', 'siderolabs/realtek-firmware'] } } }))
  plain = await mk('{}')
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

const img = (schematic: string, version: string, path: string, init?: RequestInit) => fetch(`${edge.url}/image/${schematic}/${version}/${path}`, init)

describe('errors', () => {
  test.each([
    ['unknown schematic', () => img('aaaaaaaaaaaa', 'v1.12.0', 'kernel-amd64'), 404, 'schematic ID "aaaaaaaaaaaa" not found'],
    ['unknown version', () => img(plain, 'v1.11.0', 'kernel-amd64'), 404, 'version 1.11.0 is not available'],
    ['malformed version', () => img(plain, 'v1.5', 'kernel-amd64'), 400, null],
    ['bad path', () => img(plain, 'v1.12.0', 'metal-amd64.ssd'), 400, 'error parsing profile from path: invalid profile path: "metal-amd64.ssd"'],
    ['bad arch', () => img(plain, 'v1.12.0', 'kernel-foo'), 400, 'error parsing profile from path: invalid architecture: "foo"'],
    // factory-spec §6.1: the path is parsed before the version's availability is checked
    ['bad path, unknown version', () => img(plain, 'v1.99.0', 'metal-amd64.ssd'), 400, 'error parsing profile from path: invalid profile path: "metal-amd64.ssd"'],
    ['bad arch, unknown version', () => img(plain, 'v1.11.0', 'kernel-foo'), 400, 'error parsing profile from path: invalid architecture: "foo"'],
    ['unknown schematic before a malformed version', () => img('aaaaaaaaaaaa', 'v1.5', 'metal-amd64.ssd'), 404, 'schematic ID "aaaaaaaaaaaa" not found'],
    ['malformed version before a bad path', () => img(plain, 'v1.5', 'metal-amd64.ssd'), 400, 'invalid version "v1.5": No Major.Minor.Patch elements found'],
    ['PXE: bad path, unknown version', () => fetch(`${edge.url}/pxe/${plain}/v1.99.0/metal-foo`), 400, 'error parsing profile from path: invalid architecture: "foo"'],
    ['not built yet', () => img(plain, 'v1.12.0', 'metal-amd64.qcow2'), 501, null],
  ] as const)('%s', async (_n, req, status, text) => {
    const res = await req()
    expect(res.status).toBe(status)
    const body = await res.text()
    expect(body.trimEnd().split('\n')).toHaveLength(1)
    if (text) expect(body).toBe(`${text}\n`)
  })

  test('an extension missing from the catalogue → 400 with the reference reason', async () => {
    const s = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: '{"customization":{"systemExtensions":{"officialExtensions":["siderolabs/nope"]}}}' })).json()) as { id: string }).id
    const res = await img(s, 'v1.12.0', 'initramfs-amd64.xz')
    expect(res.status).toBe(400)
    expect(await res.text()).toBe('error enhancing profile from schematic: official extension "siderolabs/nope" is not available for Talos version v1.12.0\n')
  })

  test('an extension incompatible with the version → 400, nothing stored', async () => {
    const s = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: '{"customization":{"systemExtensions":{"officialExtensions":["siderolabs/iscsi-tools"]}}}' })).json()) as { id: string }).id
    const res = await img(s, 'v1.7.6', 'initramfs-amd64.xz')
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('iscsi-tools')
    const again = await img(s, 'v1.12.0', 'initramfs-amd64.xz')
    expect(again.status).toBe(200)
  }, 60_000)
})

describe('downloads', () => {
  test('HEAD on a miss builds and answers with the size', async () => {
    const head = await img(id, 'v1.12.0', 'initramfs-amd64.xz', { method: 'HEAD' })
    expect(head.status).toBe(200)
    const size = Number(head.headers.get('content-length'))
    expect(size).toBeGreaterThan(1000)
    const get = await img(id, 'v1.12.0', 'initramfs-amd64.xz')
    expect(get.headers.get('x-cache')).toBe('HIT')
    expect((await get.arrayBuffer()).byteLength).toBe(size)
  }, 60_000)

  test('Range, ETag/If-None-Match, Content-Disposition with ?filename=', async () => {
    const full = new Uint8Array(await (await img(id, 'v1.12.0', 'initramfs-amd64.xz')).arrayBuffer())
    const part = await img(id, 'v1.12.0', 'initramfs-amd64.xz', { headers: { range: 'bytes=10-19' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${full.length}`)
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(full.slice(10, 20))
    const suffix = await img(id, 'v1.12.0', 'initramfs-amd64.xz', { headers: { range: 'bytes=-5' } })
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(full.slice(-5))
    expect((await img(id, 'v1.12.0', 'initramfs-amd64.xz', { headers: { range: `bytes=${full.length}-` } })).status).toBe(416)
    const first = await img(id, 'v1.12.0', 'initramfs-amd64.xz?filename=talos-initramfs.xz')
    expect(first.headers.get('content-disposition')).toBe('attachment; filename="talos-initramfs.xz"')
    expect(first.headers.get('content-type')).toBe('application/x-xz')
    const etag = first.headers.get('etag')!
    const cached = await img(id, 'v1.12.0', 'initramfs-amd64.xz', { headers: { 'if-none-match': etag } })
    expect(cached.status).toBe(304)
  }, 60_000)

  test('checksum sidecars', async () => {
    const body = new Uint8Array(await (await img(id, 'v1.12.0', 'kernel-amd64')).arrayBuffer())
    const s256 = await (await img(id, 'v1.12.0', 'kernel-amd64.sha256')).text()
    expect(s256).toBe(`${new Bun.CryptoHasher('sha256').update(body).digest('hex')}  kernel-amd64\n`)
    const s512 = await (await img(id, 'v1.12.0', 'kernel-amd64.sha512')).text()
    expect(s512).toBe(`${new Bun.CryptoHasher('sha512').update(body).digest('hex')}  kernel-amd64\n`)
    // a non-ASCII ?filename=: Content-Length counts bytes, not UTF-16 units (HEAD sends it as set)
    const named = `kernel-amd64.sha256?filename=${encodeURIComponent('ядро-amd64')}`
    const text = await (await img(id, 'v1.12.0', named)).text()
    expect(text).toBe(`${new Bun.CryptoHasher('sha256').update(body).digest('hex')}  ядро-amd64\n`)
    const head = await img(id, 'v1.12.0', named, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(Number(head.headers.get('content-length'))).toBe(Buffer.byteLength(text))
  }, 60_000)

  test('initramfs compression follows the version: xz below 1.8, zstd from 1.8', async () => {
    const old = new Uint8Array(await (await img(plain, 'v1.7.6', 'initramfs-amd64.xz')).arrayBuffer())
    expect([...old.slice(0, 4)]).toEqual([0xfd, 0x37, 0x7a, 0x58])
    const cur = new Uint8Array(await (await img(plain, 'v1.12.0', 'initramfs-amd64.xz')).arrayBuffer())
    expect([...cur.slice(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd])
  }, 60_000)

  test('the kernel is the version\'s kernel, byte for byte', async () => {
    const a = new Uint8Array(await (await img(plain, 'v1.12.0', 'kernel-amd64')).arrayBuffer())
    const b = new Uint8Array(await (await img(id, 'v1.12.0', 'kernel-x86_64')).arrayBuffer())
    expect(a.length).toBeGreaterThan(1_000_000)
    expect(b).toEqual(a)
  }, 60_000)
})
