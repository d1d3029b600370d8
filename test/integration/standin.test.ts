/**
 * The stand-in Talos release (test/fixtures/standin): published to a real registry
 * (docker-registry), checked with skopeo, rebuilt for reproducibility, and booted under QEMU with
 * a hand-made extension appended to its initramfs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { TALOSCTL_FILES } from '../fixtures/standin/catalog.ts'
import { cpioNewc, mksquashfs, type InitramfsCompression } from '../fixtures/standin/initramfs.ts'
import { buildStandinRelease, type StandinRelease } from '../fixtures/standin/release.ts'
import { BOOT_FAILURE_PATTERNS, bootQemu, directBootArgs, markerLines } from '../helpers/qemu.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'

const VERSIONS = ['v1.7.6', 'v1.12.0'] // xz initramfs (< 1.8) and zstd (≥ 1.8, ≥ 1.10 paths, ≥ 1.11 talosctl)
const REF_NAME = 'org.opencontainers.image.ref.name'

let reg: TestRegistry
let work: string
let release: StandinRelease
const layoutA = (): string => join(work, 'layout-a')

function sh(cmd: string[], opts: { cwd?: string } = {}): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

function ok(cmd: string[], opts: { cwd?: string } = {}): string {
  const r = sh(cmd, opts)
  if (r.code !== 0) throw new Error(`${cmd.join(' ')} failed (${r.code}): ${r.err}`)
  return r.out
}

function sha256(data: string | Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher('sha256').update(data).digest('hex')}`
}

interface Desc {
  mediaType: string
  digest: string
  platform?: { architecture: string; os: string }
  annotations?: Record<string, string>
}

/** Unpacks the `arch` image of `repo:tag` from an OCI layout written by the stand-in builder. */
async function extractImage(layoutRoot: string, repo: string, tag: string, arch: string, out: string): Promise<void> {
  const dir = join(layoutRoot, repo)
  const blob = (digest: string): string => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length))
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Desc[] }
  const top = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)
  if (top === undefined) throw new Error(`${repo}:${tag} not in layout`)
  const idx = JSON.parse(await readFile(blob(top.digest), 'utf8')) as { manifests: Desc[] }
  const m = idx.manifests.find((d) => d.platform?.architecture === arch)
  if (m === undefined) throw new Error(`${repo}:${tag} has no ${arch}`)
  const manifest = JSON.parse(await readFile(blob(m.digest), 'utf8')) as { layers: Desc[] }
  await mkdir(out, { recursive: true })
  for (const l of manifest.layers) ok(['tar', l.mediaType.endsWith('+gzip') ? '-xzf' : '-xf', blob(l.digest), '-C', out])
}

function extensionsYaml(layers: { image: string; name: string; version: string; compatibility: string }[]): string {
  const out = ['layers:']
  for (const l of layers) {
    out.push(
      `    - image: ${l.image}`,
      '      metadata:',
      `          name: ${l.name}`,
      `          version: ${l.version}`,
      '          author: Sidero Labs',
      '          description: |',
      '              stand-in extension',
      '          compatibility:',
      '              talos:',
      `                  version: '${l.compatibility}'`,
    )
  }
  return `${out.join('\n')}\n`
}

/** NUL bytes so the next (uncompressed) cpio starts 4-byte aligned: the kernel requires it. */
function alignPad(size: number): Uint8Array {
  return new Uint8Array((4 - (size % 4)) % 4)
}

beforeAll(async () => {
  reg = await startRegistry()
  work = await mkdtemp(join(tmpdir(), 'standin-test-'))
  release = await buildStandinRelease({ registry: reg.host, insecure: true, versions: VERSIONS, layoutDir: layoutA() })
}, 600_000)

afterAll(async () => {
  await reg?.stop()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('stand-in release in a registry', () => {
  test('repositories and tags follow the official release (installer-base ≥ 1.10, talosctl-all ≥ 1.11)', () => {
    const tags = (repo: string): string[] => {
      const r = sh(['skopeo', 'list-tags', '--tls-verify=false', `docker://${reg.host}/${repo}`])
      if (r.code !== 0) return []
      return ((JSON.parse(r.out) as { Tags: string[] }).Tags ?? []).sort()
    }
    expect(tags('siderolabs/imager')).toEqual(['v1.12.0', 'v1.7.6'])
    expect(tags('siderolabs/installer')).toEqual(['v1.12.0', 'v1.7.6'])
    expect(tags('siderolabs/extensions')).toEqual(['v1.12.0', 'v1.7.6'])
    expect(tags('siderolabs/overlays')).toEqual(['v1.12.0', 'v1.7.6'])
    expect(tags('siderolabs/installer-base')).toEqual(['v1.12.0'])
    expect(tags('siderolabs/talosctl-all')).toEqual(['v1.12.0'])
    expect(tags('siderolabs/sbc-raspberrypi')).toEqual(['v0.1.0'])
    expect(tags('siderolabs/gvisor')).toEqual(['20240826.0'])
    expect(tags('siderolabs/gasket-driver')).toEqual(['97aeba5-v1.12.0', '97aeba5-v1.7.6'])
    expect(release.kernelVersion).toMatch(/^6\.1\.\d+-\d+-amd64$/)
    expect(release.versions.map((v) => [v.version, v.initramfsCompression, v.modulesPath])).toEqual([
      ['v1.7.6', 'xz', '/lib/modules'],
      ['v1.12.0', 'zstd', '/usr/lib/modules'],
    ])
  })

  test('imager is a linux/amd64 + linux/arm64 index; skopeo resolves both arches', () => {
    for (const v of release.versions) {
      const ref = `docker://${reg.host}/siderolabs/imager:${v.version}`
      const raw = ok(['skopeo', 'inspect', '--tls-verify=false', '--raw', ref])
      expect(sha256(raw)).toBe(v.images['siderolabs/imager']!.digest)
      const idx = JSON.parse(raw) as { mediaType: string; manifests: Desc[] }
      expect(idx.mediaType).toBe('application/vnd.oci.image.index.v1+json')
      expect(idx.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual(['linux/amd64', 'linux/arm64'])
      for (const arch of ['amd64', 'arm64']) {
        const info = JSON.parse(ok(['skopeo', 'inspect', '--tls-verify=false', '--override-arch', arch, '--override-os', 'linux', ref])) as {
          Architecture: string
          Labels: Record<string, string>
          Env: string[]
        }
        expect(info.Architecture).toBe(arch)
        expect(info.Labels['alpha.talos.dev/version']).toBe(v.version)
        expect(info.Env).toContain(`VERSION=${v.version}`)
      }
    }
  })

  test('imager filesystem: both arches, Debian kernel, xz (crc32) below 1.8 and zstd from 1.8', async () => {
    for (const v of release.versions) {
      const out = join(work, `imager-${v.version}`)
      await extractImage(layoutA(), 'siderolabs/imager', v.version, 'amd64', out)
      for (const arch of ['amd64', 'arm64']) {
        for (const f of ['vmlinuz', 'initramfs.xz', 'systemd-stub.efi', 'systemd-boot.efi']) {
          expect((await Bun.file(join(out, 'usr/install', arch, f)).exists()) ? f : `missing ${arch}/${f}`).toBe(f)
        }
      }
      expect(ok(['file', '-b', join(out, 'usr/install/amd64/vmlinuz')])).toContain('Linux kernel x86 boot executable')
      expect(ok(['file', '-b', join(out, 'usr/install/arm64/vmlinuz')])).toContain('Aarch64')
      const initramfs = join(out, 'usr/install/amd64/initramfs.xz')
      const magic = Buffer.from(await Bun.file(initramfs).slice(0, 4).arrayBuffer()).toString('hex')
      let cpioList: string
      if (v.initramfsCompression === 'xz') {
        expect(magic).toBe('fd377a58')
        expect(ok(['xz', '--robot', '-lv', initramfs])).toMatch(/\tCRC32\t/)
        cpioList = ok(['sh', '-c', 'xz -dc "$1" | cpio -it --quiet', 'sh', initramfs])
      } else {
        expect(magic).toBe('28b52ffd')
        cpioList = ok(['sh', '-c', 'zstd -dc "$1" | cpio -it --quiet', 'sh', initramfs])
      }
      const names = cpioList.trim().split('\n')
      expect(names.slice(0, 2)).toEqual(['init', 'rootfs.sqsh'])
      expect(names.every((n) => n === 'init' || n === 'rootfs.sqsh' || n.startsWith('standin'))).toBe(true)
      expect(await readFile(join(out, 'etc/modules.d/10-extra-modules.conf'), 'utf8')).toBe('search extras built-in\n')
    }
  })

  test('extensions catalogue: ghcr.io lines whose digests are the pushed indexes; descriptions keyed by line', async () => {
    for (const v of release.versions) {
      const out = join(work, `extensions-${v.version}`)
      await extractImage(layoutA(), 'siderolabs/extensions', v.version, 'amd64', out)
      const lines = (await readFile(join(out, 'image-digests'), 'utf8')).trim().split('\n')
      expect(lines.length).toBe(v.extensions.length)
      const descriptions = YAML.parse(await readFile(join(out, 'descriptions.yaml'), 'utf8')) as Record<string, { author: string; description: string }>
      expect(Object.keys(descriptions).sort()).toEqual([...lines].sort())
      const names = lines.map((l) => l.slice('ghcr.io/'.length, l.indexOf(':')))
      expect(names).toEqual(['siderolabs/amd-ucode', 'siderolabs/gasket-driver', 'siderolabs/gvisor', 'siderolabs/intel-ucode', 'siderolabs/iscsi-tools', 'siderolabs/realtek-firmware'])
      for (const line of lines) {
        const m = /^ghcr\.io\/(siderolabs\/[a-z0-9-]+):([^@]+)@(sha256:[0-9a-f]{64})$/.exec(line)
        expect(m).not.toBeNull()
        const [, repo, tag, digest] = m as RegExpExecArray
        expect(descriptions[line]?.author).toBe('Sidero Labs')
        const raw = ok(['skopeo', 'inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/${repo}:${tag}`])
        expect(sha256(raw)).toBe(digest as string)
      }
    }
    const iscsi = release.extensions.find((e) => e.name === 'siderolabs/iscsi-tools')
    expect(iscsi?.compatibility).toBe('>= v1.9.0')
    expect(iscsi?.versions).toEqual(VERSIONS)
  })

  test('extension images: manifest.yaml + rootfs/, version-specific firmware and module paths', async () => {
    const old = release.versions[0]!.extensions
    const cur = release.versions[1]!.extensions
    const tagOf = (list: typeof old, name: string): string => {
      const ref = list.find((e) => e.name === name)?.ref as string
      return ref.slice(ref.lastIndexOf(':') + 1)
    }
    const gOld = join(work, 'gasket-old')
    await extractImage(layoutA(), 'siderolabs/gasket-driver', tagOf(old, 'siderolabs/gasket-driver'), 'amd64', gOld)
    expect(ok(['ls', gOld]).trim().split('\n')).toEqual(['manifest.yaml', 'rootfs'])
    expect(ok(['find', join(gOld, 'rootfs/lib/modules'), '-name', '*.ko']).trim().split('\n').map((p) => p.slice(p.indexOf('/extras/')))).toEqual(
      expect.arrayContaining(['/extras/gasket.ko', '/extras/apex.ko']),
    )
    const manifest = YAML.parse(await readFile(join(gOld, 'manifest.yaml'), 'utf8')) as { version: string; metadata: { name: string; compatibility: { talos: { version: string } } } }
    expect(manifest.version).toBe('v1alpha1')
    expect(manifest.metadata.name).toBe('gasket-driver')
    expect(manifest.metadata.compatibility.talos.version).toBe('>= v1.7.0')
    const amd = join(work, 'amd-ucode-new')
    await extractImage(layoutA(), 'siderolabs/amd-ucode', tagOf(cur, 'siderolabs/amd-ucode'), 'arm64', amd)
    expect(await Bun.file(join(amd, 'rootfs/usr/lib/firmware/amd-ucode/microcode_amd_fam17h.bin')).exists()).toBe(true)
    expect(await readFile(join(amd, 'rootfs/usr/local/share/standin/amd-ucode'), 'utf8')).toStartWith('amd-ucode ')
  })

  test('overlays catalogue and sbc-raspberrypi overlay; talosctl-all from 1.11', async () => {
    const v = release.versions[1]!
    const out = join(work, 'overlays')
    await extractImage(layoutA(), 'siderolabs/overlays', v.version, 'amd64', out)
    const doc = YAML.parse(await readFile(join(out, 'overlays.yaml'), 'utf8')) as { overlays: { name: string; image: string; digest: string }[] }
    expect(doc.overlays).toEqual([{ name: 'rpi_generic', image: 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0', digest: release.overlays[0]!.digest }])
    const raw = ok(['skopeo', 'inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/siderolabs/sbc-raspberrypi:v0.1.0`])
    expect(sha256(raw)).toBe(doc.overlays[0]!.digest)

    const ov = join(work, 'overlay-image')
    await extractImage(layoutA(), 'siderolabs/sbc-raspberrypi', 'v0.1.0', 'amd64', ov)
    expect(await Bun.file(join(ov, 'artifacts/arm64/firmware/boot/fixup.dat')).exists()).toBe(true)
    const opts = sh([join(ov, 'installers/rpi_generic'), 'get-options'])
    expect(opts.code).toBe(0)
    expect(YAML.parse(opts.out)).toEqual({
      name: 'rpi_generic',
      kernelArgs: ['console=tty0', 'console=ttyAMA0,115200', 'sysctl.kernel.kexec_load_disabled=1', 'talos.dashboard.disabled=1'],
      partitionOptions: { offset: 0 },
    })
    const prefix = join(work, 'rpi-mnt')
    const inst = Bun.spawnSync([join(ov, 'installers/rpi_generic'), 'install'], {
      stdin: new TextEncoder().encode(`installDisk: /dev/null\nmountPrefix: ${prefix}\nartifactsPath: ${join(ov, 'artifacts')}\nextraOptions: {}\n`),
    })
    expect(inst.exitCode).toBe(0)
    expect(await Bun.file(join(prefix, 'boot/EFI/u-boot.bin')).exists()).toBe(true)
    expect(await Bun.file(join(prefix, 'boot/EFI/config.txt')).exists()).toBe(true)
    expect(YAML.parse(await readFile(join(ov, 'profiles/rpi_generic.yaml'), 'utf8'))).toMatchObject({ arch: 'arm64', output: { kind: 'image', imageOptions: { bootloader: 'grub' } } })

    const tc = join(work, 'talosctl')
    await extractImage(layoutA(), 'siderolabs/talosctl-all', v.version, 'amd64', tc)
    expect(ok(['ls', tc]).trim().split('\n')).toEqual([...TALOSCTL_FILES])
    expect(ok([join(tc, 'talosctl-linux-amd64')])).toContain(v.version)
    expect(release.versions[0]!.talosctl).toEqual([])
  })

  test('a namespace prefix pushes under <registry>/<namespace>/siderolabs/…', async () => {
    const r = await buildStandinRelease({ registry: reg.host, insecure: true, namespace: 'mirror/ghcrio', versions: ['v1.12.0'] })
    const img = r.versions[0]!.images['siderolabs/imager']!
    expect(img.pushedRef).toBe(`${reg.host}/mirror/ghcrio/siderolabs/imager:v1.12.0`)
    expect(img.digest).toBe(release.versions[1]!.images['siderolabs/imager']!.digest)
    const raw = ok(['skopeo', 'inspect', '--tls-verify=false', '--raw', `docker://${img.pushedRef}`])
    expect(sha256(raw)).toBe(img.digest)
    expect(r.extensions.find((e) => e.name === 'siderolabs/gvisor')?.pullRef).toBe(`${reg.host}/mirror/ghcrio/siderolabs/gvisor:20240826.0`)
  }, 120_000)

  test('reproducible: a rebuild from scratch into another layout gives the same digests', async () => {
    const again = await buildStandinRelease({ versions: VERSIONS, layoutDir: join(work, 'layout-b'), rebuild: true })
    const digests = (r: StandinRelease): string[] => r.images.map((i) => `${i.repository}:${i.tag}@${i.digest}`).sort()
    expect(digests(again)).toEqual(digests(release))
    const idxA = await readFile(join(layoutA(), 'siderolabs/imager/index.json'), 'utf8')
    const idxB = await readFile(join(work, 'layout-b', 'siderolabs/imager/index.json'), 'utf8')
    expect(idxB).toBe(idxA)
  }, 180_000)

  test('CLI: --help documents the options; bad usage exits 2', () => {
    const cli = join(import.meta.dir, '../fixtures/standin/cli.ts')
    const help = sh([process.execPath, cli, '--help'])
    expect(help.code).toBe(0)
    for (const flag of ['--registry', '--insecure', '--namespace', '--versions', '--cache-dir', '--layout-dir', '--kernel-deb']) expect(help.out).toContain(flag)
    expect(sh([process.execPath, cli, '--bogus']).code).toBe(2)
    expect(sh([process.execPath, cli]).code).toBe(2)
  })
})

describe('stand-in boots under QEMU', () => {
  async function buildInitrd(version: string, comp: InitramfsCompression, opts: { extras: boolean }): Promise<{ kernel: string; initrd: string }> {
    const dir = join(work, `boot-${version}`)
    await extractImage(layoutA(), 'siderolabs/imager', version, 'amd64', join(dir, 'imager'))
    const v = release.versions.find((x) => x.version === version)!
    const tagOf = (name: string): string => {
      const ref = v.extensions.find((e) => e.name === name)?.ref as string
      return ref.slice(ref.lastIndexOf(':') + 1)
    }
    const stage = join(dir, 'stage')
    await mkdir(stage, { recursive: true })
    const layers = [{ image: '0.sqsh', repo: 'siderolabs/gvisor' }]
    if (opts.extras) layers.push({ image: '1.sqsh', repo: 'siderolabs/gasket-driver' })
    const yamlLayers = []
    for (const l of layers) {
      const root = join(dir, l.repo.replace('/', '_'))
      await extractImage(layoutA(), l.repo, tagOf(l.repo), 'amd64', root)
      await mksquashfs(join(root, 'rootfs'), join(stage, l.image), comp)
      const e = release.extensions.find((x) => x.name === l.repo && x.tag === tagOf(l.repo))!
      yamlLayers.push({ image: l.image, name: l.repo.slice('siderolabs/'.length), version: e.tag, compatibility: e.compatibility })
    }
    if (opts.extras) {
      // the imager's generated modules.dep layer, made with the host's depmod over the gasket-driver modules
      const kver = release.kernelVersion
      const kdir = join(dir, 'depmod/usr/lib/modules', kver)
      await mkdir(join(kdir, 'extras'), { recursive: true })
      ok(['cp', '-a', `${join(dir, 'siderolabs_gasket-driver/rootfs/usr/lib/modules', kver, 'extras')}/.`, join(kdir, 'extras')])
      ok(['depmod', '-b', join(dir, 'depmod/usr'), kver])
      const mdep = join(dir, 'mdep/usr/lib/modules', kver)
      await mkdir(mdep, { recursive: true })
      ok(['sh', '-c', 'cp "$1"/modules.* "$2"/', 'sh', kdir, mdep])
      await mksquashfs(join(dir, 'mdep'), join(stage, 'modules.dep.sqsh'), comp)
      yamlLayers.push({ image: 'modules.dep.sqsh', name: 'modules.dep', version: kver, compatibility: '' })
    }
    await writeFile(join(stage, 'extensions.yaml'), extensionsYaml(yamlLayers))
    const parts: Uint8Array[] = []
    if (opts.extras) {
      // firmware straight into the initramfs, microcode as an early (prepended) cpio — like the imager
      const fw = join(dir, 'realtek')
      await extractImage(layoutA(), 'siderolabs/realtek-firmware', tagOf('siderolabs/realtek-firmware'), 'amd64', fw)
      ok(['cp', '-a', join(fw, 'rootfs/usr'), stage])
      const amd = join(dir, 'amd')
      await extractImage(layoutA(), 'siderolabs/amd-ucode', tagOf('siderolabs/amd-ucode'), 'amd64', amd)
      const early = join(dir, 'early')
      await mkdir(join(early, 'kernel/x86/microcode'), { recursive: true })
      const blobs = ok(['sh', '-c', 'ls "$1"/*.bin', 'sh', join(amd, 'rootfs/usr/lib/firmware/amd-ucode')]).trim().split('\n')
      await writeFile(join(early, 'kernel/x86/microcode/AuthenticAMD.bin'), Buffer.concat(await Promise.all(blobs.map((b) => readFile(b)))))
      await cpioNewc(early, join(dir, 'early.cpio'))
      parts.push(new Uint8Array(await readFile(join(dir, 'early.cpio'))))
    }
    await cpioNewc(stage, join(dir, 'ext.cpio'))
    const base = new Uint8Array(await readFile(join(dir, 'imager/usr/install/amd64/initramfs.xz')))
    parts.push(base, alignPad(base.length), new Uint8Array(await readFile(join(dir, 'ext.cpio'))))
    const initrd = join(dir, 'initrd.img')
    await writeFile(initrd, Buffer.concat(parts))
    return { kernel: join(dir, 'imager/usr/install/amd64/vmlinuz'), initrd }
  }

  async function metaDisk(path: string): Promise<void> {
    ok(['truncate', '-s', '8M', path])
    ok(['sgdisk', '-n', '1:2048:+1M', '-c', '1:EFI', '-n', '2:0:+1M', '-c', '2:META', path])
    const first = Number(/First sector: (\d+)/.exec(ok(['sgdisk', '-i', '2', path]))?.[1])
    const value = new TextEncoder().encode('dual-boot')
    const adv = new Uint8Array(16 + value.length)
    const dv = new DataView(adv.buffer)
    dv.setUint32(0, 0x5a4b3c2d)
    dv.setUint32(4, 0x11)
    dv.setUint32(8, value.length)
    adv.set(value, 12)
    const fh = await open(path, 'r+')
    await fh.write(adv, 0, adv.length, first * 512)
    await fh.close()
  }

  test('both versions boot: marker, exact cmdline, extension listed and mounted; extras on 1.12', async () => {
    const [old, cur] = release.versions as [StandinRelease['versions'][number], StandinRelease['versions'][number]]
    const a = await buildInitrd(old.version, old.initramfsCompression, { extras: false })
    const b = await buildInitrd(cur.version, cur.initramfsCompression, { extras: true })
    const disk = join(work, 'meta.raw')
    await metaDisk(disk)
    const append = 'console=ttyS0 panic=-1 talos.platform=metal'
    const metaB64 = Buffer.from('0xa={"externalIPs":["1.2.3.4"]}').toString('base64')
    // a second, gzip'ed payload (Talos gzips META above 256 bytes)
    const bigMeta = Buffer.from(Bun.gzipSync(new TextEncoder().encode(`0xc=${'x'.repeat(300)}`))).toString('base64')
    const appendB = `${append} talos.environment=INSTALLER_META_BASE64=${metaB64} talos.environment=INSTALLER_META_BASE64=${bigMeta}`
    const [ra, rb] = await Promise.all([
      bootQemu({ args: directBootArgs({ kernel: a.kernel, initrd: a.initrd, append }), timeoutMs: 150_000, marker: 'STANDIN-DONE', logFile: join(work, 'boot-a.log') }),
      bootQemu({
        args: directBootArgs({ kernel: b.kernel, initrd: b.initrd, append: appendB, extra: ['-drive', `file=${disk},format=raw,if=virtio`] }),
        timeoutMs: 150_000,
        marker: 'STANDIN-DONE',
        logFile: join(work, 'boot-b.log'),
      }),
    ])
    for (const [r, v, cmdline] of [
      [ra, old.version, append],
      [rb, cur.version, appendB],
    ] as const) {
      expect(r.timedOut).toBe(false)
      expect(r.code).toBe(0)
      for (const bad of BOOT_FAILURE_PATTERNS) expect(r.output).not.toContain(bad)
      expect(markerLines(r.output, 'STANDIN-TALOS')).toEqual([`STANDIN-TALOS ${v} BOOT-OK`])
      expect(markerLines(r.output, 'CMDLINE:')).toEqual([`CMDLINE: ${cmdline}`])
      expect(markerLines(r.output, 'ROOTFS-MOUNTED:')).toEqual([`ROOTFS-MOUNTED: Talos (${v}) [stand-in]`])
      expect(markerLines(r.output, 'EXTENSION:')).toContain('EXTENSION: gvisor 20240826.0')
      expect(markerLines(r.output, 'EXTENSION-MOUNTED:')).toContain('EXTENSION-MOUNTED: 0.sqsh -> gvisor 20240826.0')
      expect(r.output).not.toContain('EXTENSION-MOUNT-FAILED')
      expect(r.output).not.toContain('STANDIN-WARNING')
      expect(r.markerSeen).toBe(true)
    }
    expect(markerLines(ra.output, 'EXTENSION:')).toEqual(['EXTENSION: gvisor 20240826.0'])
    expect(markerLines(ra.output, 'META')).toEqual([])

    const gasketTag = cur.extensions.find((e) => e.name === 'siderolabs/gasket-driver')!.ref.split(':').at(-1)
    expect(markerLines(rb.output, 'EXTENSION:')).toEqual([
      'EXTENSION: gvisor 20240826.0',
      `EXTENSION: gasket-driver ${gasketTag}`,
      `EXTENSION: modules.dep ${release.kernelVersion}`,
    ])
    expect(markerLines(rb.output, 'EXTENSION-MOUNTED:')).toEqual([
      'EXTENSION-MOUNTED: 0.sqsh -> gvisor 20240826.0',
      `EXTENSION-MOUNTED: 1.sqsh -> gasket-driver ${gasketTag}`,
      'EXTENSION-MOUNTED: modules.dep.sqsh ->',
    ])
    expect(markerLines(rb.output, 'MODULES-DEP:')).toEqual(['MODULES-DEP: modules.dep.sqsh extras/apex.ko: extras/gasket.ko', 'MODULES-DEP: modules.dep.sqsh extras/gasket.ko:'])
    expect(markerLines(rb.output, 'EXTENSION-MODULE:')).toEqual([
      `EXTENSION-MODULE: 1.sqsh usr/lib/modules/${release.kernelVersion}/extras/apex.ko`,
      `EXTENSION-MODULE: 1.sqsh usr/lib/modules/${release.kernelVersion}/extras/gasket.ko`,
    ])
    expect(markerLines(rb.output, 'FIRMWARE:')).toEqual(['FIRMWARE: /usr/lib/firmware/rtl_bt/rtl8761bu_fw.bin', 'FIRMWARE: /usr/lib/firmware/rtl_nic/rtl8125b-2.fw'])
    expect(markerLines(rb.output, 'MICROCODE:')).toEqual([`MICROCODE: /kernel/x86/microcode/AuthenticAMD.bin ${3200 + 2048}`])
    expect(markerLines(rb.output, 'META')).toEqual([
      'META: cmdline 0xa={"externalIPs":["1.2.3.4"]}',
      `META: cmdline 0xc=${'x'.repeat(300)}`,
      'META-PARTITION: /dev/vda2',
      'META: disk:vda2 0x11=dual-boot',
    ])
  }, 300_000)
})
