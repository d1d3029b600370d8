/**
 * The pieces of the imager's 'staged' label mode: labels applied with one `setfattr --restore`
 * (odd file names, symlinks labelled themselves, nothing written through a symlink or outside the
 * tree) and the clean copy of a directory input (modes with setuid, mtimes, links, excludes — and
 * no xattr). Needs a filesystem that takes security.* xattrs (the probe decides; else skipped).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { copyTreeClean } from '../../builder/imager/fs-tree.ts'
import { applySelinuxLabels, probeSecurityXattrs, resolveXattrMode } from '../../builder/imager/xattrs.ts'

let dir: string
let supported = false

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imager-xattrs-'))
  supported = (await probeSecurityXattrs(dir)).ok
  if (!supported) console.warn(`skipped: ${tmpdir()} does not take security.* xattrs here`)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function label(path: string): Promise<string | null> {
  const r = await execa('getfattr', ['-h', '-n', 'security.selinux', '--only-values', '--', path], { reject: false, encoding: 'buffer' })
  return r.exitCode === 0 ? Buffer.from(r.stdout).toString('utf8') : null
}

async function xattrNames(path: string): Promise<string[]> {
  const r = await execa('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', '--', path])
  return r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.slice(0, l.indexOf('=')))
}

describe('applySelinuxLabels', () => {
  test('odd names, the root, symlinks themselves; nothing through a symlink, nothing missing', async () => {
    if (!supported) return
    const root = join(dir, 'tree')
    const outside = join(dir, 'outside')
    await mkdir(join(root, 'sub'), { recursive: true })
    await mkdir(outside)
    await writeFile(join(outside, 'target'), 'host file')
    const names = ['a b', 'ünï', 'new\nline', 'back\\slash', '-dash', 'q"uote=eq', 'sub/deep']
    for (const n of names) await writeFile(join(root, n), n)
    await symlink(join(outside, 'target'), join(root, 'link'))
    await symlink(outside, join(root, 'via'))
    const labels = new Map<string, string>([
      ['', 'root_t'],
      ...names.map((n, i): [string, string] => [n, `label_${i}_t`]),
      ['link', 'link_t'],
      ['via/target', 'escape_t'], // behind a symlink: skipped
      ['missing', 'missing_t'], // gone: skipped
    ])
    expect(await applySelinuxLabels(root, labels)).toBe(names.length + 2)
    expect(await label(root)).toBe('root_t')
    for (const [i, n] of names.entries()) expect(await label(join(root, n))).toBe(`label_${i}_t`)
    expect(await label(join(root, 'link'))).toBe('link_t')
    expect(await label(join(outside, 'target'))).toBeNull()
    expect(await label(outside)).toBeNull()
  })

  test('the exact bytes of a label (a trailing NUL included)', async () => {
    if (!supported) return
    const root = join(dir, 'nul')
    await mkdir(root)
    await writeFile(join(root, 'f'), '')
    await applySelinuxLabels(root, new Map([['f', 'system_u:object_r:bin_t:s0\0']]))
    const r = await execa('getfattr', ['-n', 'security.selinux', '-e', 'hex', '--only-values', join(root, 'f')], { encoding: 'buffer' })
    expect(Buffer.from(r.stdout).toString('hex')).toBe(Buffer.from('system_u:object_r:bin_t:s0\0').toString('hex'))
  })
})

describe('copyTreeClean', () => {
  test('keeps modes (setuid/setgid/sticky), mtimes, symlinks and hardlinks; leaves out excludes and every xattr', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'bin'), { recursive: true })
    await mkdir(join(src, 'usr/lib/firmware/x'), { recursive: true })
    await mkdir(join(src, 'shared'))
    await writeFile(join(src, 'bin/suid'), 'suid')
    await chmod(join(src, 'bin/suid'), 0o4755)
    await chmod(join(src, 'shared'), 0o3777)
    await link(join(src, 'bin/suid'), join(src, 'bin/hard'))
    await symlink('suid', join(src, 'bin/alias'))
    await writeFile(join(src, 'usr/lib/firmware/x/blob'), 'fw')
    await writeFile(join(src, 'usr/lib/keep'), 'k')
    if (supported) {
      await execa('setfattr', ['-n', 'user.stray', '-v', '1', join(src, 'bin/suid')])
      await execa('setfattr', ['-n', 'security.selinux', '-v', 'host_t', join(src, 'usr/lib')])
    }
    for (const p of ['bin/suid', 'usr/lib/keep', 'usr/lib', 'bin', '']) await utimes(join(src, p), 1_500_000_000, 1_500_000_000)

    const dst = join(dir, 'dst')
    await copyTreeClean(src, dst, { exclude: ['usr/lib/firmware'], what: 'test' })
    expect((await stat(join(dst, 'bin/suid'))).mode & 0o7777).toBe(0o4755)
    expect((await stat(join(dst, 'shared'))).mode & 0o7777).toBe(0o3777)
    expect((await stat(join(dst, 'bin/hard'))).ino).toBe((await stat(join(dst, 'bin/suid'))).ino)
    expect(await readlink(join(dst, 'bin/alias'))).toBe('suid')
    expect(await readFile(join(dst, 'usr/lib/keep'), 'utf8')).toBe('k')
    await expect(lstat(join(dst, 'usr/lib/firmware'))).rejects.toThrow()
    for (const p of ['bin/suid', 'usr/lib/keep', 'usr/lib', 'bin', '']) expect(Math.floor((await stat(join(dst, p))).mtimeMs / 1000)).toBe(1_500_000_000)
    if (supported) for (const p of ['bin/suid', 'usr/lib', '']) expect(await xattrNames(join(dst, p))).toEqual([])
  })

  test('special files are refused', async () => {
    const src = join(dir, 'fifo-src')
    await mkdir(src)
    await execa('mkfifo', [join(src, 'pipe')])
    await expect(copyTreeClean(src, join(dir, 'fifo-dst'), { what: 'ext' })).rejects.toThrow('special files are not allowed: /pipe')
  })
})

describe('resolveXattrMode', () => {
  test('off, pseudo, on, auto', async () => {
    expect(await resolveXattrMode('off', true, dir)).toEqual({ mode: 'none' })
    expect(await resolveXattrMode('auto', true, dir)).toEqual({ mode: 'pseudo' })
    expect(await resolveXattrMode('on', false, join(dir, 'does-not-matter'))).toEqual({ mode: 'staged' })
    const auto = await resolveXattrMode('auto', false, join(dir, 'missing-dir'))
    expect(auto.mode).toBe('none')
    expect(auto.fallback).toContain('missing-dir')
  })
})
