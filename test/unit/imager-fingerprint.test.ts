import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { copyTreeDereferenced, fingerprintTree } from '../../builder/imager/fs-tree.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imager-fp-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function tree(name: string, opts: { content?: string; mode?: number; mtime?: number } = {}): Promise<string> {
  const root = join(dir, name)
  await mkdir(join(root, 'rootfs/usr/local/share'), { recursive: true })
  await writeFile(join(root, 'manifest.yaml'), 'version: v1alpha1\n')
  await writeFile(join(root, 'rootfs/usr/local/share/file'), opts.content ?? 'data')
  await chmod(join(root, 'rootfs/usr/local/share/file'), opts.mode ?? 0o644)
  await symlink('file', join(root, 'rootfs/usr/local/share/link'))
  if (opts.mtime !== undefined) await utimes(join(root, 'rootfs/usr/local/share/file'), opts.mtime, opts.mtime)
  return root
}

describe('directory fingerprint (cache identity of directory inputs)', () => {
  test('the same small tree written again elsewhere, at another time, has the same fingerprint', async () => {
    const a = await fingerprintTree(await tree('a', { mtime: 1000 }))
    const b = await fingerprintTree(await tree('b', { mtime: 2000 }))
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
  })
  test('content and mode changes change it', async () => {
    const base = await fingerprintTree(await tree('c'))
    expect(await fingerprintTree(await tree('d', { content: 'other' }))).not.toBe(base)
    expect(await fingerprintTree(await tree('e', { mode: 0o755 }))).not.toBe(base)
  })
})

describe('dereferencing copy (firmware/modules)', () => {
  test('symlinks become copies of their targets, resolved inside the extension root', async () => {
    const root = join(dir, 'deref')
    await mkdir(join(root, 'lib/firmware/a'), { recursive: true })
    await mkdir(join(root, 'shared'), { recursive: true })
    await writeFile(join(root, 'shared/blob'), 'blob')
    await writeFile(join(root, 'lib/firmware/a/own'), 'own')
    // an absolute target means <root>/shared/blob, never the host's /shared/blob
    await symlink('/shared/blob', join(root, 'lib/firmware/a/abs'))
    await symlink('../../../shared', join(root, 'lib/firmware/dirlink'))
    const out = join(dir, 'deref-out')
    const res = await copyTreeDereferenced(root, 'lib/firmware', out, { what: 'test', skip: new Set(['lib/firmware/a/own']) })
    expect(res.entries.map((e) => `${e.kind}:${e.path}`)).toEqual(['dir:a', 'file:a/abs', 'dir:dirlink', 'file:dirlink/blob'])
    expect(await readFile(join(out, 'a/abs'), 'utf8')).toBe('blob')
    expect(await readFile(join(out, 'dirlink/blob'), 'utf8')).toBe('blob')
  })
  test('a dangling symlink is an error', async () => {
    const root = join(dir, 'dangling')
    await mkdir(join(root, 'fw'), { recursive: true })
    await symlink('nope', join(root, 'fw/x'))
    await expect(copyTreeDereferenced(root, 'fw', join(dir, 'dangling-out'), { what: 'ext' })).rejects.toThrow('ext: /fw/x does not exist (dangling symlink?)')
  })
})
