/**
 * Through Caddy (the `npm start` stack): a miss is proxied to the edge and streamed from the
 * builder daemon; a hit is served by Caddy itself from the asset store with Range, ETag and the
 * edge's headers. curl is the client, as operators use it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStack, type RunningStack } from '../helpers/stack.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

const VERSION = 'v1.12.0'
let up: Upstream
let stack: RunningStack
let id: string

beforeAll(async () => {
  up = await sharedUpstream()
  stack = await startStack(up.env)
  const res = await fetch(`${stack.url}/schematics`, {
    method: 'POST',
    body: 'customization:\n  systemExtensions:\n    officialExtensions: [siderolabs/gvisor]\n',
  })
  id = ((await res.json()) as { id: string }).id
}, 180_000)
afterAll(async () => {
  await stack?.stop()
  await up?.stop()
})

function headers(raw: string): Record<string, string> {
  const out: Record<string, string> = {}
  const blocks = raw.trim().split(/\r?\n\r?\n/)
  for (const line of (blocks[blocks.length - 1] ?? '').split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  out[':status'] = (blocks[blocks.length - 1] ?? '').split(' ')[1] ?? ''
  return out
}

let seq = 0
async function curl(args: string[]): Promise<{ h: Record<string, string>; body: Buffer }> {
  const headerFile = join(tmpdir(), `curl-headers-${process.pid}-${seq++}`)
  const proc = Bun.spawn(['curl', '-sS', '-D', headerFile, ...args], { stdout: 'pipe', stderr: 'pipe' })
  const body = Buffer.from(await new Response(proc.stdout).arrayBuffer())
  if ((await proc.exited) !== 0) throw new Error(`curl failed: ${await new Response(proc.stderr).text()}`)
  const h = headers(readFileSync(headerFile, 'utf8'))
  rmSync(headerFile, { force: true })
  return { h, body }
}

describe('Caddy edge', () => {
  test('miss: proxied to the edge and streamed (chunked); hit: served by Caddy', async () => {
    const url = `${stack.url}/image/${id}/${VERSION}/initramfs-amd64.xz`
    const miss = await curl([url])
    expect(miss.h[':status']).toBe('200')
    expect(miss.h['x-cache']).toBe('MISS')
    expect(miss.h['content-length']).toBeUndefined()
    expect(miss.h['transfer-encoding']).toBe('chunked')
    expect(miss.h.server).toMatch(/^Image Factory v\S+$/)

    const hit = await curl([url])
    expect(hit.h[':status']).toBe('200')
    expect(hit.h.server).toContain('(caddy)')
    expect(hit.h['x-cache']).toBe('HIT')
    expect(hit.h['content-type']).toBe('application/x-xz')
    expect(hit.h['content-disposition']).toBe('attachment; filename="initramfs-amd64.xz"')
    expect(hit.h['content-length']).toBe(String(miss.body.length))
    expect(hit.h['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(Buffer.compare(hit.body, miss.body)).toBe(0)

    // Range and conditional requests on the hit
    const part = await curl(['-r', '100-199', url])
    expect(part.h[':status']).toBe('206')
    expect(part.h['content-range']).toBe(`bytes 100-199/${miss.body.length}`)
    expect(Buffer.compare(part.body, miss.body.subarray(100, 200))).toBe(0)
    const etag = hit.h.etag!
    expect(etag).toMatch(/^"[0-9a-z]+"$/)
    const notModified = await curl(['-H', `If-None-Match: ${etag}`, url])
    expect(notModified.h[':status']).toBe('304')
    const echoed = await curl(['-H', 'X-Request-ID: trace-42', '-o', '/dev/null', url])
    expect(echoed.h['x-request-id']).toBe('trace-42')

    // the checksum sidecar is a static file too
    const sum = await curl([`${url}.sha256`])
    expect(sum.body.toString()).toBe(`${new Bun.CryptoHasher('sha256').update(miss.body).digest('hex')}  initramfs-amd64.xz\n`)
    expect(sum.h.server).toContain('(caddy)')
  }, 120_000)

  test('?filename= and API requests go to the edge', async () => {
    const named = await curl([`${stack.url}/image/${id}/${VERSION}/initramfs-amd64.xz?filename=talos.xz`, '-o', '/dev/null'])
    expect(named.h['content-disposition']).toBe('attachment; filename="talos.xz"')
    expect(named.h.server).not.toContain('(caddy)')
    const versions = await curl([`${stack.url}/versions`])
    expect(JSON.parse(versions.body.toString())).toContain(VERSION)
  })

  test('errors keep their status and one-line reason through Caddy', async () => {
    const bad = await curl([`${stack.url}/image/${id}/${VERSION}/metal-amd64.ssd`])
    expect(bad.h[':status']).toBe('400')
    expect(bad.body.toString()).toBe('error parsing profile from path: invalid profile path: "metal-amd64.ssd"\n')
    const nf = await curl([`${stack.url}/image/${'f'.repeat(64)}/${VERSION}/kernel-amd64`])
    expect(nf.h[':status']).toBe('404')
  })
})

describe('installer images through Caddy', () => {
  test('manifests go to the edge (built through the builder daemon); published blobs are served by Caddy; skopeo pulls through it', async () => {
    const repo = `metal-installer/${id}`
    const index = await curl(['-H', 'Accept: application/vnd.oci.image.index.v1+json', `${stack.url}/v2/${repo}/manifests/${VERSION}`])
    expect(index.h[':status']).toBe('200')
    expect(index.h.server).not.toContain('(caddy)')
    const amd64 = (JSON.parse(index.body.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] }).manifests.find((m) => m.platform.architecture === 'amd64')!
    const manifest = JSON.parse((await curl([`${stack.url}/v2/${repo}/manifests/${amd64.digest}`])).body.toString()) as { layers: { digest: string; size: number }[] }
    const layer = manifest.layers.at(-1)!

    const blob = await curl([`${stack.url}/v2/${repo}/blobs/${layer.digest}`])
    expect(blob.h[':status']).toBe('200')
    expect(blob.h.server).toContain('(caddy)')
    expect(blob.h['docker-content-digest']).toBe(layer.digest)
    expect(blob.h['content-type']).toBe('application/octet-stream')
    expect(blob.h['content-length']).toBe(String(layer.size))
    expect(`sha256:${new Bun.CryptoHasher('sha256').update(blob.body).digest('hex')}`).toBe(layer.digest)
    const part = await curl(['-r', '0-99', `${stack.url}/v2/${repo}/blobs/${layer.digest}`])
    expect(part.h[':status']).toBe('206')
    expect(Buffer.compare(part.body, blob.body.subarray(0, 100))).toBe(0)
    const head = await curl(['-I', `${stack.url}/v2/${repo}/blobs/${layer.digest}`])
    expect(head.h['content-length']).toBe(String(layer.size))

    // another repository does not have the blob: the edge answers, in OCI terms
    const other = await curl([`${stack.url}/v2/installer/${id}/blobs/${layer.digest}`])
    expect(other.h[':status']).toBe('404')
    expect(other.h.server).not.toContain('(caddy)')
    expect(JSON.parse(other.body.toString()).errors[0].code).toBe('BLOB_UNKNOWN')
    // a non-canonical URI is never a Caddy hit
    const dotted = await curl(['--path-as-is', `${stack.url}/v2/${repo}/blobs/../blobs/${layer.digest}`])
    expect(dotted.h.server ?? '').not.toContain('(caddy)')

    const layout = join(stack.dataDir, '..', `caddy-pull-${process.pid}`)
    try {
      const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://127.0.0.1:${stack.port}/${repo}:${VERSION}`, `oci:${layout}:t`], { stderr: 'pipe' })
      expect(p.stderr.toString()).toBe('')
      expect(p.exitCode).toBe(0)
    } finally {
      rmSync(layout, { recursive: true, force: true })
    }
  }, 240_000)
})

describe('the stack supervises its processes', () => {
  test('a builder killed mid-build is restarted; nothing partial is visible; the next request rebuilds', async () => {
    const body = JSON.stringify({
      customization: {
        extraKernelArgs: ['killed-mid-build'],
        systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/gvisor', 'siderolabs/gasket-driver', 'siderolabs/realtek-firmware'] },
      },
    })
    const sid = ((await (await fetch(`${stack.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
    const builderPid = () => [...stack.logs().matchAll(/"msg":"process started"[^\n]*"process":"builder","pid":(\d+)/g)].map((m) => Number(m[1])).pop()!
    const firstPid = builderPid()
    const url = `${stack.url}/image/${sid}/${VERSION}/initramfs-amd64.xz`
    const pending = fetch(url).then((r) => r.arrayBuffer()).catch(() => null)
    // wait until the imager is running (its output temp file exists), then kill the builder
    const tmp = join(stack.dataDir, 'tmp')
    for (let i = 0; i < 400 && readdirSync(tmp).length === 0; i++) await Bun.sleep(5)
    process.kill(firstPid, 'SIGKILL')
    await pending
    expect(readdirSync(join(stack.dataDir, 'by-url')).includes(sid)).toBe(false)
    // restarted by the stack
    for (let i = 0; i < 200 && builderPid() === firstPid; i++) await Bun.sleep(50)
    expect(builderPid()).not.toBe(firstPid)
    let res: Response | undefined
    for (let i = 0; i < 100; i++) {
      res = await fetch(url)
      if (res.status === 200) break
      await res.arrayBuffer()
      await Bun.sleep(100)
    }
    expect(res!.status).toBe(200)
    const bytes = new Uint8Array(await res!.arrayBuffer())
    expect(bytes.length).toBeGreaterThan(100_000)
    const sum = await (await fetch(`${url}.sha256`)).text()
    expect(sum.split(' ')[0]).toBe(new Bun.CryptoHasher('sha256').update(bytes).digest('hex'))
    // the restarted builder's counters are visible through the edge's /metrics
    const metrics = await (await fetch(`${stack.url}/metrics`)).text()
    expect(metrics).toMatch(/^image_factory_imager_runs_total [1-9]/m)
  }, 120_000)
})
