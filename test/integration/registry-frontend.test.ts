/**
 * The OCI registry frontend with real clients against never-built schematics, plain HTTP on
 * loopback (factory-spec §13.2 TestRegistryFrontend): skopeo inspect / copy, podman pull, both
 * architectures in a signed multi-arch index, a second pull served from the store without a
 * build, 20 concurrent cold pulls sharing one build per architecture, and the cosign signature
 * checked with openssl against /oci/cosign/signing-key.pub (independently of the signing code).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

let up: Upstream
let edge: RunningEdge
let host: string
let work: string

beforeAll(async () => {
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  host = new URL(edge.url).host
  work = await mkdtemp(join(tmpdir(), 'registry-frontend-'))
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

async function schematic(body: unknown): Promise<string> {
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify(body) })
  return ((await res.json()) as { id: string }).id
}

async function run(cmd: string[], timeoutMs = 240_000): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, HOME: work } })
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  clearTimeout(timer)
  return { code: await p.exited, out, err }
}

async function ok(cmd: string[]): Promise<string> {
  const r = await run(cmd)
  if (r.code !== 0) throw new Error(`${cmd.join(' ')} → ${r.code}: ${r.err}`)
  return r.out
}

function counters() {
  const b = edge.ctx.builder?.manager.counters
  if (!b) throw new Error('the test edge runs its builder in-process')
  return { imagerRuns: b.imagerRuns, published: edge.ctx.registry.publisher.counters.published }
}

async function unpack(layout: string, ref: string, dest: string): Promise<string[]> {
  await ok(['umoci', 'unpack', '--rootless', '--image', `${layout}:${ref}`, dest])
  const rootfs = join(dest, 'rootfs')
  return (await ok(['find', rootfs, '-type', 'f'])).trim().split('\n').map((p) => p.slice(rootfs.length + 1)).sort()
}

describe('installer images over /v2/ (Talos < 1.10)', () => {
  let id: string
  beforeAll(async () => {
    id = await schematic({ customization: { systemExtensions: { officialExtensions: ['siderolabs/gvisor'] }, extraKernelArgs: ['nolapic'] } })
  })

  test('skopeo inspect a never-built image: a signed index with linux/amd64 and linux/arm64', async () => {
    const before = counters()
    const raw = JSON.parse(await ok(['skopeo', 'inspect', '--tls-verify=false', '--raw', `docker://${host}/installer/${id}:v1.9.5`])) as {
      mediaType: string
      manifests: { mediaType: string; platform: { os: string; architecture: string } }[]
    }
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(raw.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64'])
    expect(raw.manifests.every((m) => m.mediaType === 'application/vnd.docker.distribution.manifest.v2+json')).toBe(true)
    const after = counters()
    expect(after.imagerRuns - before.imagerRuns).toBe(2)
    expect(after.published - before.published).toBe(1)

    const inspected = JSON.parse(await ok(['skopeo', 'inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${host}/installer/${id}:v1.9.5`])) as {
      Architecture: string
      Layers: string[]
    }
    expect(inspected.Architecture).toBe('arm64')
    expect(inspected.Layers).toHaveLength(2)
  }, 300_000)

  test('skopeo copy to an OCI layout: both architectures hold the right files; a second pull builds nothing', async () => {
    const layout = join(work, 'pulled')
    const before = counters()
    await ok(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/installer/${id}:v1.9.5`, `oci:${layout}:amd64`])
    await ok(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${host}/installer/${id}:v1.9.5`, `oci:${layout}:arm64`])
    expect(counters()).toEqual(before)
    expect(await unpack(layout, 'amd64', join(work, 'amd64'))).toEqual(['bin/installer', 'usr/install/amd64/initramfs.xz', 'usr/install/amd64/vmlinuz'])
    expect(await unpack(layout, 'arm64', join(work, 'arm64'))).toEqual(['bin/installer', 'usr/install/arm64/initramfs.xz', 'usr/install/arm64/vmlinuz'])
    // the initramfs carries the schematic's extension (the same bytes /image serves)
    const initramfs = new Uint8Array(await (await fetch(`${edge.url}/image/${id}/v1.9.5/initramfs-amd64.xz`)).arrayBuffer())
    expect(Bun.hash(await Bun.file(join(work, 'amd64', 'rootfs', 'usr/install/amd64/initramfs.xz')).bytes())).toBe(Bun.hash(initramfs))
  }, 300_000)

  test('the signature verifies with openssl against /oci/cosign/signing-key.pub', async () => {
    const keyRes = await fetch(`${edge.url}/oci/cosign/signing-key.pub`)
    expect(keyRes.status).toBe(200)
    expect(keyRes.headers.get('content-type')).toBe('application/x-pem-file')
    const pem = await keyRes.text()
    expect(pem).toStartWith('-----BEGIN PUBLIC KEY-----\n')
    const head = await fetch(`${edge.url}/v2/installer/${id}/manifests/v1.9.5`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json' } })
    const digest = head.headers.get('docker-content-digest') as string
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/)

    const sigTag = `${digest.replace(':', '-')}.sig`
    const sig = (await (await fetch(`${edge.url}/v2/installer/${id}/manifests/${sigTag}`)).json()) as {
      layers: { mediaType: string; digest: string; annotations: Record<string, string> }[]
    }
    expect(sig.layers).toHaveLength(1)
    const layer = sig.layers[0]!
    expect(layer.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json')
    const payload = new Uint8Array(await (await fetch(`${edge.url}/v2/installer/${id}/blobs/${layer.digest}`)).arrayBuffer())
    const claims = JSON.parse(new TextDecoder().decode(payload)) as { critical: { type: string; image: Record<string, string>; identity: Record<string, string> } }
    expect(claims.critical.type).toBe('cosign container image signature')
    expect(claims.critical.image['docker-manifest-digest']).toBe(digest)
    // the repository as the factory names it (its external URL's host)
    expect(claims.critical.identity['docker-reference']).toBe(`${new URL(edge.ctx.config.http.externalUrl).host}/installer/${id}`)

    await writeFile(join(work, 'key.pub'), pem)
    await writeFile(join(work, 'payload.json'), payload)
    await writeFile(join(work, 'sig.der'), Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'] as string, 'base64'))
    const verified = await run(['openssl', 'dgst', '-sha256', '-verify', join(work, 'key.pub'), '-signature', join(work, 'sig.der'), join(work, 'payload.json')])
    expect(verified.out.trim()).toBe('Verified OK')
    // a tampered payload does not verify
    await writeFile(join(work, 'payload.json'), new TextDecoder().decode(payload).replace(digest, `sha256:${'0'.repeat(64)}`))
    const tampered = await run(['openssl', 'dgst', '-sha256', '-verify', join(work, 'key.pub'), '-signature', join(work, 'sig.der'), join(work, 'payload.json')])
    expect(tampered.code).not.toBe(0)
  }, 120_000)

  test('podman pull --tls-verify=false', async () => {
    const probe = await run(['podman', '--version'], 30_000).catch(() => ({ code: 127, out: '', err: 'podman missing' }))
    if (probe.code !== 0) {
      console.warn('podman is not installed: skipping the podman pull check (skopeo checks above still ran)')
      return
    }
    const root = join(work, 'podman')
    const args = ['podman', '--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none']
    const pulled = await run([...args, 'pull', '--tls-verify=false', `${host}/installer/${id}:v1.9.5`])
    expect(pulled.code).toBe(0)
    const images = await ok([...args, 'image', 'inspect', `${host}/installer/${id}:v1.9.5`, '--format', '{{.Architecture}} {{len .RootFS.Layers}}'])
    expect(images.trim()).toBe('amd64 2')
  }, 240_000)

  test('20 concurrent cold pulls of one image → one build per architecture, one publish', async () => {
    const fresh = await schematic({ customization: { extraKernelArgs: ['concurrent-cold-pulls'] } })
    const before = counters()
    const pulls = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${edge.url}/v2/installer/${fresh}/manifests/v1.9.5`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })),
    )
    const digests = new Set(pulls.map((r) => r.headers.get('docker-content-digest')))
    expect(pulls.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(digests.size).toBe(1)
    const after = counters()
    expect(after.imagerRuns - before.imagerRuns).toBe(2)
    expect(after.published - before.published).toBe(1)
    const metrics = await (await fetch(`${edge.url}/metrics`)).text()
    expect(metrics).toContain(`image_factory_installer_published_total ${after.published}`)
  }, 300_000)
})

describe('installer images over /v2/ (Talos ≥ 1.10: UKI + systemd-boot)', () => {
  test('skopeo copy of metal-installer: usr/bin/installer + the UKI with the schematic kernel args; arm64 too; latest → v1.12.0', async () => {
    const id = await schematic({ customization: { extraKernelArgs: ['nolapic', 'nomodeset'] } })
    const layout = join(work, 'uki-pulled')
    await ok(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/metal-installer/${id}:v1.12.0`, `oci:${layout}:amd64`])
    await ok(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${host}/metal-installer/${id}:latest`, `oci:${layout}:arm64`])
    expect(await unpack(layout, 'amd64', join(work, 'uki-amd64'))).toEqual(['usr/bin/installer', 'usr/install/amd64/systemd-boot.efi', 'usr/install/amd64/vmlinuz.efi'])
    expect(await unpack(layout, 'arm64', join(work, 'uki-arm64'))).toEqual(['usr/bin/installer', 'usr/install/arm64/systemd-boot.efi', 'usr/install/arm64/vmlinuz.efi'])
    const uki = join(work, 'uki-amd64', 'rootfs', 'usr/install/amd64/vmlinuz.efi')
    await ok(['objcopy', '-O', 'binary', '--only-section=.cmdline', uki, join(work, 'uki.cmdline')])
    const cmdline = (await readFile(join(work, 'uki.cmdline'), 'utf8')).replace(/\0+$/, '')
    expect(cmdline.startsWith('talos.platform=metal console=tty0 ')).toBe(true)
    expect(cmdline.endsWith(' nolapic nomodeset')).toBe(true)
  }, 300_000)

  test('installer-secureboot with Secure Boot disabled → 400 with an OCI error body', async () => {
    const id = await schematic({})
    const res = await fetch(`${edge.url}/v2/installer-secureboot/${id}/manifests/v1.12.0`)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { errors: { code: string; message: string }[] }
    expect(body.errors[0]!.message).toContain('secure boot is disabled')
  }, 60_000)
})
