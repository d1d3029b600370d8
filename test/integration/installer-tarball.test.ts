/**
 * Installer tarballs over HTTP (`installer-<arch>.tar`, `<platform>-installer-<arch>.tar`): a
 * `docker save` archive that skopeo loads (`docker-archive:`), whose base layer is the upstream
 * installer's first layer unchanged (same digest) and whose artifacts layer holds exactly the
 * reference's files.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { makeTestKeys } from '../helpers/sb-keys.ts'
import { RegistryClient } from '../../src/oci/client.ts'

let up: Upstream
let edge: RunningEdge
let work: string
let withExt: string

beforeAll(async () => {
  up = await sharedUpstream()
  edge = await startEdge(up.env)
  work = await mkdtemp(join(tmpdir(), 'installer-tar-'))
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { systemExtensions: { officialExtensions: ['siderolabs/gvisor'] } } }) })
  withExt = ((await res.json()) as { id: string }).id
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

function sh(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' })
  if (p.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed: ${p.stderr.toString()}`)
  return p.stdout.toString()
}

interface OciManifest {
  layers: { digest: string; mediaType: string }[]
  config: { digest: string }
}

async function layoutManifest(dir: string): Promise<OciManifest> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }
  const blob = (d: string) => readFile(join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8')
  return JSON.parse(await blob(index.manifests[0]!.digest)) as OciManifest
}

describe('installer-amd64.tar (Talos < 1.10)', () => {
  test('loads with skopeo docker-archive:, reuses the base layer, holds vmlinuz + initramfs with extensions', async () => {
    const res = await fetch(`${edge.url}/image/${withExt}/v1.9.5/installer-amd64.tar`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-tar')
    const tarball = join(work, 'installer-amd64.tar')
    await Bun.write(tarball, await res.arrayBuffer())

    const names = sh(['tar', '-tf', tarball]).trim().split('\n')
    expect(names[0]).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(names.at(-1)).toBe('manifest.json')
    const [archiveManifest] = JSON.parse(sh(['tar', '-xOf', tarball, 'manifest.json'])) as [{ RepoTags: string[]; Layers: string[] }]
    expect(archiveManifest!.RepoTags).toEqual(['ghcr.io/siderolabs/installer:v1.9.5'])
    expect(archiveManifest!.Layers).toHaveLength(2)

    const upstream = new RegistryClient({ registry: up.registry.host, insecure: true })
    const base = await upstream.resolveImage('siderolabs/installer', 'v1.9.5', 'amd64')
    // the base layer is the upstream installer's first layer, byte for byte (skopeo may re-compress on copy)
    expect(archiveManifest!.Layers[0]).toBe(`${base.manifest.layers[0]!.digest.slice(7)}.tar.gz`)
    const layerBytes = Bun.spawnSync(['tar', '-xOf', tarball, archiveManifest!.Layers[0]!], { stdout: 'pipe' }).stdout
    expect(`sha256:${new Bun.CryptoHasher('sha256').update(layerBytes).digest('hex')}`).toBe(base.manifest.layers[0]!.digest)

    const layout = join(work, 'layout')
    sh(['skopeo', 'copy', '--quiet', `docker-archive:${tarball}`, `oci:${layout}:t`])
    const manifest = await layoutManifest(layout)
    expect(manifest.layers).toHaveLength(2)

    const unpacked = join(work, 'unpacked')
    sh(['umoci', 'unpack', '--rootless', '--image', `${layout}:t`, unpacked])
    const rootfs = join(unpacked, 'rootfs')
    expect(sh(['find', rootfs, '-type', 'f']).trim().split('\n').map((p) => p.slice(rootfs.length + 1)).sort()).toEqual([
      'bin/installer',
      'usr/install/amd64/initramfs.xz',
      'usr/install/amd64/vmlinuz',
    ])
    // the artifacts layer alone: files only, mode 0, mtime 0
    const artifacts = join(layout, 'blobs', 'sha256', manifest.layers[1]!.digest.slice(7))
    expect(sh(['tar', '-tvzf', artifacts]).trim().split('\n').map((l) => l.split(/\s+/).filter(Boolean))).toEqual([
      ['----------', '0/0', expect.any(String), '1970-01-01', '00:00', 'usr/install/amd64/initramfs.xz'],
      ['----------', '0/0', expect.any(String), '1970-01-01', '00:00', 'usr/install/amd64/vmlinuz'],
    ])
    // the initramfs is the one /image serves for the same schematic (extensions included)
    const initramfs = new Uint8Array(await (await fetch(`${edge.url}/image/${withExt}/v1.9.5/initramfs-amd64.xz`)).arrayBuffer())
    const inLayer = await Bun.file(join(rootfs, 'usr/install/amd64/initramfs.xz')).bytes()
    expect(Bun.hash(inLayer)).toBe(Bun.hash(initramfs))
    const kernel = new Uint8Array(await (await fetch(`${edge.url}/image/${withExt}/v1.9.5/kernel-amd64`)).arrayBuffer())
    expect(Bun.hash(await Bun.file(join(rootfs, 'usr/install/amd64/vmlinuz')).bytes())).toBe(Bun.hash(kernel))
  }, 240_000)

  test('the same request again is a cache hit with identical bytes; platform installers parse', async () => {
    const a = await fetch(`${edge.url}/image/${withExt}/v1.9.5/installer-arm64.tar`)
    expect(a.status).toBe(200)
    const first = new Uint8Array(await a.arrayBuffer())
    const b = await fetch(`${edge.url}/image/${withExt}/v1.9.5/installer-arm64.tar`)
    expect(b.headers.get('x-cache')).toBe('HIT')
    expect(Bun.hash(new Uint8Array(await b.arrayBuffer()))).toBe(Bun.hash(first))
    const aws = await fetch(`${edge.url}/image/${withExt}/v1.9.5/aws-installer-amd64.tar`, { method: 'HEAD' })
    expect(aws.status).toBe(200)
  }, 240_000)
})

/** The `.cmdline` section of a PE file (objcopy from binutils). */
function ukiCmdline(path: string, out: string): string {
  sh(['objcopy', '-O', 'binary', '--only-section=.cmdline', path, out])
  return readFileSync(out, 'utf8').replace(/\0+$/, '')
}

describe('installer-<arch>.tar (Talos ≥ 1.10): the UKI and systemd-boot', () => {
  test('exactly 2 layers; the artifacts layer holds only vmlinuz.efi + systemd-boot.efi; the UKI has the schematic kernel args', async () => {
    const args = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { extraKernelArgs: ['nolapic', 'nomodeset'] } }) })
    const id = ((await args.json()) as { id: string }).id
    for (const [path, platform] of [
      ['installer-amd64.tar', 'metal'],
      ['aws-installer-amd64.tar', 'aws'],
    ] as const) {
      const res = await fetch(`${edge.url}/image/${id}/v1.12.0/${path}`)
      expect(res.status).toBe(200)
      const tarball = join(work, `new-${path}`)
      await Bun.write(tarball, await res.arrayBuffer())
      const layout = join(work, `layout-${path}`)
      sh(['skopeo', 'copy', '--quiet', `docker-archive:${tarball}`, `oci:${layout}:t`])
      const manifest = await layoutManifest(layout)
      expect(manifest.layers).toHaveLength(2)
      const artifacts = join(layout, 'blobs', 'sha256', manifest.layers[1]!.digest.slice(7))
      expect(sh(['tar', '-tzf', artifacts]).trim().split('\n')).toEqual(['usr/install/amd64/systemd-boot.efi', 'usr/install/amd64/vmlinuz.efi'])
      const dir = join(work, `x-${path}`)
      sh(['mkdir', '-p', dir])
      sh(['tar', '-xzf', artifacts, '-C', dir])
      // the reference's expectation (factory-spec §6.8): the platform's console args, the defaults, then the schematic's
      const cmdline = ukiCmdline(join(dir, 'usr/install/amd64/vmlinuz.efi'), join(dir, 'cmdline'))
      expect(cmdline.startsWith(`talos.platform=${platform} `)).toBe(true)
      expect(cmdline.endsWith(' nolapic nomodeset')).toBe(true)
      expect(cmdline).toContain(' selinux=1')
      const expected = new TextDecoder().decode(new Uint8Array(await (await fetch(`${edge.url}/image/${id}/v1.12.0/cmdline-${platform}-amd64`)).arrayBuffer()))
      expect(cmdline.replace(' console=ttyS0', '')).toBe(expected.replace(' console=ttyS0', ''))
    }
  }, 300_000)
})

describe('installer with an overlay (imager-spec §8 step 5)', () => {
  test('a third layer: overlay/artifacts/**, overlay/installers/default, overlay/extra-options', async () => {
    const body = JSON.stringify({ overlay: { image: 'siderolabs/sbc-raspberrypi', name: 'rpi_generic', options: { configTxtAppend: 'dtoverlay=disable-bt' } } })
    const id = ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
    const res = await fetch(`${edge.url}/image/${id}/v1.9.5/installer-arm64.tar`)
    expect(res.status).toBe(200)
    const tarball = join(work, 'overlay-installer.tar')
    await Bun.write(tarball, await res.arrayBuffer())
    const layout = join(work, 'overlay-layout')
    sh(['skopeo', 'copy', '--quiet', `docker-archive:${tarball}`, `oci:${layout}:t`])
    const manifest = await layoutManifest(layout)
    expect(manifest.layers).toHaveLength(3)
    const overlay = join(layout, 'blobs', 'sha256', manifest.layers[2]!.digest.slice(7))
    const files = sh(['tar', '-tzf', overlay]).trim().split('\n')
    expect(files).toContain('overlay/artifacts/arm64/firmware/boot/fixup.dat')
    expect(files).toContain('overlay/installers/default')
    expect(files).toContain('overlay/extra-options')
    expect(sh(['tar', '-xOzf', overlay, 'overlay/extra-options'])).toBe('configTxtAppend: dtoverlay=disable-bt\n')
    const listing = sh(['tar', '-tvzf', overlay])
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 .* overlay\/installers\/default$/m)
  }, 240_000)
})

describe('Secure Boot installers', () => {
  test('signed UKI and systemd-boot; below 1.10 the UKI is vmlinuz.efi.signed', async () => {
    const keys = await makeTestKeys(join(work, 'sb'))
    const sb = await startEdge({
      ...up.env,
      FACTORY_SECUREBOOT_ENABLED: 'true',
      FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey,
      FACTORY_SECUREBOOT_SIGNING_CERT: keys.signingCert,
      FACTORY_SECUREBOOT_PCR_KEY: keys.pcrKey,
    })
    try {
      const id = ((await (await fetch(`${sb.url}/schematics`, { method: 'POST', body: '{}' })).json()) as { id: string }).id
      for (const [version, uki] of [
        ['v1.12.0', 'vmlinuz.efi'],
        ['v1.9.5', 'vmlinuz.efi.signed'],
      ] as const) {
        const res = await fetch(`${sb.url}/image/${id}/${version}/installer-amd64-secureboot.tar`)
        expect(res.status).toBe(200)
        const tarball = join(work, `sb-${version}.tar`)
        await Bun.write(tarball, await res.arrayBuffer())
        const layout = join(work, `sb-layout-${version}`)
        sh(['skopeo', 'copy', '--quiet', `docker-archive:${tarball}`, `oci:${layout}:t`])
        const manifest = await layoutManifest(layout)
        expect(manifest.layers).toHaveLength(2)
        const artifacts = join(layout, 'blobs', 'sha256', manifest.layers[1]!.digest.slice(7))
        expect(sh(['tar', '-tzf', artifacts]).trim().split('\n')).toEqual(['usr/install/amd64/systemd-boot.efi', `usr/install/amd64/${uki}`])
        const dir = join(work, `sb-x-${version}`)
        sh(['mkdir', '-p', dir])
        sh(['tar', '-xzf', artifacts, '-C', dir])
        for (const f of ['systemd-boot.efi', uki]) sh(['sbverify', '--cert', keys.signingCert, join(dir, 'usr/install/amd64', f)])
        expect(ukiCmdline(join(dir, 'usr/install/amd64', uki), join(dir, 'cmdline'))).toContain(' lockdown=confidentiality')
      }
    } finally {
      await sb.stop()
    }
  }, 300_000)
})
