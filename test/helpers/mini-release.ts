/**
 * A tiny Talos-like release for the native imager's tests (not the full stand-in release):
 *
 *   vmlinuz            Debian's kernel (linux-image-*-amd64 .deb via `apt-get download`, extracted
 *                      with dpkg-deb; cached — set IMAGER_TEST_KERNEL_DEB to use a local .deb)
 *   initramfs.xz       compressed newc cpio: busybox `init` that prints what it sees, loop/squashfs
 *                      modules, and `rootfs.sqsh` holding `<modules>/<kver>/` with the kernel's real
 *                      modules.builtin/.order/.builtin.modinfo and a few real .ko files
 *   extensions/        extension directories (manifest.yaml + rootfs/): `ucode` (AMD + Intel
 *                      microcode), `firmware` (files, a nested dir and a symlink), `module` (a real
 *                      .ko in extras/ that depends on a base module) and `plain`
 *
 * zstd + /usr/lib paths for Talos ≥ 1.10 layouts, xz (crc32) + /lib paths for < 1.8 ones.
 * Everything is cached under IMAGER_TEST_CACHE (default /tmp/imager-test-cache) and built
 * atomically; contents are deterministic (no random bytes), so extension fingerprints are stable.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, readdir, rename, rm, stat, symlink, utimes, writeFile, lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { ensureKernelDeb } from '../fixtures/standin/kernel.ts'
import { defaultCacheDir } from '../fixtures/standin/release.ts'

export const MINI_CACHE = process.env.IMAGER_TEST_CACHE ?? '/tmp/imager-test-cache'
export const MINI_EPOCH = 1559424892
const MINI_FORMAT = 2

export type MiniLayout = 'modern' | 'legacy'

export interface MiniRelease {
  readonly dir: string
  readonly kver: string
  readonly vmlinuz: string
  readonly initramfs: string
  readonly compression: 'zstd' | 'xz'
  /** `usr/lib/modules` or `lib/modules` */
  readonly modulesRel: string
  /** `usr/lib/firmware` or `lib/firmware` */
  readonly firmwareRel: string
  /** Talos version this layout stands for. */
  readonly version: string
  readonly extensions: { readonly ucode: string; readonly firmware: string; readonly module: string; readonly plain: string }
}

const KERNEL_FILES = [
  'kernel/drivers/block/loop.ko',
  'kernel/fs/squashfs/squashfs.ko',
  'kernel/net/6lowpan/6lowpan.ko',
  'kernel/net/6lowpan/nhc_dest.ko',
  'modules.builtin',
  'modules.builtin.modinfo',
  'modules.order',
] as const

interface KernelFiles {
  readonly kver: string
  readonly vmlinuz: string
  readonly modulesDir: string
  readonly debName: string
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  )
}

/** Builds `dir` once: `fill(tmp)` runs in a temp dir beside it, which is renamed into place. */
async function buildOnce(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (await exists(dir)) return
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  await mkdir(tmp, { recursive: true })
  try {
    await fill(tmp)
    await rename(tmp, dir).catch(async (err: unknown) => {
      if (!(await exists(dir))) throw err
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/** The same cached Debian kernel .deb the stand-in release uses (one download per machine). */
function kernelDeb(): Promise<string> {
  return ensureKernelDeb(join(defaultCacheDir(), 'debs'), process.env.IMAGER_TEST_KERNEL_DEB)
}

/** Debian's kernel + the few module files the mini release uses (extracted once). */
export async function ensureKernelFiles(): Promise<KernelFiles> {
  const deb = await kernelDeb()
  const debName = deb.slice(deb.lastIndexOf('/') + 1)
  const dir = join(MINI_CACHE, 'kernel', debName.replace(/\.deb$/, ''))
  await buildOnce(dir, async (tmp) => {
    const patterns = ['./boot/vmlinuz-*', ...KERNEL_FILES.map((f) => `./lib/modules/*/${f}`)]
    await execa('sh', ['-c', 'deb="$1"; out="$2"; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out" --wildcards "$@"', 'sh', deb, tmp, ...patterns])
  })
  const vm = (await readdir(join(dir, 'boot'))).find((n) => n.startsWith('vmlinuz-'))
  if (!vm) throw new Error(`${debName} has no vmlinuz`)
  const kver = vm.slice('vmlinuz-'.length)
  return { kver, vmlinuz: join(dir, 'boot', vm), modulesDir: join(dir, 'lib', 'modules', kver), debName }
}

/** Deterministic pseudo-random bytes. */
export function detBytes(seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size)
  let block = createHash('sha256').update(seed).digest()
  for (let off = 0; off < size; off += 32) {
    out.set(block.subarray(0, Math.min(32, size - off)), off)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

async function pinTree(path: string): Promise<void> {
  const st = await lstat(path)
  if (st.isDirectory()) for (const n of await readdir(path)) await pinTree(join(path, n))
  if (!st.isSymbolicLink()) await utimes(path, MINI_EPOCH, MINI_EPOCH)
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 4 > /proc/sys/kernel/printk
echo "MINI-BOOT-OK"
if [ -f /extensions.yaml ]; then sed 's/^/EXTENSIONS-YAML: /' /extensions.yaml; else echo "NO-EXTENSIONS-YAML"; fi
insmod /lib/mini/loop.ko 2>/dev/null
insmod /lib/mini/squashfs.ko 2>/dev/null
for f in /*.sqsh; do
  [ -f "$f" ] || continue
  name="\${f#/}"
  [ "$name" = rootfs.sqsh ] && continue
  d="/mnt/$name"
  mkdir -p "$d"
  if mount -t squashfs -o loop,ro "$f" "$d"; then
    echo "LAYER-MOUNTED: $name"
    (cd "$d" && find . ! -type d | sort | while read -r p; do echo "LAYER-FILE: $name \${p#./}"; done)
  else
    echo "LAYER-MOUNT-FAILED: $name"
  fi
done
for fw in /usr/lib/firmware /lib/firmware; do
  [ -d "$fw" ] && find "$fw" ! -type d | sort | while read -r p; do echo "FIRMWARE: $p $(stat -c %s "$p")"; done
done
for u in /kernel/x86/microcode/*; do
  [ -f "$u" ] && echo "MICROCODE: $u $(stat -c %s "$u")"
done
echo "MINI-DONE"
poweroff -f
`

function manifest(name: string, description: string, constraint = '>= v1.0.0'): string {
  return [
    'version: v1alpha1',
    'metadata:',
    `  name: ${name}`,
    '  version: 1.0.0',
    '  author: Image Factory tests',
    '  description: |',
    `    ${description}`,
    '  compatibility:',
    '    talos:',
    `      version: "${constraint}"`,
    '',
  ].join('\n')
}

async function writeExt(dir: string, name: string, description: string, files: Record<string, string | Uint8Array>, extra?: (rootfs: string) => Promise<void>): Promise<void> {
  await mkdir(join(dir, 'rootfs', 'usr/local/share/mini'), { recursive: true })
  await writeFile(join(dir, 'manifest.yaml'), manifest(name, description))
  await writeFile(join(dir, 'rootfs', 'usr/local/share/mini', name), `${name}\n`)
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(join(dir, 'rootfs', rel, '..'), { recursive: true })
    await writeFile(join(dir, 'rootfs', rel), data)
  }
  if (extra) await extra(join(dir, 'rootfs'))
}

/** Builds (or reuses) the mini release for a layout. */
export async function ensureMiniRelease(layout: MiniLayout = 'modern'): Promise<MiniRelease> {
  const k = await ensureKernelFiles()
  const modern = layout === 'modern'
  const compression = modern ? 'zstd' : 'xz'
  const modulesRel = modern ? 'usr/lib/modules' : 'lib/modules'
  const firmwareRel = modern ? 'usr/lib/firmware' : 'lib/firmware'
  const key = createHash('sha256').update(JSON.stringify({ MINI_FORMAT, layout, deb: k.debName, INIT })).digest('hex').slice(0, 12)
  const dir = join(MINI_CACHE, 'mini', `${layout}-${key}`)
  await buildOnce(dir, async (tmp) => {
    // rootfs.sqsh with the kernel's module metadata and a few modules
    const rootfs = join(tmp, 'rootfs')
    const mods = join(rootfs, modulesRel, k.kver)
    for (const f of KERNEL_FILES) {
      if (f.endsWith('nhc_dest.ko')) continue // shipped by the `module` extension instead
      await mkdir(join(mods, f, '..'), { recursive: true })
      await copyFile(join(k.modulesDir, f), join(mods, f))
    }
    await mkdir(join(rootfs, 'etc'), { recursive: true })
    await writeFile(join(rootfs, 'etc/os-release'), 'NAME="Talos"\nID=talos\nPRETTY_NAME="Talos (mini test release)"\n')
    await pinTree(rootfs)

    const stage = join(tmp, 'stage')
    await mkdir(join(stage, 'bin'), { recursive: true })
    await mkdir(join(stage, 'lib/mini'), { recursive: true })
    await copyFile('/bin/busybox', join(stage, 'bin/busybox'))
    await chmod(join(stage, 'bin/busybox'), 0o755)
    await writeFile(join(stage, 'init'), INIT)
    await chmod(join(stage, 'init'), 0o755)
    await copyFile(join(k.modulesDir, 'kernel/drivers/block/loop.ko'), join(stage, 'lib/mini/loop.ko'))
    await copyFile(join(k.modulesDir, 'kernel/fs/squashfs/squashfs.ko'), join(stage, 'lib/mini/squashfs.ko'))
    await execa('mksquashfs', [rootfs, join(stage, 'rootfs.sqsh'), '-all-root', '-noappend', '-no-progress', '-quiet', '-comp', compression], {
      env: { SOURCE_DATE_EPOCH: String(MINI_EPOCH) },
    })
    await pinTree(stage)
    const cpio = `cd "$1" && find . -mindepth 1 | sed 's|^\\./||' | LC_ALL=C sort | cpio -o -H newc --reproducible -R +0:+0 --quiet`
    const comp = modern ? 'zstd -q -3 -T1 -c' : 'xz -q -C crc32 -0 -T1 -c'
    await execa('sh', ['-c', `(${cpio}) | ${comp} > "$2"`, 'sh', stage, join(tmp, 'initramfs.xz')])
    await copyFile(k.vmlinuz, join(tmp, 'vmlinuz'))
    await rm(rootfs, { recursive: true, force: true })
    await rm(stage, { recursive: true, force: true })

    // extensions
    const ext = join(tmp, 'extensions')
    await writeExt(join(ext, 'ucode'), 'mini-ucode', 'Test microcode (not real microcode).', {
      [`${firmwareRel}/amd-ucode/microcode_amd_fam17h.bin`]: detBytes('amd-17', 3000),
      [`${firmwareRel}/amd-ucode/microcode_amd.bin`]: detBytes('amd', 1000),
      [`${firmwareRel}/amd-ucode/README`]: 'amd microcode readme\n',
      [`${firmwareRel}/intel-ucode/06-55-04`]: detBytes('intel', 2048),
    })
    await writeExt(
      join(ext, 'firmware'),
      'mini-firmware',
      'Test firmware blobs.',
      {
        [`${firmwareRel}/mini/fw.bin`]: detBytes('fw', 8192),
        [`${firmwareRel}/mini/sub/deep.bin`]: detBytes('deep', 100),
      },
      async (rootfs) => {
        await symlink('fw.bin', join(rootfs, firmwareRel, 'mini/fw-link.bin'))
      },
    )
    await writeExt(join(ext, 'module'), 'mini-module', 'A kernel module in extras/.', {}, async (rootfs) => {
      const extras = join(rootfs, modulesRel, k.kver, 'extras')
      await mkdir(extras, { recursive: true })
      await copyFile(join(k.modulesDir, 'kernel/net/6lowpan/nhc_dest.ko'), join(extras, 'nhc_dest.ko'))
    })
    await writeExt(join(ext, 'plain'), 'mini-plain', 'Just files in /usr/local.', { 'usr/local/bin/hello': '#!/bin/sh\necho hello\n' }, async (rootfs) => {
      await chmod(join(rootfs, 'usr/local/bin/hello'), 0o755)
    })
    await pinTree(ext)
  })
  const st = await stat(join(dir, 'initramfs.xz'))
  if (st.size === 0) throw new Error(`mini release ${dir} is broken`)
  return {
    dir,
    kver: k.kver,
    vmlinuz: join(dir, 'vmlinuz'),
    initramfs: join(dir, 'initramfs.xz'),
    compression,
    modulesRel,
    firmwareRel,
    version: modern ? 'v1.11.0' : 'v1.7.0',
    extensions: {
      ucode: join(dir, 'extensions/ucode'),
      firmware: join(dir, 'extensions/firmware'),
      module: join(dir, 'extensions/module'),
      plain: join(dir, 'extensions/plain'),
    },
  }
}

/** A plain tar of an extension directory (Talos `tarballPath` semantics). */
export async function tarExtension(extDir: string, out: string): Promise<string> {
  await execa('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${MINI_EPOCH}`, '-cf', out, '-C', extDir, '.'])
  return out
}

/** Writes a minimal extension directory (for ordering/validation tests). */
export async function writeSimpleExtension(dir: string, name: string, opts: { constraint?: string; files?: Record<string, string> } = {}): Promise<string> {
  await writeExt(dir, name, `Extension ${name}.`, opts.files ?? {})
  if (opts.constraint !== undefined) await writeFile(join(dir, 'manifest.yaml'), manifest(name, `Extension ${name}.`, opts.constraint))
  return dir
}

/** Minimal imager profile YAML for tests. */
export function profileYaml(p: {
  kind: 'kernel' | 'initramfs' | 'cmdline'
  version: string
  kernel?: string
  initramfs?: string
  extensions?: readonly string[]
  platform?: string
  embeddedConfig?: string
}): string {
  const lines = ['arch: amd64', `platform: ${p.platform ?? 'metal'}`, 'secureboot: false', `version: ${p.version}`]
  if (p.embeddedConfig !== undefined) lines.push('customization:', `  embeddedMachineConfiguration: ${JSON.stringify(p.embeddedConfig)}`)
  lines.push('input:')
  if (p.kernel) lines.push('  kernel:', `    path: ${p.kernel}`)
  if (p.initramfs) lines.push('  initramfs:', `    path: ${p.initramfs}`)
  if (p.extensions && p.extensions.length > 0) {
    lines.push('  systemExtensions:')
    for (const e of p.extensions) lines.push(`    - imageRef: ""`, `      tarballPath: ${e}`)
  }
  lines.push('output:', `  kind: ${p.kind}`, '  outFormat: raw', '')
  return lines.join('\n')
}
