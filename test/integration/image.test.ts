/**
 * /image downloads through the edge alone (in-process builder): statuses and reasons, HEAD,
 * Range/ETag, sidecars, filename override, per-version formats; the stand-in's SELinux labels and
 * setuid file in the built layers; overlay schematics; the imager revision in the cache key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IMAGER_REVISION } from '../../src/asset/cache-key.ts'
import { AssetService } from '../../edge/assets.ts'
import { AssetPlanner } from '../../src/asset/planner.ts'
import { InProcessBuilder } from '../../edge/builder-client.ts'
import { GVISOR_LABELS, GVISOR_SETUID_FILE } from '../fixtures/standin/index.ts'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
let id: string
let plain: string
let work: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'image-test-'))
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  const mk = async (body: string) => ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
  id = await mk(JSON.stringify({ customization: { systemExtensions: { officialExtensions: ['siderolabs/gvisor', 'siderolabs/realtek-firmware'] } } }))
  plain = await mk('{}')
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  await rm(work, { recursive: true, force: true })
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

/** The extensions archive appended to an initramfs (the last zstd frame that holds a cpio), unpacked. */
async function unpackAppended(initramfs: Uint8Array): Promise<string> {
  const buf = Buffer.from(initramfs)
  const magic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])
  for (let at = buf.lastIndexOf(magic); at > 0; at = buf.lastIndexOf(magic, at - 1)) {
    const r = await execa('zstd', ['-dcq'], { input: buf.subarray(at), encoding: 'buffer', reject: false })
    if (r.exitCode !== 0 || Buffer.from(r.stdout).subarray(0, 6).toString() !== '070701') continue
    const dir = await mkdtemp(join(work, 'appended-'))
    await execa('cpio', ['-id', '--quiet'], { cwd: dir, input: Buffer.from(r.stdout) })
    return dir
  }
  throw new Error('no appended extensions archive')
}

/** Every xattr below an unsquashed layer (symlinks not followed): relative path → {name: value}. */
async function layerXattrs(sqsh: string): Promise<{ dir: string; xattrs: Record<string, Record<string, string>> }> {
  const dir = `${sqsh}.d`
  await execa('unsquashfs', ['-q', '-d', dir, sqsh])
  const r = await execa('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '.'], { cwd: dir })
  const xattrs: Record<string, Record<string, string>> = {}
  let current = ''
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) xattrs[(current = line.slice(8).replace(/^\.\/?/, ''))] = {}
    else if (line.includes('=')) xattrs[current]![line.slice(0, line.indexOf('='))] = JSON.parse(line.slice(line.indexOf('=') + 1)) as string
  }
  return { dir, xattrs }
}

describe('extension layers keep SELinux labels and setuid bits (stand-in gvisor)', () => {
  test('the gvisor layer carries exactly its PAX labels and its setuid file; the other layers no xattr', async () => {
    const res = await img(id, 'v1.12.0', 'initramfs-amd64.xz')
    expect(res.status).toBe(200)
    const dir = await unpackAppended(new Uint8Array(await res.arrayBuffer()))
    const gvisor = await layerXattrs(join(dir, '0.sqsh'))
    expect(gvisor.xattrs).toEqual(Object.fromEntries(Object.entries(GVISOR_LABELS).map(([p, l]) => [p, { 'security.selinux': l }])))
    expect((await stat(join(gvisor.dir, GVISOR_SETUID_FILE))).mode & 0o7777).toBe(0o4755)
    for (const other of ['1.sqsh', '2.sqsh']) expect((await layerXattrs(join(dir, other))).xattrs).toEqual({})
  }, 120_000)
})

describe('overlay schematics', () => {
  let overlay: string
  beforeAll(async () => {
    overlay = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify({ overlay: { image: 'siderolabs/sbc-raspberrypi', name: 'rpi_generic' } }) })).json()) as { id: string }).id
  })

  test('initramfs-arm64.xz builds (the overlay does not change the initramfs)', async () => {
    const res = await img(overlay, 'v1.12.0', 'initramfs-arm64.xz')
    expect(res.status).toBe(200)
    const dir = await unpackAppended(new Uint8Array(await res.arrayBuffer()))
    const yaml = await Bun.file(join(dir, 'extensions.yaml')).text()
    expect([...yaml.matchAll(/^ {8}name: (.+)$/gm)].map((m) => m[1])).toEqual(['schematic'])
  }, 120_000)

  test('the PXE script carries the command line the reference computes for that path (cmdline assets get no overlay args)', async () => {
    const res = await fetch(`${edge.url}/pxe/${overlay}/v1.12.0/metal-arm64`)
    expect(res.status).toBe(200)
    const base = edge.ctx.config.http.externalPxeUrl.replace(/\/+$/, '')
    // factory-spec §6.4: the cmdline kind skips the overlay step; metal arm64, 1.12 (imager-spec §3.3–3.4)
    const cmdline = 'talos.platform=metal console=ttyAMA0 console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1'
    const script = await res.text()
    expect(script).toBe(`#!ipxe\n\nimgfree\nkernel ${base}/image/${overlay}/v1.12.0/kernel-arm64 ${cmdline}\ninitrd ${base}/image/${overlay}/v1.12.0/initramfs-arm64.xz\nboot\n`)
    for (const url of script.split('\n').filter((l) => l.startsWith('kernel ') || l.startsWith('initrd ')).map((l) => l.split(' ')[1]!)) {
      const got = await fetch(url.replace(base, edge.url))
      expect(got.status).toBe(200)
      await got.arrayBuffer()
    }
  }, 120_000)
})

describe('imager revision in the cache key', () => {
  test('changing the revision makes the next request rebuild; the old asset stays until the LRU evicts it', async () => {
    const ctx = edge.ctx
    const builder = ctx.builder!
    const path = 'initramfs-amd64.xz'
    const first = await ctx.assets.plan(plain, 'v1.12.0', path)
    await ctx.assets.ensure(first.job)
    const runs = builder.manager.counters.imagerRuns
    await ctx.assets.ensure((await ctx.assets.plan(plain, 'v1.12.0', path)).job)
    expect(builder.manager.counters.imagerRuns).toBe(runs) // same revision: a hit

    const planner = new AssetPlanner({ schematics: ctx.schematics, catalog: ctx.catalog, imagerRevision: IMAGER_REVISION + 1 })
    const bumped = new AssetService({ planner, store: builder.store, builder: new InProcessBuilder(builder.manager), log: ctx.log })
    const next = await bumped.plan(plain, 'v1.12.0', path)
    expect(next.job.key).not.toBe(first.job.key)
    await bumped.ensure(next.job)
    expect(builder.manager.counters.imagerRuns).toBe(runs + 1)
    expect(await builder.store.lookup(first.job.key)).not.toBeNull()
  }, 120_000)
})

describe('fallback: a data directory that refuses security.* xattrs', () => {
  // ramfs has no xattr support at all (tmpfs and ext4 take security.*); mounting it needs root
  let mnt: string | null = null
  let other: RunningEdge | undefined
  const lines: string[] = []

  beforeAll(async () => {
    const dir = await mkdtemp(join(work, 'ramfs-'))
    if ((await execa('mount', ['-t', 'ramfs', 'ramfs', dir], { reject: false })).exitCode === 0) mnt = dir
    else console.warn('skipped: cannot mount ramfs here (needs root)')
    if (mnt !== null) other = await startEdge({ ...up.env, FACTORY_DATA_DIR: join(mnt, 'data') }, { log: (l) => lines.push(l) })
  }, 60_000)

  afterAll(async () => {
    await other?.stop()
    if (mnt !== null) await execa('umount', [mnt], { reject: false })
  })

  test('layers are built without labels (setuid kept), with a warning in the log and the gauge at 0', async () => {
    if (other === undefined) return
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'extension layers are built without SELinux labels (mksquashfs -no-xattrs)')
    expect(warning).toMatchObject({ level: 'warn' })
    expect(String(warning?.reason)).toContain('refuses security.* xattrs')
    const metrics = await (await fetch(`${other.url}/metrics`)).text()
    expect(metrics).toContain('\nimage_factory_selinux_labels_enabled 0\n')
    expect(await (await fetch(`${edge.url}/metrics`)).text()).toContain('\nimage_factory_selinux_labels_enabled 1\n')

    const s = ((await (await fetch(`${other.url}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { systemExtensions: { officialExtensions: ['siderolabs/gvisor'] } } }) })).json()) as { id: string }).id
    const res = await fetch(`${other.url}/image/${s}/v1.12.0/initramfs-amd64.xz`)
    expect(res.status).toBe(200)
    const dir = await unpackAppended(new Uint8Array(await res.arrayBuffer()))
    const gvisor = await layerXattrs(join(dir, '0.sqsh'))
    expect(gvisor.xattrs).toEqual({})
    expect((await stat(join(gvisor.dir, GVISOR_SETUID_FILE))).mode & 0o7777).toBe(0o4755)
  }, 120_000)
})
