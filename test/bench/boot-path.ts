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
 *
 * Run: `bun test/bench/boot-path.ts` (needs the test packages: npm run setup:test).
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStack } from '../helpers/stack.ts'
import { startUpstream } from '../helpers/release.ts'
import { freePort } from '../helpers/ports.ts'
import { CPIO_THREADS, CPIO_ZSTD_LEVEL } from '../../builder/imager/initramfs.ts'

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
  // the archive at the imager's level (the reference's), so the ratio compares like with like
  await run(['sh', '-c', `find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R +0:+0 --quiet | zstd -q -${CPIO_ZSTD_LEVEL} -T${CPIO_THREADS} > ../ext.cpio.zst`], stage)
  await run(['sh', '-c', `cat imager/usr/install/amd64/initramfs.xz ext.cpio.zst > initramfs.out`], work)
  return performance.now() - t0
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
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`boot-path benchmark (${new Date().toISOString()}, ${HIT_REQUESTS} hit requests x ${HIT_CONCURRENCY} concurrent)`)
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
} finally {
  await stack.stop()
  await up.stop()
  await rm(work, { recursive: true, force: true })
}
