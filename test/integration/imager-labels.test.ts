/**
 * SELinux labels and setuid bits in extension layers (imager-spec §4.3, §4.7): the labels of an
 * extension's PAX records, and the embedded config's fixed label, end up in the squashfs layers
 * exactly — no other xattr — with setuid bits kept; the same inputs give the same bytes; where the
 * work directory's filesystem refuses security.* xattrs the layers are built without them.
 *
 * Checked with the real tools: unsquashfs (as root it restores xattrs), getfattr, stat.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { runImager, type ImagerResult } from '../../builder/imager/index.ts'
import { EMBEDDED_CONFIG_SELINUX_LABEL } from '../../builder/imager/virtual-extensions.ts'
import { extractLayers } from '../../src/oci/extract.ts'
import { tarToBytes, withParentDirs, type TarEntry } from '../../src/oci/tar-writer.ts'
import { ensureMiniRelease, profileYaml, type MiniRelease } from '../helpers/mini-release.ts'

const CLI = resolve(import.meta.dir, '../../builder/imager/cli.ts')
const L = {
  root: 'system_u:object_r:system_file_t:s0',
  bin: 'system_u:object_r:bin_t:s0',
  helper: 'system_u:object_r:labelled_helper_exec_t:s0',
  link: 'system_u:object_r:link_t:s0',
  fw: 'system_u:object_r:firmware_t:s0',
}
const CONFIG = 'version: v1alpha1\nmachine:\n  type: worker\n'

let mini: MiniRelease
let work: string
let seq = 0
/** The labelled extension as a plain tar (Talos's tarballPath input). */
let tarPath: string

const fresh = (name: string): string => join(work, `${name}-${++seq}`)
const sel = (label: string) => ({ 'SCHILY.xattr.security.selinux': label })

beforeAll(async () => {
  mini = await ensureMiniRelease('modern')
  work = await mkdtemp(join(tmpdir(), 'imager-labels-'))
  const entries: TarEntry[] = [
    {
      type: 'file',
      path: 'manifest.yaml',
      data: 'version: v1alpha1\nmetadata:\n  name: labelled\n  version: 1.0.0\n  author: test\n  description: labels and setuid\n  compatibility:\n    talos:\n      version: ">= v1.0.0"\n',
      pax: sel('system_u:object_r:ignored_t:s0'), // outside rootfs/: not part of any layer
    },
    { type: 'dir', path: 'rootfs', pax: sel(L.root) },
    { type: 'dir', path: 'rootfs/usr/local/bin', pax: sel(L.bin) },
    { type: 'file', path: 'rootfs/usr/local/bin/helper', data: '#!/bin/sh\nid\n', mode: 0o4755, pax: sel(L.helper) },
    { type: 'file', path: 'rootfs/usr/local/bin/plain', data: 'no label\n', mode: 0o755 },
    { type: 'dir', path: 'rootfs/usr/local/share', mode: 0o2775 },
    { type: 'symlink', path: 'rootfs/usr/local/lib/helper-link', target: '../bin/helper', pax: sel(L.link) },
    // firmware leaves the squashfs for the initramfs, label and all
    { type: 'file', path: `rootfs/${mini.firmwareRel}/vendor/blob.bin`, data: 'fw', pax: sel(L.fw) },
  ]
  tarPath = join(work, 'labelled.tar')
  await writeFile(tarPath, await tarToBytes(withParentDirs(entries)))
}, 300_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

async function build(extensions: string[], opts: { cacheDir?: string; workDir?: string; embeddedConfig?: string; extensionLabels?: Record<string, string>; selinuxLabels?: 'auto' | 'on' | 'off' } = {}): Promise<{ result: ImagerResult; output: string }> {
  const output = fresh('out.img')
  const profile = profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions, ...(opts.embeddedConfig !== undefined ? { embeddedConfig: opts.embeddedConfig } : {}) })
  const result = await runImager(profile, {
    output,
    workDir: opts.workDir ?? join(work, 'tmp'),
    cacheDir: opts.cacheDir ?? fresh('cache'),
    ...(opts.extensionLabels ? { extensionLabels: opts.extensionLabels } : {}),
    ...(opts.selinuxLabels ? { selinuxLabels: opts.selinuxLabels } : {}),
  })
  return { result, output }
}

/** The layers (`*.sqsh` + extensions.yaml) of an output, unpacked from its appended archive. */
async function layers(output: string): Promise<string> {
  const bytes = await readFile(output)
  const base = await readFile(mini.initramfs)
  const at = bytes.indexOf(base.subarray(0, 256))
  const rest = bytes.subarray(at + base.byteLength)
  const dir = fresh('layers')
  await mkdir(dir, { recursive: true })
  const cpio = await execa('zstd', ['-dc'], { input: rest, encoding: 'buffer' })
  await execa('cpio', ['-id', '--quiet'], { cwd: dir, input: Buffer.from(cpio.stdout) })
  return dir
}

/** unsquashfs (restoring xattrs, as root) into a fresh directory. */
async function unsquash(image: string): Promise<string> {
  const dir = fresh('unsquashed')
  await execa('unsquashfs', ['-q', '-d', dir, image])
  return dir
}

/** Every xattr of every entry under `dir` (symlinks not followed): path → {name: value}. */
async function allXattrs(dir: string): Promise<Record<string, Record<string, string>>> {
  const r = await execa('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '.'], { cwd: dir })
  const out: Record<string, Record<string, string>> = {}
  let current = ''
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = line.slice('# file: '.length).replace(/^\.\/?/, '')
      out[current] = {}
    } else if (line.includes('=')) {
      const i = line.indexOf('=')
      out[current]![line.slice(0, i)] = JSON.parse(line.slice(i + 1)) as string
    }
  }
  return out
}

const EXPECTED_EXTENSION_XATTRS = {
  '': { 'security.selinux': L.root },
  'usr/local/bin': { 'security.selinux': L.bin },
  'usr/local/bin/helper': { 'security.selinux': L.helper },
  'usr/local/lib/helper-link': { 'security.selinux': L.link },
}

describe('labels and setuid bits in the layers', () => {
  let first: { result: ImagerResult; output: string }
  let dir: string

  beforeAll(async () => {
    first = await build([tarPath], { embeddedConfig: CONFIG })
    dir = await layers(first.output)
  }, 120_000)

  test('the extension layer carries exactly the labels of its PAX records, and its setuid bit', async () => {
    expect(first.result.initramfs).toMatchObject({ xattrs: 'staged', layers: ['0.sqsh', '1.sqsh'] })
    expect(first.result.initramfs?.xattrsFallback).toBeUndefined()
    const ext = await unsquash(join(dir, '0.sqsh'))
    expect(await allXattrs(ext)).toEqual(EXPECTED_EXTENSION_XATTRS)
    expect((await stat(join(ext, 'usr/local/bin/helper'))).mode & 0o7777).toBe(0o4755)
    expect((await stat(join(ext, 'usr/local/share'))).mode & 0o7777).toBe(0o2775)
    // the firmware went to the initramfs (without xattrs: cpio carries none)
    expect(await readFile(join(dir, mini.firmwareRel, 'vendor/blob.bin'), 'utf8')).toBe('fw')
  })

  test('the embedded config is labelled system_state_t, and nothing else is', async () => {
    const cfg = await unsquash(join(dir, '1.sqsh'))
    expect(await allXattrs(cfg)).toEqual({ 'usr/local/etc/talos/config.yaml': { 'security.selinux': EMBEDDED_CONFIG_SELINUX_LABEL } })
    expect(EMBEDDED_CONFIG_SELINUX_LABEL).toBe('system_u:object_r:system_state_t:s0')
    expect((await stat(join(cfg, 'usr/local/etc/talos/config.yaml'))).mode & 0o7777).toBe(0o400)
  })

  test('same inputs, cold cache: byte-identical layers and output', async () => {
    const again = await build([tarPath], { embeddedConfig: CONFIG })
    expect((await readFile(again.output)).equals(await readFile(first.output))).toBe(true)
  }, 60_000)

  test('a directory input with its extraction record gives the same layer; stray xattrs of the directory are not copied', async () => {
    const extracted = fresh('extracted')
    const { selinuxLabels } = await extractLayers([Bun.file(tarPath).stream()], extracted)
    const record = `${extracted}.json`
    await writeFile(record, JSON.stringify({ format: 1, selinuxLabels: Object.fromEntries(selinuxLabels) }))
    await execa('setfattr', ['-n', 'user.stray', '-v', 'x', join(extracted, 'rootfs/usr/local/bin/plain')])
    await execa('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:host_t:s0', join(extracted, 'rootfs/usr/local/share')])
    const fromDir = await build([extracted], { embeddedConfig: CONFIG, extensionLabels: { [extracted]: record } })
    const d = await layers(fromDir.output)
    expect((await readFile(join(d, '0.sqsh'))).equals(await readFile(join(dir, '0.sqsh')))).toBe(true)
    // the input directory itself is left as it was
    expect((await execa('getfattr', ['-n', 'user.stray', '--only-values', join(extracted, 'rootfs/usr/local/bin/plain')])).stdout).toBe('x')
  }, 60_000)

  test('the cache keeps labelled and unlabelled layers apart', async () => {
    const cache = fresh('cache')
    const off = await build([tarPath], { cacheDir: cache, selinuxLabels: 'off' })
    expect(off.result.initramfs).toMatchObject({ xattrs: 'none', extensionsBuilt: 1 })
    expect(await allXattrs(await unsquash(join(await layers(off.output), '0.sqsh')))).toEqual({})
    const on = await build([tarPath], { cacheDir: cache })
    expect(on.result.initramfs).toMatchObject({ xattrs: 'staged', extensionsBuilt: 1, extensionsReused: 0 })
    const onAgain = await build([tarPath], { cacheDir: cache })
    expect(onAgain.result.initramfs).toMatchObject({ extensionsBuilt: 0, extensionsReused: 1 })
  }, 60_000)
})

/**
 * A filesystem that refuses security.* xattrs: ramfs (no xattr handlers at all; tmpfs and ext4
 * accept them). Mounting needs root; elsewhere the test is skipped.
 */
async function mountRamfs(): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'ramfs-'))
  const r = await execa('mount', ['-t', 'ramfs', 'ramfs', dir], { reject: false })
  if (r.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true })
    return null
  }
  return dir
}

describe('fallback where the work directory refuses security.* xattrs', () => {
  let ramfs: string | null = null

  beforeAll(async () => {
    ramfs = await mountRamfs()
  })

  afterAll(async () => {
    if (ramfs !== null) {
      await execa('umount', [ramfs], { reject: false })
      await rm(ramfs, { recursive: true, force: true })
    }
  })

  test('on ramfs: layers built with -no-xattrs, the reason reported, setuid kept; the CLI warns', async () => {
    if (ramfs === null) {
      console.warn('skipped: cannot mount ramfs here (needs root)')
      return
    }
    const out = await build([tarPath], { workDir: join(ramfs, 'work'), embeddedConfig: CONFIG })
    expect(out.result.initramfs?.xattrs).toBe('none')
    expect(out.result.initramfs?.xattrsFallback).toContain('refuses security.* xattrs')
    const dir = await layers(out.output)
    for (const layer of ['0.sqsh', '1.sqsh']) expect(await allXattrs(await unsquash(join(dir, layer)))).toEqual({})
    expect((await stat(join(await unsquash(join(dir, '0.sqsh')), 'usr/local/bin/helper'))).mode & 0o7777).toBe(0o4755)
    expect(await readdir(join(ramfs, 'work'))).toEqual([]) // the probe and the run cleaned up

    const cli = await execa(process.execPath, [CLI, '--output', fresh('cli.img'), '--work-dir', join(ramfs, 'work')], {
      input: profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [tarPath] }),
      reject: false,
    })
    expect(cli.exitCode).toBe(0)
    expect(cli.stderr).toMatch(/^warning: extension layers carry no SELinux labels: the filesystem of .* refuses security\.\* xattrs/m)
  }, 120_000)

  test('--selinux-labels is checked', async () => {
    const cli = await execa(process.execPath, [CLI, '--output', fresh('x.img'), '--selinux-labels', 'maybe'], { input: profileYaml({ kind: 'kernel', version: mini.version, kernel: mini.vmlinuz }), reject: false })
    expect(cli.exitCode).toBe(2)
    expect(cli.stderr.trim()).toBe('--selinux-labels must be auto, on or off')
  })
})
