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
 *   5. ISO (1.12 hybrid: GRUB for BIOS, systemd-boot + UKI on the appended ESP): the factory's
 *      first ISO (its GRUB tree is built then) vs. the reference imager's tools run by hand on
 *      the same kernel, initramfs, UKI and systemd-boot (mkfs.vfat + mcopy for the ESP, then
 *      `grub-mkrescue --compress=xz` with the reference's hybrid arguments)   → ratio (goal ≤ 1.2)
 *   6. ISO for a new schematic whose extensions were built before (goal ≤ 2 s on 2 cores), and
 *      vs. a bare `xorriso` run on the same files and the factory's cached GRUB tree → ratio
 *   7. cold installer image (`installer-amd64.tar`, UKI + systemd-boot) vs. the bare tool steps
 *      (skopeo for the base installer, mksquashfs/cpio/zstd for the initramfs, objcopy for the UKI,
 *      tar/gzip/sha256sum for the layer and the docker-save tarball)                 → ratio
 *   8. warm registry pulls (manifest by tag + manifest by digest + every blob) through the factory's
 *      Caddy vs. plain Caddy serving the same files                                   → ratio
 *   9. cold `metal-amd64.raw.zst` (dual-boot disk image) vs. the same steps with the bare tools
 *      (cpio+zstd, objcopy UKI, sgdisk, mkfs.vfat+mcopy, mkfs.xfs -p, grub-mkimage, dd, zstd)  → ratio
 *  10. peak disk (data directory growth) and peak RSS (imager process tree, whole stack) while
 *      building an 8 GiB cloud image (`aws-amd64.raw.zst`, 11193 MiB virtual)
 *
 * Run: `bun test/bench/boot-path.ts` (needs the test packages: npm run setup:test).
 */
import { copyFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile, mkdir } from 'node:fs/promises'
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

/**
 * The dual-boot disk image by hand from the by-hand initramfs stage (step 3): initramfs, UKI with
 * objcopy, GPT with sgdisk, ESP and BOOT as files, GRUB images, sparse dd placement, zstd.
 */
async function diskByHand(work: string): Promise<number> {
  const t0 = performance.now()
  const script = String.raw`
set -eu
cd "$1"
IN=imager/usr/install/amd64
(cd stage && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R +0:+0 --quiet | zstd -q -1 -T1) > ext2.cpio.zst
cat $IN/initramfs.xz ext2.cpio.zst > disk-initramfs.xz
printf 'NAME=\"Talos\"\nID=talos\nVERSION_ID=v1.12.0\n' > os-release
printf 'talos.platform=metal console=tty0 bench-disk' > cmdline.txt
align=4096; up() { echo $(( ($1 + align - 1) / align * align )); }
end=$(objdump -h $IN/systemd-stub.efi | awk 'NF==7 && $1 ~ /^[0-9]+$/ {print $3, $4}' | while read sz vma; do echo $((16#$vma + 16#$sz)); done | sort -n | tail -1)
o=$(up $end); c=$(up $((o + $(stat -c%s os-release)))); l=$(up $((c + $(stat -c%s cmdline.txt)))); i=$(up $((l + $(stat -c%s $IN/vmlinuz))))
objcopy --strip-all --add-section .osrel=os-release --change-section-vma .osrel=$(printf 0x%x $o) \
  --add-section .cmdline=cmdline.txt --change-section-vma .cmdline=$(printf 0x%x $c) \
  --add-section .linux=$IN/vmlinuz --change-section-vma .linux=$(printf 0x%x $l) \
  --add-section .initrd=disk-initramfs.xz --change-section-vma .initrd=$(printf 0x%x $i) $IN/systemd-stub.efi uki.efi
truncate -s 4247M disk.raw
sgdisk -n 1:2048:+2101M -t 1:EF00 -c 1:EFI -n 2:0:+1M -t 2:EF02 -c 2:BIOS -n 3:0:+2000M -t 3:8300 -c 3:BOOT -n 4:0:+1M -t 4:8300 -c 4:META disk.raw >/dev/null
mkdir -p esp/EFI/boot esp/EFI/Linux esp/loader boot/A boot/grub
cp $IN/systemd-boot.efi esp/EFI/boot/BOOTX64.efi; cp uki.efi esp/EFI/Linux/Talos-v1.12.0.efi
printf '# systemd-boot configuration\n\ntimeout 10\n' > esp/loader/loader.conf
truncate -s 2101M efi.img; mkfs.vfat -F 32 -n EFI --invariant efi.img >/dev/null
mcopy -s -p -Q -m -i efi.img esp/EFI esp/loader ::
cp $IN/vmlinuz boot/A/vmlinuz; cp disk-initramfs.xz boot/A/initramfs.xz; cp cmdline.txt boot/grub/grub.cfg
printf '/\n0 0\nd--755 0 0\n A d--755 0 0\n  initramfs.xz ---644 0 0 %s\n  vmlinuz ---644 0 0 %s\n $\n grub d--755 0 0\n  grub.cfg ---600 0 0 %s\n $\n$\n' "$PWD/boot/A/initramfs.xz" "$PWD/boot/A/vmlinuz" "$PWD/boot/grub/grub.cfg" > boot.proto
truncate -s 2000M boot.img; mkfs.xfs -q -n ftype=1 -m bigtime=1,crc=1,finobt=1,inobtcount=1,reflink=1,rmapbt=0 -i sparse=1,nrext64=0 -f -L BOOT -p boot.proto boot.img
M="part_gpt ext2 fat xfs normal configfile linux boot search search_fs_uuid search_fs_file ls cat echo test help reboot halt all_video"
grub-mkimage -O i386-pc -o core.img -p '(hd0,gpt3)/grub' $M biosdisk part_msdos
grub-mkimage -O x86_64-efi -o grub.efi -p '(hd0,gpt3)/grub' --compression xz $M
dd if=efi.img of=disk.raw bs=1M seek=1 conv=sparse,notrunc status=none
dd if=boot.img of=disk.raw bs=1M seek=2103 conv=sparse,notrunc status=none
dd if=core.img of=disk.raw bs=512 seek=4304896 conv=notrunc status=none
dd if=/usr/lib/grub/i386-pc/boot.img of=disk.raw bs=446 count=1 conv=notrunc status=none
zstd -q -T0 -3 -c disk.raw > disk.raw.zst
`
  await run(['bash', '-c', script, 'disk-by-hand', work])
  return performance.now() - t0
}

/** pid → {ppid, rss bytes, cmdline} for every process we can see. */
async function processes(): Promise<Map<number, { ppid: number; rss: number; cmd: string }>> {
  const out = new Map<number, { ppid: number; rss: number; cmd: string }>()
  for (const name of await readdir('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid)) continue
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8')
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0)
      const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')
      out.set(pid, { ppid, rss, cmd })
    } catch {
      // gone meanwhile
    }
  }
  return out
}

function subtreeRss(procs: Map<number, { ppid: number; rss: number; cmd: string }>, roots: number[]): number {
  const inTree = new Set(roots)
  let grew = true
  while (grew) {
    grew = false
    for (const [pid, p] of procs) if (!inTree.has(pid) && inTree.has(p.ppid)) (inTree.add(pid), (grew = true))
  }
  let total = 0
  for (const pid of inTree) total += procs.get(pid)?.rss ?? 0
  return total
}

async function duBytes(dir: string): Promise<number> {
  const p = Bun.spawn(['du', '-s', '--block-size=1', dir], { stdout: 'pipe', stderr: 'ignore' })
  const text = await new Response(p.stdout).text()
  await p.exited
  return Number(text.split(/\s+/)[0] ?? 0)
}

/** Peak disk use of `dir` and peak RSS (imager trees, whole stack) while `during` runs. */
async function peaks<T>(dir: string, stackPid: number, during: () => Promise<T>): Promise<{ result: T; diskBefore: number; diskPeak: number; imagerRss: number; stackRss: number }> {
  const diskBefore = await duBytes(dir)
  let diskPeak = diskBefore
  let imagerRss = 0
  let stackRss = 0
  let done = false
  const sampler = (async () => {
    while (!done) {
      const procs = await processes()
      const imagers = [...procs].filter(([, p]) => p.cmd.includes('imager/cli.ts')).map(([pid]) => pid)
      imagerRss = Math.max(imagerRss, subtreeRss(procs, imagers))
      stackRss = Math.max(stackRss, subtreeRss(procs, [stackPid]))
      diskPeak = Math.max(diskPeak, await duBytes(dir))
      await Bun.sleep(150)
    }
  })()
  try {
    return { result: await during(), diskBefore, diskPeak, imagerRss, stackRss }
  } finally {
    done = true
    await sampler
  }
}

const MB = (n: number) => `${(n / 1e6).toFixed(0)} MB`

/** Stages the ISO inputs as the reference imager does (scratch tree + efiboot.img). */
async function stageIso(dir: string, files: { kernel: string; initramfs: string; uki: string; sdBoot: string }): Promise<string> {
  const put = async (rel: string, src: string) => {
    await mkdir(join(dir, rel, '..'), { recursive: true })
    await copyFile(src, join(dir, rel))
  }
  await put('boot/vmlinuz', files.kernel)
  await put('boot/initramfs.xz', files.initramfs)
  await mkdir(join(dir, 'boot/grub'), { recursive: true })
  await writeFile(join(dir, 'boot/grub/grub.cfg'), 'set default=0\nset timeout=3\n')
  await put('EFI/BOOT/BOOTX64.EFI', files.sdBoot)
  await put(`EFI/Linux/Talos-${VERSION}.efi`, files.uki)
  await mkdir(join(dir, 'loader'), { recursive: true })
  await writeFile(join(dir, 'loader/loader.conf'), '# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll off\n')
  const img = join(dir, 'efiboot.img')
  const mib = (n: number) => Math.ceil(n / 1048576) * 1048576
  await writeFile(img, '')
  await truncate(img, Math.max(34 * 1048576, 10 * 1048576 + mib((await stat(files.sdBoot)).size) + mib((await stat(files.uki)).size)))
  await run(['mkfs.vfat', '-F', '32', '-n', 'EFI', '--invariant', img])
  await run(['mcopy', '-s', '-p', '-Q', '-m', '-i', img, join(dir, 'EFI'), join(dir, 'loader'), '::'])
  return img
}

const ESP_ARGS = ['-e', '--interval:appended_partition_2:all::', '-append_partition', '2', '0xef']
const ESP_TAIL = ['-appended_part_as_gpt', '-partition_cyl_align', 'all', '-partition_offset', '16', '-iso_mbr_part_type', '0x83', '-no-emul-boot']
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

  // 5: the factory's first ISO (GRUB tree built now) vs the reference's tools on the same inputs
  const s3 = await schematic(base, ['bench-iso-1'])
  const isoCold = await timedGet(`${base}/image/${s3}/${VERSION}/metal-amd64.iso`)
  const inputs = {
    kernel: join(work, 'imager/usr/install/amd64/vmlinuz'),
    sdBoot: join(work, 'imager/usr/install/amd64/systemd-boot.efi'),
    initramfs: join(work, 'in-initramfs.xz'),
    uki: join(work, 'in-uki.efi'),
  }
  await writeFile(inputs.initramfs, new Uint8Array(await (await fetch(`${base}/image/${s3}/${VERSION}/initramfs-amd64.xz`)).arrayBuffer()))
  await writeFile(inputs.uki, new Uint8Array(await (await fetch(`${base}/image/${s3}/${VERSION}/metal-amd64-uki.efi`)).arrayBuffer()))
  const refDir = join(work, 'ref-iso')
  const tRef = performance.now()
  const refEsp = await stageIso(refDir, inputs)
  await run(['grub-mkrescue', '--compress=xz', `--output=${join(work, 'ref.iso')}`, '--directory=/usr/lib/grub/i386-pc', '-m', 'efiboot.img', '-iso-level', '3', refDir, '-eltorito-alt-boot', ...ESP_ARGS, refEsp, ...ESP_TAIL, '--', '-volid', 'TALOS_V1_12_0'])
  const refIso = performance.now() - tRef

  // 6: an ISO for a new schematic (extensions and GRUB tree cached) vs bare xorriso on the same files
  const s4 = await schematic(base, ['bench-iso-2'])
  const isoWarm = await timedGet(`${base}/image/${s4}/${VERSION}/metal-amd64.iso`)
  const grubRoot = join(stack.dataDir, 'cache', 'grub-iso')
  const grubTree = join(grubRoot, (await readdir(grubRoot)).find((d) => !d.startsWith('.'))!)
  const bareDir = join(work, 'bare-iso')
  const tBare = performance.now()
  const bareEsp = await stageIso(bareDir, inputs)
  await run([
    'xorriso', '-as', 'mkisofs', '-graft-points', '-b', 'boot/grub/i386-pc/eltorito.img', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info',
    '--grub2-mbr', join(grubTree, 'boot_hybrid.img'), '--protective-msdos-label', '-r', join(grubTree, 'tree'), '-m', 'efiboot.img', '-iso-level', '3', bareDir,
    '-eltorito-alt-boot', ...ESP_ARGS, bareEsp, ...ESP_TAIL, '-o', join(work, 'bare.iso'),
  ])
  const bareIso = performance.now() - tBare

  // 9: cold dual-boot disk image (new schematic; version inputs and extensions fetched and built before)
  const s5 = await schematic(base, ['bench-disk-1'])
  const diskCold = await timedGet(`${base}/image/${s5}/${VERSION}/metal-amd64.raw.zst`)
  const diskHand = await diskByHand(work)

  // 10: an 8 GiB cloud image: peak disk (data directory) and RSS
  const s6 = await schematic(base, ['bench-disk-2'])
  const cloud = await peaks(stack.dataDir, stack.proc.pid, () => timedGet(`${base}/image/${s6}/${VERSION}/aws-amd64.raw.zst`))

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

  // 7: cold installer image (UKI) vs the bare tool steps
  const sInst = ((await (await fetch(`${base}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { extraKernelArgs: ['bench-installer'] } }) })).json()) as { id: string }).id
  const installer = await timedGet(`${base}/image/${sInst}/${VERSION}/installer-amd64.tar`)
  const cmdline = await (await fetch(`${base}/image/${sInst}/${VERSION}/cmdline-metal-amd64`)).text()
  const installerHand = await installerByHand(up.registry.host, work, cmdline)

  // 8: warm registry pulls via the factory's Caddy vs the same files from plain Caddy
  const repo = `installer/${sInst}`
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
    ['cold ISO (first of this factory: GRUB tree built), total', `${ms(isoCold.total)} (${(isoCold.bytes / 1e6).toFixed(1)} MB, first byte ${ms(isoCold.ttfb)})`],
    ['same ISO by hand (mkfs.vfat, mcopy, grub-mkrescue --compress=xz)', ms(refIso)],
    ['  ratio factory cold ISO / by hand (goal <= 1.2)', (isoCold.total / refIso).toFixed(2)],
    ['ISO for a new schematic, extensions built before (goal <= 2 s)', `${ms(isoWarm.total)} (first byte ${ms(isoWarm.ttfb)})`],
    ['same files, bare xorriso on the cached GRUB tree (+ mkfs.vfat, mcopy)', ms(bareIso)],
    ['  ratio factory warm ISO / bare xorriso', (isoWarm.total / bareIso).toFixed(2)],
    ['cold installer-amd64.tar (UKI + systemd-boot), total', `${ms(installer.total)} (${(installer.bytes / 1e6).toFixed(2)} MB)`],
    ['same steps by hand (skopeo, mksquashfs, cpio, zstd, objcopy, tar, gzip)', ms(installerHand)],
    ['  ratio factory cold / by hand', (installer.total / installerHand).toFixed(2)],
    [`warm registry pull via factory Caddy (tag + digest manifests + blobs, ${PULLS} pulls)`, `${pullMBs.toFixed(0)} MB/s`],
    ['same files, plain caddy file-server', `${plainPullMBs.toFixed(0)} MB/s`],
    ['  ratio factory / plain', (pullMBs / plainPullMBs).toFixed(2)],
    ['cold metal-amd64.raw.zst (dual-boot, 4247 MiB), total', `${ms(diskCold.total)} (${(diskCold.bytes / 1e6).toFixed(1)} MB), first byte ${ms(diskCold.ttfb)}`],
    ['same disk steps with the bare tools', ms(diskHand)],
    ['  ratio factory cold / bare tools (goal <= 1.2)', (diskCold.total / diskHand).toFixed(2)],
    ['aws-amd64.raw.zst (11193 MiB virtual), total', `${ms(cloud.result.total)} (${(cloud.result.bytes / 1e6).toFixed(1)} MB)`],
    ['  peak data-dir growth while building', MB(cloud.diskPeak - cloud.diskBefore)],
    ['  peak RSS, imager process tree', MB(cloud.imagerRss)],
    ['  peak RSS, whole stack (Caddy, edge, builder, imager)', MB(cloud.stackRss)],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`boot-path benchmark (${new Date().toISOString()}, ${HIT_REQUESTS} hit requests x ${HIT_CONCURRENCY} concurrent)`)
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
} finally {
  await stack.stop()
  await up.stop()
  await rm(work, { recursive: true, force: true })
}
