import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, utimes, writeFile, lutimes, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { orderDepthFirst, readNewc, writeNewc, type CpioEntry } from '../../builder/imager/cpio.ts'

const EPOCH = 1559424892

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(new Uint8Array(c))
  return new Uint8Array(Buffer.concat(parts))
}

async function* once(b: Uint8Array, chunk = 7): AsyncGenerator<Uint8Array> {
  // deliberately tiny chunks: the reader must reassemble headers across chunk boundaries
  for (let i = 0; i < b.byteLength; i += chunk) yield b.subarray(i, i + chunk)
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imager-cpio-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('newc writer', () => {
  test('produces the same bytes as GNU cpio --reproducible -R +0:+0 for the same tree', async () => {
    const stage = join(dir, 'stage')
    const files: Record<string, string> = {
      '0.sqsh': 'a'.repeat(1000),
      '10.sqsh': 'ten',
      '1.sqsh': 'one!',
      'extensions.yaml': 'layers: []\n',
      'usr/lib/firmware/x/blob.bin': 'xyz',
      'usr/lib/firmware/empty': '',
      'usr/lib-foo/z': 'z',
    }
    for (const [p, data] of Object.entries(files)) {
      await mkdir(join(stage, p, '..'), { recursive: true })
      await writeFile(join(stage, p), data)
    }
    await mkdir(join(stage, 'usr/lib/firmware/emptydir'), { recursive: true })
    await chmod(join(stage, 'usr/lib/firmware/x/blob.bin'), 0o600)
    await symlink('x/blob.bin', join(stage, 'usr/lib/firmware/link'))

    // walk the stage into entries
    const entries: CpioEntry[] = []
    const walk = async (rel: string): Promise<void> => {
      const { readdir } = await import('node:fs/promises')
      for (const n of await readdir(join(stage, rel))) {
        const r = rel === '' ? n : `${rel}/${n}`
        const st = await lstat(join(stage, r))
        if (st.isDirectory()) {
          entries.push({ kind: 'dir', name: r, mode: st.mode & 0o7777 })
          await walk(r)
        } else if (st.isSymbolicLink()) {
          entries.push({ kind: 'symlink', name: r, target: await readlink(join(stage, r)) })
        } else {
          const data = await readFile(join(stage, r))
          entries.push({ kind: 'file', name: r, mode: st.mode & 0o7777, size: data.byteLength, data: () => [data] })
        }
      }
    }
    await walk('')
    const ordered = orderDepthFirst(entries)
    for (const e of ordered) await lutimes(join(stage, e.name), EPOCH, EPOCH)

    const ours = await collect(writeNewc(ordered, { mtime: EPOCH }))
    const gnu = await execa('cpio', ['-H', 'newc', '--create', '--reproducible', '--quiet', '-R', '+0:+0'], {
      cwd: stage,
      input: ordered.map((e) => `${e.name}\n`).join(''),
      encoding: 'buffer',
    })
    expect(Buffer.from(ours).equals(Buffer.from(gnu.stdout))).toBe(true)
    expect(ours.byteLength % 512).toBe(0)
  })

  test('orders parents first and siblings bytewise (Go walk order, not a global path sort)', () => {
    const names = ['usr/lib-foo', 'usr', 'usr/lib', 'usr/lib/x', '10.sqsh', '1.sqsh', '2.sqsh', 'extensions.yaml', 'modules.dep.sqsh', 'B', 'a']
    const ordered = orderDepthFirst(names.map((name) => ({ name })))
    expect(ordered.map((e) => e.name)).toEqual(['1.sqsh', '10.sqsh', '2.sqsh', 'B', 'a', 'extensions.yaml', 'modules.dep.sqsh', 'usr', 'usr/lib', 'usr/lib/x', 'usr/lib-foo'])
  })

  test('refuses entries without their parent directory', () => {
    expect(() => orderDepthFirst([{ name: 'a/b' }])).toThrow()
  })

  test('fails when a body is shorter than announced', async () => {
    const entries: CpioEntry[] = [{ kind: 'file', name: 'f', mode: 0o644, size: 10, data: () => [new Uint8Array(3)] }]
    await expect(collect(writeNewc(entries, { mtime: EPOCH }))).rejects.toThrow(/changed size/)
  })
})

describe('newc reader', () => {
  test('reads back entries, bodies, modes and mtimes across tiny chunks', async () => {
    const body = new TextEncoder().encode('hello world\n')
    const entries: CpioEntry[] = [
      { kind: 'dir', name: 'd', mode: 0o755 },
      { kind: 'file', name: 'd/f', mode: 0o640, size: body.byteLength, data: () => [body] },
      { kind: 'symlink', name: 'd/l', target: 'f' },
    ]
    const bytes = await collect(writeNewc(entries, { mtime: EPOCH }))
    const seen: { name: string; mode: number; mtime: number; text: string }[] = []
    for await (const e of readNewc(once(bytes))) {
      const data = await collect(e.body())
      seen.push({ name: e.name, mode: e.mode, mtime: e.mtime, text: new TextDecoder().decode(data) })
    }
    expect(seen).toEqual([
      { name: 'd', mode: 0o040755, mtime: EPOCH, text: '' },
      { name: 'd/f', mode: 0o100640, mtime: EPOCH, text: 'hello world\n' },
      { name: 'd/l', mode: 0o120777, mtime: EPOCH, text: 'f' },
    ])
  })

  test('walks concatenated archives with zero padding between them, skipping unread bodies', async () => {
    const a = await collect(writeNewc([{ kind: 'file', name: 'init', mode: 0o755, size: 3, data: () => [new Uint8Array([1, 2, 3])] }], { mtime: EPOCH }))
    const big = new Uint8Array(5000).fill(7)
    const b = await collect(writeNewc([{ kind: 'file', name: 'rootfs.sqsh', mode: 0o644, size: big.byteLength, data: () => [big] }], { mtime: EPOCH }))
    const joined = new Uint8Array([...a, ...new Uint8Array(512), ...b])
    const names: string[] = []
    let rootfs: Uint8Array | null = null
    for await (const e of readNewc(once(joined, 333))) {
      names.push(e.name)
      if (e.name === 'rootfs.sqsh') rootfs = await collect(e.body())
    }
    expect(names).toEqual(['init', 'rootfs.sqsh'])
    expect(rootfs).toEqual(big)
  })

  test('parses GNU cpio output and rejects garbage', async () => {
    const stage = join(dir, 'gnu')
    await mkdir(join(stage, 'sub'), { recursive: true })
    await writeFile(join(stage, 'sub/file'), 'content')
    await utimes(join(stage, 'sub/file'), EPOCH, EPOCH)
    const gnu = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: stage, input: 'sub\nsub/file\n', encoding: 'buffer' })
    const names: string[] = []
    for await (const e of readNewc(once(new Uint8Array(gnu.stdout), 64))) {
      names.push(e.name)
      if (e.name === 'sub/file') {
        expect(new TextDecoder().decode(await collect(e.body()))).toBe('content')
        expect(e.mtime).toBe(EPOCH)
      }
    }
    expect(names).toEqual(['sub', 'sub/file'])
    const consume = async (): Promise<void> => {
      for await (const _ of readNewc(once(new TextEncoder().encode('not a cpio archive at all, sorry.....'.repeat(5))))) void _
    }
    await expect(consume()).rejects.toThrow(/not a newc cpio archive/)
  })
})
