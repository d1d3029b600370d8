/**
 * The native imager's `initramfs` output, built from the mini release (test/helpers/mini-release.ts)
 * and checked with the real tools (cpio, zstd/xz, unsquashfs): structure, byte-identical rebuilds,
 * reuse of processed extensions, tar inputs, the < 1.8 layout, the ≥ 11 extensions order, errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { runImager, writeSchematicExtension, type ImagerResult } from '../../builder/imager/index.ts'
import { exitCodeFor, ImagerAbortedError, ImagerIOError } from '../../builder/imager/errors.ts'
import { InvalidInputError } from '../../src/errors.ts'
import { ensureMiniRelease, profileYaml, tarExtension, writeSimpleExtension, type MiniRelease } from '../helpers/mini-release.ts'

const DEFAULT_ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'
const CLI = resolve(import.meta.dir, '../../builder/imager/cli.ts')

let mini: MiniRelease
let legacy: MiniRelease
let work: string
let schematicExt: string
let seq = 0

beforeAll(async () => {
  mini = await ensureMiniRelease('modern')
  legacy = await ensureMiniRelease('legacy')
  work = await mkdtemp(join(tmpdir(), 'imager-it-'))
  schematicExt = join(work, 'schematic-ext')
  await writeSchematicExtension(schematicExt, { id: DEFAULT_ID, canonicalYaml: 'customization: {}\n', externalUrl: 'https://factory.talos.dev/', version: mini.version })
}, 300_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

function freshPath(name: string): string {
  return join(work, `${name}-${++seq}`)
}

async function build(rel: MiniRelease, extensions: string[], opts: { cacheDir?: string | null; embeddedConfig?: string; output?: string } = {}): Promise<{ result: ImagerResult; bytes: Uint8Array; output: string }> {
  const output = opts.output ?? freshPath('out.img')
  const cacheDir = opts.cacheDir === undefined ? freshPath('cache') : opts.cacheDir
  const profile = profileYaml({ kind: 'initramfs', version: rel.version, initramfs: rel.initramfs, extensions, ...(opts.embeddedConfig !== undefined ? { embeddedConfig: opts.embeddedConfig } : {}) })
  const result = await runImager(profile, { output, workDir: join(work, 'tmp'), ...(cacheDir !== null ? { cacheDir } : {}) })
  return { result, bytes: new Uint8Array(await readFile(output)), output }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength))
}

interface Parts {
  early: Uint8Array
  base: Uint8Array
  rest: Uint8Array
}

/** Splits an output into [early cpio][base initramfs][appended archive]. */
async function split(bytes: Uint8Array, rel: MiniRelease): Promise<Parts> {
  const base = new Uint8Array(await readFile(rel.initramfs))
  const at = indexOf(bytes, base.subarray(0, 256))
  expect(at).toBeGreaterThanOrEqual(0)
  expect(Buffer.from(bytes.subarray(at, at + base.byteLength)).equals(Buffer.from(base))).toBe(true)
  return { early: bytes.subarray(0, at), base, rest: bytes.subarray(at + base.byteLength) }
}

async function cpioList(archive: Uint8Array): Promise<string[]> {
  const r = await execa('cpio', ['-t', '--quiet'], { input: Buffer.from(archive) })
  return r.stdout.split('\n').filter((l) => l !== '')
}

async function decompress(rest: Uint8Array, comp: 'zstd' | 'xz'): Promise<Uint8Array> {
  const r = await execa(comp, ['-dc'], { input: Buffer.from(rest), encoding: 'buffer' })
  return new Uint8Array(r.stdout)
}

/** Extracts the appended archive into a directory. */
async function unpackRest(rest: Uint8Array, comp: 'zstd' | 'xz'): Promise<string> {
  const dir = freshPath('unpacked')
  await mkdir(dir, { recursive: true })
  await execa('cpio', ['-id', '--quiet'], { cwd: dir, input: Buffer.from(await decompress(rest, comp)) })
  return dir
}

async function sqshList(image: string): Promise<string[]> {
  const r = await execa('unsquashfs', ['-lc', '-d', '', image])
  return r.stdout
    .split('\n')
    .map((l) => l.replace(/^\//, ''))
    .filter((l) => l !== '')
    .sort()
}

async function sqshCat(image: string, path: string): Promise<string> {
  return (await execa('unsquashfs', ['-cat', image, path])).stdout
}

describe('initramfs with system extensions (mini release, Talos 1.11 layout)', () => {
  let cold: Awaited<ReturnType<typeof build>>
  let cache: string

  beforeAll(async () => {
    cache = freshPath('cache')
    cold = await build(mini, [mini.extensions.ucode, mini.extensions.firmware, mini.extensions.module, mini.extensions.plain, schematicExt], { cacheDir: cache })
  }, 120_000)

  test('layout: microcode cpio, then the base initramfs unchanged, then a zstd cpio of layers + firmware', async () => {
    const { early, rest } = await split(cold.bytes, mini)
    expect(await cpioList(early)).toEqual(['kernel', 'kernel/x86', 'kernel/x86/microcode', 'kernel/x86/microcode/AuthenticAMD.bin', 'kernel/x86/microcode/GenuineIntel.bin'])
    expect(early.byteLength % 512).toBe(0)
    expect([...rest.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]) // zstd frame
    expect(await cpioList(await decompress(rest, 'zstd'))).toEqual([
      '0.sqsh',
      '1.sqsh',
      '2.sqsh',
      '3.sqsh',
      '4.sqsh',
      'extensions.yaml',
      'modules.dep.sqsh',
      'usr',
      'usr/lib',
      'usr/lib/firmware',
      'usr/lib/firmware/amd-ucode',
      'usr/lib/firmware/amd-ucode/README',
      'usr/lib/firmware/intel-ucode',
      'usr/lib/firmware/mini',
      'usr/lib/firmware/mini/fw-link.bin',
      'usr/lib/firmware/mini/fw.bin',
      'usr/lib/firmware/mini/sub',
      'usr/lib/firmware/mini/sub/deep.bin',
    ])
    expect(cold.result.initramfs).toMatchObject({ extensionsBuilt: 5, extensionsReused: 0, modulesDep: 'built' })
  })

  test('microcode: matching files concatenated in glob (byte) order, others stay firmware', async () => {
    const dir = freshPath('early')
    await mkdir(dir, { recursive: true })
    const { early } = await split(cold.bytes, mini)
    await execa('cpio', ['-id', '--quiet'], { cwd: dir, input: Buffer.from(early) })
    const amdDir = join(mini.extensions.ucode, 'rootfs', mini.firmwareRel, 'amd-ucode')
    const expected = Buffer.concat([await readFile(join(amdDir, 'microcode_amd.bin')), await readFile(join(amdDir, 'microcode_amd_fam17h.bin'))])
    expect((await readFile(join(dir, 'kernel/x86/microcode/AuthenticAMD.bin'))).equals(expected)).toBe(true)
    const intel = await readFile(join(mini.extensions.ucode, 'rootfs', mini.firmwareRel, 'intel-ucode/06-55-04'))
    expect((await readFile(join(dir, 'kernel/x86/microcode/GenuineIntel.bin'))).equals(intel)).toBe(true)
  })

  test('layers: firmware moved out of the squashfs, modules.dep generated by depmod, schematic layer', async () => {
    const { rest } = await split(cold.bytes, mini)
    const dir = await unpackRest(rest, 'zstd')
    const yaml = await readFile(join(dir, 'extensions.yaml'), 'utf8')
    const images = [...yaml.matchAll(/^ {4}- image: (.+)$/gm)].map((m) => m[1])
    expect(images).toEqual(['0.sqsh', '1.sqsh', '2.sqsh', '3.sqsh', '4.sqsh', 'modules.dep.sqsh'])
    const names = [...yaml.matchAll(/^ {8}name: (.+)$/gm)].map((m) => m[1])
    expect(names).toEqual(['mini-ucode', 'mini-firmware', 'mini-module', 'mini-plain', 'schematic', 'modules.dep'])
    expect(yaml).toContain(`        version: ${DEFAULT_ID}\n`)
    expect(yaml).toContain('        extraInfo: |\n            customization: {}\n')
    expect(yaml).toContain(`        name: modules.dep\n        version: ${mini.kver}\n        author: Talos Machinery\n`)

    const l0 = await sqshList(join(dir, '0.sqsh'))
    expect(l0).toContain('usr/local/share/mini/mini-ucode')
    expect(l0.some((p) => p.startsWith('usr/lib/firmware'))).toBe(false)
    expect(l0).toContain('usr/lib') // the emptied parent stays, as in the reference
    expect((await sqshList(join(dir, '1.sqsh'))).some((p) => p.startsWith('usr/lib/firmware'))).toBe(false)
    expect(await sqshList(join(dir, '2.sqsh'))).toContain(`usr/lib/modules/${mini.kver}/extras/nhc_dest.ko`)
    expect(await sqshList(join(dir, '4.sqsh'))).toContain(`usr/local/share/schematic/${DEFAULT_ID}`)

    const dep = await sqshCat(join(dir, 'modules.dep.sqsh'), `usr/lib/modules/${mini.kver}/modules.dep`)
    expect(dep).toContain('extras/nhc_dest.ko: kernel/net/6lowpan/6lowpan.ko')
    const depFiles = (await sqshList(join(dir, 'modules.dep.sqsh'))).filter((p) => p.includes('/modules.'))
    expect(depFiles).toContain(`usr/lib/modules/${mini.kver}/modules.alias`)
    expect(depFiles).toContain(`usr/lib/modules/${mini.kver}/modules.order`)
    expect(depFiles.every((p) => /\/modules\.[^/]+$/.test(p))).toBe(true)

    // firmware symlinks are resolved into copies (the reference copies with os.Stat)
    const fw = join(dir, 'usr/lib/firmware/mini')
    expect((await lstat(join(fw, 'fw-link.bin'))).isFile()).toBe(true)
    expect((await readFile(join(fw, 'fw-link.bin'))).equals(await readFile(join(fw, 'fw.bin')))).toBe(true)
  })

  test('a warm rebuild reuses every extension and modules.dep, with byte-identical output', async () => {
    const warm = await build(mini, [mini.extensions.ucode, mini.extensions.firmware, mini.extensions.module, mini.extensions.plain, schematicExt], { cacheDir: cache })
    expect(warm.result.initramfs).toMatchObject({ extensionsBuilt: 0, extensionsReused: 5, modulesDep: 'reused' })
    expect(Buffer.from(warm.bytes).equals(Buffer.from(cold.bytes))).toBe(true)
  })

  test('a cold rebuild with an empty cache is byte-identical (reproducible)', async () => {
    const again = await build(mini, [mini.extensions.ucode, mini.extensions.firmware, mini.extensions.module, mini.extensions.plain, schematicExt], { cacheDir: freshPath('cache') })
    expect(again.result.initramfs?.extensionsBuilt).toBe(5)
    expect(Buffer.from(again.bytes).equals(Buffer.from(cold.bytes))).toBe(true)
    const nocache = await build(mini, [mini.extensions.ucode, mini.extensions.firmware, mini.extensions.module, mini.extensions.plain, schematicExt], { cacheDir: null })
    expect(Buffer.from(nocache.bytes).equals(Buffer.from(cold.bytes))).toBe(true)
  })

  test('a different extension set reuses the processed extensions it shares', async () => {
    const c = freshPath('cache')
    const first = await build(mini, [mini.extensions.ucode, mini.extensions.module, schematicExt], { cacheDir: c })
    expect(first.result.initramfs).toMatchObject({ extensionsBuilt: 3, extensionsReused: 0, modulesDep: 'built' })
    const entries = join(c, 'extensions')
    const before = new Map<string, { mtimeMs: number; ino: number }>()
    for (const n of await readdir(entries)) {
      const st = await lstat(join(entries, n, 'image.sqsh'))
      before.set(n, { mtimeMs: st.mtimeMs, ino: st.ino })
    }
    expect(before.size).toBe(3)

    // other order, one new extension: the two shared ones are not rebuilt
    const second = await build(mini, [mini.extensions.plain, mini.extensions.module, mini.extensions.ucode], { cacheDir: c })
    expect(second.result.initramfs).toMatchObject({ extensionsBuilt: 1, extensionsReused: 2, modulesDep: 'reused' })
    const after = await readdir(entries)
    expect(after.length).toBe(4)
    for (const [n, st] of before) {
      const now = await lstat(join(entries, n, 'image.sqsh'))
      expect({ mtimeMs: now.mtimeMs, ino: now.ino }).toEqual(st)
    }
    expect(after.filter((n) => n.startsWith('.tmp-'))).toEqual([])
  })

  test('two concurrent builds sharing a cold cache both succeed with the same bytes', async () => {
    const c = freshPath('cache')
    const exts = [mini.extensions.ucode, mini.extensions.module, mini.extensions.plain]
    const [a, b] = await Promise.all([build(mini, exts, { cacheDir: c }), build(mini, exts, { cacheDir: c })])
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true)
    const names = await readdir(join(c, 'extensions'))
    expect(names.filter((n) => !n.startsWith('.tmp-')).length).toBe(3)
    expect(names.filter((n) => n.startsWith('.tmp-'))).toEqual([])
  })

  test('a caller-supplied digest is the cache identity of a directory input', async () => {
    const c = freshPath('cache')
    const dir = await writeSimpleExtension(join(work, 'digested'), 'digested', { files: { 'usr/local/share/v': '1' } })
    const profile = (d: string): string =>
      profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [d] }).replace(`tarballPath: ${d}`, `tarballPath: ${d}\n      digest: sha256:1111`)
    const first = await runImager(profile(dir), { output: freshPath('d.img'), cacheDir: c, workDir: join(work, 'tmp') })
    expect(first.initramfs?.extensionsBuilt).toBe(1)
    // same digest, different path: reused without looking at the tree
    const copy = await writeSimpleExtension(join(work, 'digested-copy'), 'digested', { files: { 'usr/local/share/v': '1' } })
    const second = await runImager(profile(copy), { output: freshPath('d.img'), cacheDir: c, workDir: join(work, 'tmp') })
    expect(second.initramfs).toMatchObject({ extensionsBuilt: 0, extensionsReused: 1 })
    // the CLI/library map form works the same way
    const third = await runImager(profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [copy] }), {
      output: freshPath('d.img'),
      cacheDir: c,
      workDir: join(work, 'tmp'),
      extensionDigests: { [copy]: 'sha256:1111' },
    })
    expect(third.initramfs).toMatchObject({ extensionsBuilt: 0, extensionsReused: 1 })
  })
})

describe('inputs and variants', () => {
  test('plain tar inputs give the same asset as the extracted directories', async () => {
    const tars: string[] = []
    for (const [name, dir] of Object.entries(mini.extensions)) tars.push(await tarExtension(dir, join(work, `${name}.tar`)))
    const fromTar = await build(mini, tars, { cacheDir: freshPath('cache') })
    const fromDir = await build(mini, Object.values(mini.extensions), { cacheDir: freshPath('cache') })
    expect(fromTar.result.initramfs?.layers).toEqual(['0.sqsh', '1.sqsh', '2.sqsh', '3.sqsh', 'modules.dep.sqsh'])
    expect(Buffer.from(fromTar.bytes).equals(Buffer.from(fromDir.bytes))).toBe(true)
  })

  test('Talos < 1.8 layout: xz with a CRC32 check, /lib/firmware and /lib/modules', async () => {
    const out = await build(legacy, [legacy.extensions.ucode, legacy.extensions.firmware, legacy.extensions.module])
    const { rest } = await split(out.bytes, legacy)
    expect([...rest.subarray(0, 6)]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])
    expect([...rest.subarray(6, 8)]).toEqual([0x00, 0x01]) // stream flags: check type CRC32
    const list = await cpioList(await decompress(rest, 'xz'))
    expect(list).toContain('lib/firmware/mini/fw.bin')
    expect(list).toContain('lib/firmware/amd-ucode/README')
    expect(list.some((p) => p.startsWith('usr'))).toBe(false)
    const dir = await unpackRest(rest, 'xz')
    const dep = await sqshCat(join(dir, 'modules.dep.sqsh'), `lib/modules/${legacy.kver}/modules.dep`)
    expect(dep).toContain('extras/nhc_dest.ko: kernel/net/6lowpan/6lowpan.ko')
    expect((await execa('unsquashfs', ['-s', join(dir, '0.sqsh')])).stdout).toContain('Compression xz')
  })

  test('firmware reached through a symlinked parent (lib -> usr/lib) still leaves the squashfs', async () => {
    const ext = await writeSimpleExtension(join(work, 'symlinked-lib'), 'symlinked-lib', { files: { 'usr/lib/firmware/vendor/x.bin': 'x' } })
    await symlink('usr/lib', join(ext, 'rootfs/lib'))
    const out = await build(legacy, [ext], { cacheDir: null })
    const { rest } = await split(out.bytes, legacy)
    const dir = await unpackRest(rest, 'xz')
    expect(await readFile(join(dir, 'lib/firmware/vendor/x.bin'), 'utf8')).toBe('x')
    const layer = await sqshList(join(dir, '0.sqsh'))
    expect(layer).toContain('lib')
    expect(layer.some((p) => p.startsWith('usr/lib/firmware'))).toBe(false)
  })

  test('12 extensions: layer names, extensions.yaml and overlay order follow the string sort 0, 1, 10, 11, 2, …', async () => {
    const dirs: string[] = []
    for (let i = 0; i < 12; i++) dirs.push(await writeSimpleExtension(join(work, 'many', `e${i}`), `ext-${String(i).padStart(2, '0')}`))
    const out = await build(mini, dirs, { cacheDir: null })
    const order = ['0', '1', '10', '11', '2', '3', '4', '5', '6', '7', '8', '9']
    expect(out.result.initramfs?.layers).toEqual(order.map((n) => `${n}.sqsh`))
    const { rest } = await split(out.bytes, mini)
    const dir = await unpackRest(rest, 'zstd')
    const yaml = await readFile(join(dir, 'extensions.yaml'), 'utf8')
    expect([...yaml.matchAll(/^ {4}- image: (.+)$/gm)].map((m) => m[1])).toEqual(order.map((n) => `${n}.sqsh`))
    expect([...yaml.matchAll(/^ {8}name: (.+)$/gm)].map((m) => m[1])).toEqual(order.map((n) => `ext-${n.padStart(2, '0')}`))
    expect(await sqshList(join(dir, '10.sqsh'))).toContain('usr/local/share/mini/ext-10')
    // no microcode: nothing is prepended
    expect(out.bytes.subarray(0, 4)).toEqual((await readFile(mini.initramfs)).subarray(0, 4))
  })

  test('without extensions the output is the base initramfs, byte for byte', async () => {
    const out = await build(mini, [], { cacheDir: null })
    expect(Buffer.from(out.bytes).equals(await readFile(mini.initramfs))).toBe(true)
  })

  test('the embedded machine configuration becomes the last layer and is never cached', async () => {
    const c = freshPath('cache')
    const out = await build(mini, [mini.extensions.plain], { cacheDir: c, embeddedConfig: 'version: v1alpha1\nmachine:\n  type: worker\n' })
    expect(out.result.initramfs).toMatchObject({ extensionsBuilt: 2, layers: ['0.sqsh', '1.sqsh'] })
    expect((await readdir(join(c, 'extensions'))).length).toBe(1)
    const { rest } = await split(out.bytes, mini)
    const dir = await unpackRest(rest, 'zstd')
    expect(await readFile(join(dir, 'extensions.yaml'), 'utf8')).toContain('        name: embedded-config\n')
    expect(await sqshCat(join(dir, '1.sqsh'), 'usr/local/etc/talos/config.yaml')).toBe('version: v1alpha1\nmachine:\n  type: worker')
  })
})

describe('failures', () => {
  test('an incompatible extension is refused with a one-line reason naming it', async () => {
    const ext = await writeSimpleExtension(join(work, 'future'), 'from-the-future', { constraint: '>= v1.99.0' })
    let err: unknown
    try {
      await build(mini, [mini.extensions.plain, ext])
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toBe(`error validating extension "from-the-future": version constraint >= v1.99.0 can't be satisfied with Talos version 1.11.0`)
  })

  test('a bad extension is named by position and image, never by its path on the builder host', async () => {
    const junk = await writeSimpleExtension(join(work, 'host-secret-dir'), 'junk', { files: { 'usr/local/share/x': 'x' } })
    await writeFile(join(junk, 'README'), 'not allowed at the top level')
    const profile = profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [mini.extensions.plain, junk] })
    const run = async (text: string): Promise<Error> => {
      try {
        await runImager(text, { output: freshPath('junk.img'), cacheDir: freshPath('cache'), workDir: join(work, 'tmp') })
      } catch (e) {
        return e as Error
      }
      throw new Error('the build succeeded')
    }
    const plain = await run(profile)
    expect(plain).toBeInstanceOf(InvalidInputError)
    expect(plain.message).toBe('error loading extension 1: unexpected file "README"')
    const named = await run(profile.replace(`imageRef: ""\n      tarballPath: ${junk}`, `imageRef: ghcr.io/example/junk:v1\n      tarballPath: ${junk}`))
    expect(named.message).toBe('error loading extension 1 (ghcr.io/example/junk:v1): unexpected file "README"')
    for (const err of [plain, named]) expect(err.message).not.toContain(work)
  })

  test('an incomplete cache entry is an IO fault of the builder, not the client\'s input', async () => {
    const c = freshPath('cache')
    await build(mini, [mini.extensions.plain], { cacheDir: c })
    // the entry exists but is unreadable: it is rebuilt, and publishing finds the broken one in place
    const entries = join(c, 'extensions')
    for (const n of await readdir(entries)) await writeFile(join(entries, n, 'meta.json'), '{}')
    let err: unknown
    try {
      await build(mini, [mini.extensions.plain], { cacheDir: c })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ImagerIOError)
    expect(err).not.toBeInstanceOf(InvalidInputError)
    expect(exitCodeFor(err)).toBe(6)
  })

  test('the microcode cpio and the base initramfs are written before any squashfs is built', async () => {
    // an extension whose firmware has a dangling symlink fails only in the squashfs stage
    const bad = await writeSimpleExtension(join(work, 'dangling'), 'dangling-firmware', { files: { [`${mini.firmwareRel}/x/ok.bin`]: 'ok' } })
    await symlink('missing.bin', join(bad, 'rootfs', mini.firmwareRel, 'x/broken.bin'))
    const output = freshPath('partial.img')
    let err: unknown
    try {
      await build(mini, [mini.extensions.ucode, bad], { output })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toContain('does not exist')
    const partial = new Uint8Array(await readFile(output))
    const { early, rest } = await split(partial, mini)
    expect(await cpioList(early)).toContain('kernel/x86/microcode/AuthenticAMD.bin')
    expect(rest.byteLength).toBe(0)
  })

  test('the CLI writes the same bytes and reports failures as one line with the reference exit codes', async () => {
    const output = freshPath('cli.img')
    const profile = profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [mini.extensions.plain, schematicExt] })
    const ok = await execa(process.execPath, [CLI, '--output', output, '--cache-dir', freshPath('cache'), '--work-dir', join(work, 'tmp')], { input: profile, reject: false })
    expect(ok.exitCode).toBe(0)
    const lib = await build(mini, [mini.extensions.plain, schematicExt])
    expect((await readFile(output)).equals(Buffer.from(lib.bytes))).toBe(true)

    const future = await writeSimpleExtension(join(work, 'future-cli'), 'future-cli', { constraint: '>= 9.0.0' })
    const bad = await execa(process.execPath, [CLI, '--output', freshPath('bad.img')], {
      input: profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [future] }),
      reject: false,
    })
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr.trim()).toBe(`error validating extension "future-cli": version constraint >= 9.0.0 can't be satisfied with Talos version 1.11.0`)

    const missing = await execa(process.execPath, [CLI, '--output', freshPath('missing.img')], {
      input: profileYaml({ kind: 'initramfs', version: mini.version, initramfs: join(work, 'nope.xz'), extensions: [] }),
      reject: false,
    })
    expect(missing.exitCode).toBe(6)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
  })

  test('a cancelled build stops with ImagerAbortedError', async () => {
    const controller = new AbortController()
    controller.abort()
    const profile = profileYaml({ kind: 'initramfs', version: mini.version, initramfs: mini.initramfs, extensions: [mini.extensions.plain] })
    await expect(runImager(profile, { output: freshPath('abort.img'), signal: controller.signal })).rejects.toBeInstanceOf(ImagerAbortedError)
  })
})

describe('kernel and cmdline kinds', () => {
  test('kernel: the kernel bytes; extensions are ignored', async () => {
    const output = freshPath('kernel')
    const r = await runImager(profileYaml({ kind: 'kernel', version: mini.version, kernel: mini.vmlinuz, extensions: [mini.extensions.plain] }), { output })
    expect(r.bytes).toBe((await lstat(mini.vmlinuz)).size)
    expect((await readFile(output)).equals(await readFile(mini.vmlinuz))).toBe(true)
  })

  test('cmdline: the reference command line without a trailing newline', async () => {
    const output = freshPath('cmdline')
    await runImager(profileYaml({ kind: 'cmdline', version: 'v1.11.0', platform: 'aws' }), { output })
    expect(await readFile(output, 'utf8')).toBe(
      'talos.platform=aws console=tty1 console=ttyS0 net.ifnames=0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1',
    )
  })
})
