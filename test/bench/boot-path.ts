/**
 * Boot-path benchmark (issue: builder daemon and the boot path). Prints, from one run, numbers
 * and ratios against baselines measured in the same run — never absolute targets:
 *
 *   1. cache-hit throughput through the factory's Caddy vs. Caddy serving the same file as a plain
 *      static file (`caddy file-server`)                                        → ratio
 *   2. time to first byte of a cold initramfs with extensions
 *   3. total cold time vs. the same tool pipeline run by hand (skopeo + umoci to fetch and unpack
 *      the images, mksquashfs, cpio, zstd, cat)                                   → ratio
 *   4. cold time for a new schematic whose extensions were built before
 *   5. cold installer image (`installer-amd64.tar`, UKI + systemd-boot) vs. the bare tool steps
 *      (skopeo for the base installer, mksquashfs/cpio/zstd for the initramfs, objcopy for the UKI,
 *      tar/gzip/sha256sum for the layer and the docker-save tarball)                 → ratio
 *   6. warm registry pulls (manifest by tag + manifest by digest + every blob) through the factory's
 *      Caddy vs. plain Caddy serving the same files                                   → ratio
 *
 * Run: `bun test/bench/boot-path.ts` (needs the test packages: npm run setup:test).
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStack } from '../helpers/stack.ts'
import { startUpstream } from '../helpers/release.ts'
import { freePort } from '../helpers/ports.ts'

const VERSION = 'v1.12.0'
const EXTENSIONS = ['siderolabs/amd-ucode', 'siderolabs/gvisor', 'siderolabs/gasket-driver', 'siderolabs/realtek-firmware']
const HIT_REQUESTS = Number(process.env.BENCH_HIT_REQUESTS ?? 200)
const HIT_CONCURRENCY = 4

function ms(n: number): string {
  return `${n.toFixed(0)} ms`
}

async function run(cmd: string[], cwd?: string): Promise<void> {
  const p = Bun.spawn(cmd, { cwd, stdout: 'ignore', stderr: 'pipe' })
  if ((await p.exited) !== 0) throw new Error(`${cmd.join(' ')} failed: ${await new Response(p.stderr).text()}`)
}

async function timedGet(url: string): Promise<{ ttfb: number; total: number; bytes: number }> {
  const t0 = performance.now()
  const res = await fetch(url)
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  const reader = res.body.getReader()
  let ttfb = 0
  let bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (bytes === 0) ttfb = performance.now() - t0
    bytes += value.byteLength
  }
  return { ttfb, total: performance.now() - t0, bytes }
}

async function throughput(url: string): Promise<number> {
  let left = HIT_REQUESTS
  let bytes = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: HIT_CONCURRENCY }, async () => {
      while (left-- > 0) bytes += (await (await fetch(url)).arrayBuffer()).byteLength
    }),
  )
  return bytes / 1e6 / ((performance.now() - t0) / 1000)
}

async function schematic(base: string, args: string[]): Promise<string> {
  const body = JSON.stringify({ customization: { extraKernelArgs: args, systemExtensions: { officialExtensions: EXTENSIONS } } })
  const res = await fetch(`${base}/schematics`, { method: 'POST', body })
  return ((await res.json()) as { id: string }).id
}

/** The same work by hand: fetch + unpack images, squashfs each extension, cpio, zstd, concatenate. */
async function byHand(registry: string, work: string, extRefs: { name: string; digest: string }[]): Promise<number> {
  const t0 = performance.now()
  const oci = join(work, 'oci')
  const fetchUnpack = async (repo: string, ref: string, dir: string) => {
    const sep = ref.startsWith('sha256:') ? '@' : ':'
    await run(['skopeo', 'copy', '-q', '--src-tls-verify=false', '--override-arch', 'amd64', `docker://${registry}/${repo}${sep}${ref}`, `oci:${oci}:${dir}`])
    await run(['umoci', 'raw', 'unpack', '--rootless', '--image', `${oci}:${dir}`, join(work, dir)])
  }
  await fetchUnpack('siderolabs/imager', VERSION, 'imager')
  const stage = join(work, 'stage')
  await mkdir(stage, { recursive: true })
  for (const [i, e] of extRefs.entries()) {
    await fetchUnpack(e.name, e.digest, `ext${i}`)
    await run(['mksquashfs', join(work, `ext${i}`, 'rootfs'), join(stage, `${i}.sqsh`), '-all-root', '-noappend', '-no-progress', '-comp', 'zstd', '-Xcompression-level', '18', '-no-xattrs'])
  }
  await writeFile(join(stage, 'extensions.yaml'), 'layers: []\n')
  await run(['sh', '-c', `find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R +0:+0 --quiet | zstd -q -1 -T1 > ../ext.cpio.zst`], stage)
  await run(['sh', '-c', `cat imager/usr/install/amd64/initramfs.xz ext.cpio.zst > initramfs.out`], work)
  return performance.now() - t0
}

/** A cold installer by hand, reusing the imager unpacked by {@link byHand}: the bare tool steps. */
async function installerByHand(registry: string, work: string, cmdline: string): Promise<number> {
  const t0 = performance.now()
  const oci = join(work, 'oci')
  const w = join(work, 'installer')
  await mkdir(join(w, 'schematic', 'usr', 'local', 'share', 'schematic'), { recursive: true })
  await run(['skopeo', 'copy', '-q', '--src-tls-verify=false', '--override-arch', 'amd64', `docker://${registry}/siderolabs/installer-base:${VERSION}`, `oci:${oci}:base`])
  // initramfs: the base one + the schematic's virtual extension
  await writeFile(join(w, 'schematic', 'usr', 'local', 'share', 'schematic', 'id'), 'bench\n')
  await mkdir(join(w, 'stage'), { recursive: true })
  await run(['mksquashfs', join(w, 'schematic'), join(w, 'stage', '0.sqsh'), '-all-root', '-noappend', '-no-progress', '-comp', 'zstd', '-Xcompression-level', '18', '-no-xattrs'])
  await writeFile(join(w, 'stage', 'extensions.yaml'), 'layers: []\n')
  await run(['sh', '-c', 'find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R +0:+0 --quiet | zstd -q -1 -T1 > ../ext.cpio.zst'], join(w, 'stage'))
  await run(['sh', '-c', `cat ${join(work, 'imager/usr/install/amd64/initramfs.xz')} ext.cpio.zst > initrd`], w)
  // UKI: the stub with .osrel, .cmdline, .linux and .initrd sections (the classic objcopy recipe)
  await writeFile(join(w, 'os-release'), 'NAME=Talos\n')
  await writeFile(join(w, 'cmdline'), cmdline)
  const inst = join(w, 'usr', 'install', 'amd64')
  await mkdir(inst, { recursive: true })
  await run([
    'objcopy',
    '--add-section', `.osrel=${join(w, 'os-release')}`, '--change-section-vma', '.osrel=0x20000',
    '--add-section', `.cmdline=${join(w, 'cmdline')}`, '--change-section-vma', '.cmdline=0x30000',
    '--add-section', `.linux=${join(work, 'imager/usr/install/amd64/vmlinuz')}`, '--change-section-vma', '.linux=0x2000000',
    '--add-section', `.initrd=${join(w, 'initrd')}`, '--change-section-vma', '.initrd=0x3000000',
    join(work, 'imager/usr/install/amd64/systemd-stub.efi'), join(inst, 'vmlinuz.efi'),
  ])
  await run(['cp', join(work, 'imager/usr/install/amd64/systemd-boot.efi'), join(inst, 'systemd-boot.efi')])
  // artifacts layer, its digests, and a docker-save tarball next to the base layer
  await run(['sh', '-c', 'tar --sort=name --owner=0 --group=0 --mtime=@0 -cf artifacts.tar usr/install && gzip -1 -k artifacts.tar && sha256sum artifacts.tar artifacts.tar.gz > sums'], w)
  await run(['sh', '-c', `cp ${oci}/blobs/sha256/* . 2>/dev/null; echo '{}' > config.json; echo '[]' > manifest.json; tar -cf installer.tar config.json artifacts.tar.gz manifest.json`], w)
  return performance.now() - t0
}

/** One warm registry pull: manifest by tag, manifest by digest, every blob of the amd64 image. */
async function pullOnce(base: string, repo: string): Promise<number> {
  let bytes = 0
  const index = await fetch(`${base}/v2/${repo}/manifests/${VERSION}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })
  const doc = (await index.json()) as { manifests: { digest: string; platform: { architecture: string } }[] }
  const m = await (await fetch(`${base}/v2/${repo}/manifests/${doc.manifests.find((x) => x.platform.architecture === 'amd64')!.digest}`)).json() as { config: { digest: string }; layers: { digest: string }[] }
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) bytes += (await (await fetch(`${base}/v2/${repo}/blobs/${d}`)).arrayBuffer()).byteLength
  return bytes
}

async function pullThroughput(fn: () => Promise<number>, pulls: number): Promise<number> {
  let left = pulls
  let bytes = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: HIT_CONCURRENCY }, async () => {
      while (left-- > 0) bytes += await fn()
    }),
  )
  return bytes / 1e6 / ((performance.now() - t0) / 1000)
}

const up = await startUpstream([VERSION])
const stack = await startStack(up.env)
const work = await mkdtemp(join(tmpdir(), 'bench-'))
try {
  const base = stack.url
  // 2 + 3: cold initramfs (fresh data dir: fetch, unpack, squashfs, assemble)
  const s1 = await schematic(base, ['bench-1'])
  const cold = await timedGet(`${base}/image/${s1}/${VERSION}/initramfs-amd64.xz`)

  const catalogue = (await (await fetch(`${base}/version/${VERSION}/extensions/official`)).json()) as { name: string; digest: string }[]
  const refs = EXTENSIONS.map((n) => catalogue.find((e) => e.name === n)!)
  const hand = await byHand(up.registry.host, work, refs)

  // 4: a new schematic whose extensions were built before
  const s2 = await schematic(base, ['bench-2'])
  const warmExt = await timedGet(`${base}/image/${s2}/${VERSION}/initramfs-amd64.xz`)

  // 1: cache-hit throughput, factory Caddy vs plain Caddy file server on the same file
  const kernelUrl = `${base}/image/${s1}/${VERSION}/kernel-amd64`
  await timedGet(kernelUrl) // build + publish
  const hitCheck = await fetch(kernelUrl)
  if (!hitCheck.headers.get('server')?.includes('(caddy)')) throw new Error('kernel was not served by Caddy as a hit')
  await hitCheck.arrayBuffer()
  const plainDir = join(work, 'plain')
  await mkdir(plainDir, { recursive: true })
  await writeFile(join(plainDir, 'kernel-amd64'), new Uint8Array(await (await fetch(kernelUrl)).arrayBuffer()))
  const plainPort = await freePort()
  const plain = Bun.spawn(['caddy', 'file-server', '--root', plainDir, '--listen', `127.0.0.1:${plainPort}`], {
    stdout: 'ignore',
    stderr: 'ignore',
    env: { ...process.env, XDG_DATA_HOME: work, XDG_CONFIG_HOME: work },
  })
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${plainPort}/kernel-amd64`, { method: 'HEAD' })).ok) break
    } catch {
      await Bun.sleep(50)
    }
  }
  await throughput(`http://127.0.0.1:${plainPort}/kernel-amd64`) // warm up both
  await throughput(kernelUrl)
  const plainMBs = await throughput(`http://127.0.0.1:${plainPort}/kernel-amd64`)
  const hitMBs = await throughput(kernelUrl)

  // 5: cold installer image (UKI) vs the bare tool steps
  const s3 = ((await (await fetch(`${base}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { extraKernelArgs: ['bench-installer'] } }) })).json()) as { id: string }).id
  const installer = await timedGet(`${base}/image/${s3}/${VERSION}/installer-amd64.tar`)
  const cmdline = await (await fetch(`${base}/image/${s3}/${VERSION}/cmdline-metal-amd64`)).text()
  const installerHand = await installerByHand(up.registry.host, work, cmdline)

  // 6: warm registry pulls via the factory's Caddy vs the same files from plain Caddy
  const repo = `installer/${s3}`
  await pullOnce(base, repo) // publish (both arches build) and warm up
  const blobProbe = await fetch(`${base}/v2/${repo}/manifests/${VERSION}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })
  const idx = (await blobProbe.json()) as { manifests: { digest: string; platform: { architecture: string } }[] }
  const amd64 = idx.manifests.find((x) => x.platform.architecture === 'amd64')!.digest
  const man = (await (await fetch(`${base}/v2/${repo}/manifests/${amd64}`)).json()) as { config: { digest: string }; layers: { digest: string }[] }
  const served = await fetch(`${base}/v2/${repo}/blobs/${man.layers.at(-1)!.digest}`)
  if (!served.headers.get('server')?.includes('(caddy)')) throw new Error('installer blobs were not served by Caddy')
  await served.arrayBuffer()
  // the same documents and blobs as static files
  const mirror = join(plainDir, 'v2', repo)
  await mkdir(join(mirror, 'manifests'), { recursive: true })
  await mkdir(join(mirror, 'blobs'), { recursive: true })
  await writeFile(join(mirror, 'manifests', VERSION), new Uint8Array(await (await fetch(`${base}/v2/${repo}/manifests/${VERSION}`)).arrayBuffer()))
  await writeFile(join(mirror, 'manifests', amd64), new Uint8Array(await (await fetch(`${base}/v2/${repo}/manifests/${amd64}`)).arrayBuffer()))
  for (const d of [man.config.digest, ...man.layers.map((l) => l.digest)]) {
    await writeFile(join(mirror, 'blobs', d), new Uint8Array(await (await fetch(`${base}/v2/${repo}/blobs/${d}`)).arrayBuffer()))
  }
  const plainBase = `http://127.0.0.1:${plainPort}`
  const PULLS = Number(process.env.BENCH_PULLS ?? 40)
  await pullThroughput(() => pullOnce(plainBase, repo), 4)
  await pullThroughput(() => pullOnce(base, repo), 4)
  const plainPullMBs = await pullThroughput(() => pullOnce(plainBase, repo), PULLS)
  const pullMBs = await pullThroughput(() => pullOnce(base, repo), PULLS)
  plain.kill()

  const rows: [string, string][] = [
    ['cache hit via factory Caddy', `${hitMBs.toFixed(0)} MB/s`],
    ['same file, plain caddy file-server', `${plainMBs.toFixed(0)} MB/s`],
    ['  ratio hit / plain', (hitMBs / plainMBs).toFixed(2)],
    [`cold initramfs (${EXTENSIONS.length} extensions), time to first byte`, ms(cold.ttfb)],
    ['cold initramfs, total', `${ms(cold.total)} (${(cold.bytes / 1e6).toFixed(2)} MB)`],
    ['same pipeline by hand (skopeo, umoci, mksquashfs, cpio, zstd)', ms(hand)],
    ['  ratio factory cold / by hand', (cold.total / hand).toFixed(2)],
    ['new schematic, extensions built before: total', ms(warmExt.total)],
    ['  time to first byte', ms(warmExt.ttfb)],
    ['  ratio vs cold', (warmExt.total / cold.total).toFixed(2)],
    ['cold installer-amd64.tar (UKI + systemd-boot), total', `${ms(installer.total)} (${(installer.bytes / 1e6).toFixed(2)} MB)`],
    ['same steps by hand (skopeo, mksquashfs, cpio, zstd, objcopy, tar, gzip)', ms(installerHand)],
    ['  ratio factory cold / by hand', (installer.total / installerHand).toFixed(2)],
    [`warm registry pull via factory Caddy (tag + digest manifests + blobs, ${PULLS} pulls)`, `${pullMBs.toFixed(0)} MB/s`],
    ['same files, plain caddy file-server', `${plainPullMBs.toFixed(0)} MB/s`],
    ['  ratio factory / plain', (pullMBs / plainPullMBs).toFixed(2)],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`boot-path benchmark (${new Date().toISOString()}, ${HIT_REQUESTS} hit requests x ${HIT_CONCURRENCY} concurrent)`)
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
} finally {
  await stack.stop()
  await up.stop()
  await rm(work, { recursive: true, force: true })
}
