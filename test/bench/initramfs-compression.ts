/**
 * Compression of the appended extensions archive on a firmware-heavy initramfs (issue 12). Prints,
 * from one run, the size and time of the archive at our level against the reference's level and
 * nearby candidates — ratios against the reference's level measured in the same run, never
 * absolute targets:
 *
 *   1. a full native imager build (warm extension cache: the squashfs is reused, so the time is
 *      mostly the archive's compression) — at our level, which is the reference's;
 *   2. the same archive (its cpio) through each compressor setting: size of the resulting
 *      initramfs, compression time, both as ratios to the reference's setting;
 *   3. reproducibility across thread counts (why a fixed `-T` is safe).
 *
 * Firmware-heavy input: Debian has no linux-firmware in main, so ~70 MB of the kernel's own module
 * files (drivers/net/wireless and drivers/gpu of the stand-in's kernel .deb; binary blobs of the
 * same kind) are put under /usr/lib/firmware of one extension, where the reference moves firmware:
 * uncompressed into the archive.
 *
 * Run: `bun test/bench/initramfs-compression.ts` (uses the stand-in's cached kernel .deb).
 */
import { execa } from 'execa'
import { closeSync, openSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runImager } from '../../builder/imager/index.ts'
import { CPIO_THREADS, cpioCompressor } from '../../builder/imager/initramfs.ts'
import { defaultCacheDir } from '../fixtures/standin/index.ts'
import { ensureKernelDeb } from '../fixtures/standin/kernel.ts'
import { ensureMiniRelease, profileYaml } from '../helpers/mini-release.ts'

const FIRMWARE_DIRS = ['drivers/net/wireless', 'drivers/gpu']

interface Setting {
  readonly name: string
  readonly cmd: 'zstd' | 'xz'
  readonly args: readonly string[]
}

const zstd = (level: number, threads: number | string = CPIO_THREADS): Setting => ({ name: `zstd -${level} -T${threads}`, cmd: 'zstd', args: ['-c', '-q', `-${level}`, `-T${threads}`] })
const xz = (preset: string[], threads: number | string = CPIO_THREADS): Setting => ({ name: `xz ${preset.join(' ')} -T${threads}`, cmd: 'xz', args: ['-z', '-c', '-q', '-C', 'crc32', ...preset, `-T${threads}`] })

async function sha256(path: string): Promise<string> {
  return new Bun.CryptoHasher('sha256').update(await readFile(path)).digest('hex')
}

/**
 * Compresses `input` with `s` into `out`; returns wall and CPU (user + system) seconds, the best
 * of `runs`. CPU time is the steadier measure on a busy machine; wall time shows what threads buy.
 */
async function timeCompress(s: Setting, input: string, out: string, runs: number): Promise<{ wall: number; cpu: number }> {
  let wall = Number.POSITIVE_INFINITY
  let cpu = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const fd = openSync(out, 'w') // truncates (a Bun.file stdout would not)
    const t0 = performance.now()
    const proc = Bun.spawn([s.cmd, ...s.args], { stdin: Bun.file(input), stdout: fd, stderr: 'inherit' })
    const code = await proc.exited
    closeSync(fd)
    if (code !== 0) throw new Error(`${s.name} failed`)
    wall = Math.min(wall, (performance.now() - t0) / 1000)
    const usage = proc.resourceUsage()
    if (usage) cpu = Math.min(cpu, Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6)
  }
  return { wall, cpu }
}

const work = await mkdtemp(join(tmpdir(), 'bench-compression-'))
try {
  const mini = await ensureMiniRelease('modern')

  // a firmware-heavy extension
  const deb = await ensureKernelDeb(join(defaultCacheDir(), 'debs'), process.env.IMAGER_TEST_KERNEL_DEB)
  const src = join(work, 'deb')
  await mkdir(src, { recursive: true })
  await execa('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "$3" "$4"', 'sh', deb, src, ...FIRMWARE_DIRS.map((d) => `./lib/modules/*/kernel/${d}`)])
  const kver = (await Array.fromAsync(new Bun.Glob('*').scan({ cwd: join(src, 'lib/modules'), onlyFiles: false })))[0] as string
  const ext = join(work, 'firmware-heavy')
  await mkdir(join(ext, 'rootfs/usr/lib/firmware'), { recursive: true })
  await mkdir(join(ext, 'rootfs/usr/local/share'), { recursive: true })
  for (const d of FIRMWARE_DIRS) await rename(join(src, 'lib/modules', kver, 'kernel', d), join(ext, 'rootfs/usr/lib/firmware', d.replaceAll('/', '-')))
  await writeFile(join(ext, 'rootfs/usr/local/share/firmware-heavy'), 'bench\n')
  await writeFile(join(ext, 'manifest.yaml'), 'version: v1alpha1\nmetadata:\n  name: firmware-heavy\n  version: 1.0.0\n  author: bench\n  description: firmware-heavy bench input\n  compatibility:\n    talos:\n      version: ">= v1.0.0"\n')
  const fwBytes = Number((await execa('du', ['-sb', join(ext, 'rootfs/usr/lib/firmware')])).stdout.split('\t')[0])

  // 1. full imager builds (the first fills the extension cache)
  const cacheDir = join(work, 'cache')
  const profile = profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [ext] })
  const output = join(work, 'initramfs.xz')
  await runImager(profile, { output, cacheDir, workDir: join(work, 'tmp') })
  let buildS = Number.POSITIVE_INFINITY
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now()
    await runImager(profile, { output, cacheDir, workDir: join(work, 'tmp') })
    buildS = Math.min(buildS, (performance.now() - t0) / 1000)
  }
  const built = await readFile(output)
  const base = await readFile(mini.initramfs)
  const at = built.indexOf(base.subarray(0, 256))
  const prefixBytes = at + base.byteLength // early cpio (none here) + base initramfs
  const ours = cpioCompressor('zstd')

  // 2. the archive through each setting
  const cpio = join(work, 'archive.cpio')
  await writeFile(cpio, (await execa('zstd', ['-dc'], { input: built.subarray(prefixBytes), encoding: 'buffer' })).stdout)
  const cpioBytes = (await stat(cpio)).size
  const runs = Number(process.env.BENCH_RUNS ?? 1)
  const rows: { family: string; s: Setting; bytes: number; wall: number; cpu: number; note: string }[] = []
  const families: [string, Setting, Setting[]][] = [
    ['zstd (Talos ≥ 1.8)', zstd(18), [zstd(1, 1), zstd(3), zstd(9), zstd(15), zstd(16), zstd(17), zstd(18), zstd(19)]],
    ['xz (Talos < 1.8)', xz(['-0', '-e']), [xz(['-0'], 1), xz(['-0']), xz(['-1']), xz(['-2']), xz(['-3']), xz(['-0', '-e'])]],
  ]
  for (const [family, , settings] of families) {
    for (const s of settings) {
      const out = join(work, 'out.bin')
      const { wall, cpu } = await timeCompress(s, cpio, out, runs)
      const note = s.name === zstd(1, 1).name ? 'previous (issue 12)' : s.name === xz(['-0'], 1).name ? 'previous (issue 12)' : s.cmd === ours.cmd && s.args.join(' ') === ours.args.join(' ') ? 'ours = reference level' : ''
      rows.push({ family, s, bytes: prefixBytes + (await stat(out)).size, wall, cpu, note })
    }
  }

  // 3. thread counts
  const digestOf = async (s: Setting): Promise<string> => {
    const out = join(work, `t-${s.cmd}.bin`)
    await execa('sh', ['-c', `"$0" "$@" < "${cpio}" > "${out}"`, s.cmd, ...s.args])
    return (await sha256(out)).slice(0, 16)
  }
  const zDigests = await Promise.all([1, 2, 4].map(async (t) => `-T${t} ${await digestOf(zstd(18, t))}`))
  const xDigests = []
  for (const t of [1, 2, 4]) xDigests.push(`-T${t} ${await digestOf(xz(['-0', '-e'], t))}`)

  const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`
  console.log(`initramfs compression benchmark (${new Date().toISOString()}, best of ${runs} run(s); threads for our level: ${CPIO_THREADS})`)
  console.log(`firmware-heavy input: ${mb(fwBytes)} of firmware-like files; appended cpio ${mb(cpioBytes)}; base initramfs + early cpio ${mb(prefixBytes)}`)
  console.log(`full imager build at our level (warm extension cache): ${buildS.toFixed(1)} s, ${mb(built.byteLength)}`)
  for (const [family, ref] of families) {
    const refRow = rows.find((r) => r.family === family && r.s.name === ref.name)!
    console.log(`\n${family}: initramfs size, compression wall and CPU time, as ratios to the reference's setting (${ref.name.replace(/-T\d+$/, '-T0')})`)
    const width = Math.max(...rows.map((r) => r.s.name.length))
    for (const r of rows.filter((x) => x.family === family)) {
      const cols = [
        mb(r.bytes).padStart(10),
        `size ${(r.bytes / refRow.bytes).toFixed(3)}`,
        `wall ${r.wall.toFixed(1).padStart(5)} s (${(r.wall / refRow.wall).toFixed(2)})`,
        `cpu ${r.cpu.toFixed(1).padStart(5)} s (${(r.cpu / refRow.cpu).toFixed(2)})`,
      ]
      console.log(`  ${r.s.name.padEnd(width)}  ${cols.join('  ')}  ${r.note}`)
    }
  }
  console.log(`\nreproducibility, zstd -18: ${zDigests.join(', ')}`)
  console.log(`reproducibility, xz -0 -e: ${xDigests.join(', ')}  (-T1 is xz's single-threaded format)`)
} finally {
  await rm(work, { recursive: true, force: true })
}
