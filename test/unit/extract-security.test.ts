/**
 * Layer extraction: hostile tarballs (built here, byte by byte) are refused without touching
 * anything outside the target; whiteouts apply across layers; gzip/zstd/plain all work.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { extractLayers, LayerExtractor, resolveInRoot, UnsafeArchiveError } from '../../src/oci/extract.ts'
import { readTar } from '../../src/oci/tar-reader.ts'

// ---------------------------------------------------------------------------------------------
// A tiny tar writer for building test archives (ustar, optional pax / GNU long-name records).

interface Entry {
  name: string
  /** typeflag: 0 file, 1 hardlink, 2 symlink, 3 char, 4 block, 5 dir, 6 fifo, or any other char */
  type?: string
  data?: Uint8Array | string
  linkname?: string
  mode?: number
  mtime?: number
  pax?: Record<string, string>
  /** emit the name through a GNU `L` record instead of the header */
  gnuLongName?: boolean
  /** split the name into ustar prefix + name */
  prefix?: string
}

const te = new TextEncoder()

function octal(buf: Uint8Array, off: number, len: number, value: number): void {
  buf.set(te.encode(value.toString(8).padStart(len - 1, '0')), off)
  buf[off + len - 1] = 0
}

function header(name: string, type: string, size: number, e: Partial<Entry> = {}): Uint8Array {
  const h = new Uint8Array(512)
  h.set(te.encode(name).subarray(0, 100), 0)
  octal(h, 100, 8, e.mode ?? (type === '5' ? 0o755 : 0o644))
  octal(h, 108, 8, 0)
  octal(h, 116, 8, 0)
  octal(h, 124, 12, size)
  octal(h, 136, 12, e.mtime ?? 1_700_000_000)
  h.set(te.encode('        '), 148)
  h[156] = type.charCodeAt(0)
  h.set(te.encode(e.linkname ?? '').subarray(0, 100), 157)
  h.set(te.encode('ustar\u000000'), 257)
  h.set(te.encode('root'), 265)
  h.set(te.encode('root'), 297)
  if (type === '3' || type === '4') {
    octal(h, 329, 8, 1)
    octal(h, 337, 8, 3)
  }
  if (e.prefix) h.set(te.encode(e.prefix), 345)
  let sum = 0
  for (const b of h) sum += b
  h.set(te.encode(`${sum.toString(8).padStart(6, '0')}\u0000 `), 148)
  return h
}

function pad(data: Uint8Array): Uint8Array[] {
  const rest = (512 - (data.byteLength % 512)) % 512
  return [data, new Uint8Array(rest)]
}

function paxRecords(records: Record<string, string>): Uint8Array {
  let out = ''
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`
    let len = te.encode(body).byteLength + 1
    while (String(len).length + te.encode(body).byteLength !== len) len++
    out += `${len}${body}`
  }
  return te.encode(out)
}

function tar(entries: Entry[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const e of entries) {
    const type = e.type ?? '0'
    const data = typeof e.data === 'string' ? te.encode(e.data) : (e.data ?? new Uint8Array(0))
    if (e.pax) {
      const rec = paxRecords(e.pax)
      parts.push(header('PaxHeaders/x', 'x', rec.byteLength), ...pad(rec))
    }
    let name = e.name
    if (e.gnuLongName) {
      const ln = te.encode(`${e.name}\u0000`)
      parts.push(header('././@LongLink', 'L', ln.byteLength), ...pad(ln))
      name = e.name.slice(0, 99)
    }
    parts.push(header(name, type, data.byteLength, e))
    if (data.byteLength > 0) parts.push(...pad(data))
  }
  parts.push(new Uint8Array(1024))
  return Buffer.concat(parts)
}

function stream(bytes: Uint8Array, chunk = 777): ReadableStream<Uint8Array> {
  let off = 0
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= bytes.byteLength) return c.close()
      c.enqueue(bytes.slice(off, off + chunk))
      off += chunk
    },
  })
}

// ---------------------------------------------------------------------------------------------

let base = ''
let root = ''
let outside = ''

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'extract-test-'))
  root = join(base, 'root')
  outside = join(base, 'outside')
  await mkdir(root)
  await mkdir(outside)
  await writeFile(join(outside, 'keep'), 'original')
})

afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

/** Nothing appeared or changed outside the extraction root. */
function assertOutsideUntouched(): void {
  expect(readdirSync(base).sort()).toEqual(['outside', 'root'])
  expect(readdirSync(outside)).toEqual(['keep'])
  expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('original')
}

async function extract(layers: Entry[][], opts = {}) {
  return extractLayers(
    layers.map((l) => stream(tar(l))),
    root,
    opts,
  )
}

async function expectRefused(layers: Entry[][], fragment: string, opts = {}): Promise<void> {
  const err = await extract(layers, opts).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(UnsafeArchiveError)
  expect(err).toBeInstanceOf(InvalidInputError)
  expect((err as Error).message).toContain(fragment)
  assertOutsideUntouched()
}

describe('hostile archives are refused', () => {
  test('path traversal ../x', async () => {
    await expectRefused([[{ name: '../x', data: 'pwned' }]], '".."')
    await expectRefused([[{ name: 'a/../../x', data: 'pwned' }]], '".."')
  })

  test('absolute path /etc/x', async () => {
    await expectRefused([[{ name: '/etc/x', data: 'pwned' }]], 'absolute path')
  })

  test('absolute symlink, then a write through it', async () => {
    await expectRefused([[{ name: 'evil', type: '2', linkname: outside }, { name: 'evil/keep', data: 'pwned' }]], 'is a symlink')
    // the same across layers
    await rm(root, { recursive: true })
    await mkdir(root)
    await expectRefused([[{ name: 'evil', type: '2', linkname: outside }], [{ name: 'evil/new', data: 'pwned' }]], 'is a symlink')
  })

  test('a directory entry through a symlinked parent', async () => {
    await expectRefused([[{ name: 'l', type: '2', linkname: '/' }, { name: 'l/tmp/', type: '5' }]], 'is a symlink')
  })

  test('relative symlink escaping the root', async () => {
    await expectRefused([[{ name: 'a/', type: '5' }, { name: 'a/l', type: '2', linkname: '../../outside' }]], 'escapes the root')
    await expectRefused([[{ name: 'l', type: '2', linkname: '..' }]], 'escapes the root')
    await expectRefused([[{ name: 'a/b/l', type: '2', linkname: 'x/../../../..' }]], 'climbs after descending')
  })

  test('hardlink escaping the root', async () => {
    await expectRefused([[{ name: 'h', type: '1', linkname: '../outside/keep' }]], '".."')
    await expectRefused([[{ name: 'h', type: '1', linkname: join(outside, 'keep') }]], 'absolute path')
  })

  test('hardlink to a symlink is refused (a link must name an extracted regular file)', async () => {
    await expectRefused([[{ name: 's', type: '2', linkname: '/etc/passwd' }, { name: 'h', type: '1', linkname: 's' }]], 'not an extracted regular file')
  })

  test('character and block devices, FIFOs', async () => {
    await expectRefused([[{ name: 'dev/null', type: '3' }]], 'char device')
    await expectRefused([[{ name: 'dev/sda', type: '4' }]], 'block device')
    await expectRefused([[{ name: 'pipe', type: '6' }]], 'FIFO')
  })

  test('unknown entry types (GNU sparse)', async () => {
    await expectRefused([[{ name: 'sparse', type: 'S', data: 'x' }]], 'unsupported tar entry type')
  })

  test('absolute symlinks can be refused by option', async () => {
    await expectRefused([[{ name: 'l', type: '2', linkname: '/usr/lib' }]], 'absolute symlink', { absoluteSymlinks: 'refuse' })
  })

  test('a corrupt header checksum is refused', async () => {
    const bytes = tar([{ name: 'f', data: 'x' }])
    bytes[0] = 'g'.charCodeAt(0)
    const err = await extractLayers([stream(bytes)], root).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toContain('checksum')
  })

  test('a truncated archive is refused', async () => {
    const bytes = tar([{ name: 'f', data: 'x'.repeat(2000) }]).subarray(0, 1200)
    await expect(extractLayers([stream(bytes)], root)).rejects.toThrow('truncated')
  })
})

describe('safe behaviour', () => {
  test('a file replacing a symlink replaces the link, never writes through it', async () => {
    await extract([[{ name: 'f', type: '2', linkname: join(outside, 'keep') }], [{ name: 'f', data: 'new content' }]])
    assertOutsideUntouched()
    expect(lstatSync(join(root, 'f')).isFile()).toBe(true)
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('new content')
  })

  test('whiting out a symlink to a directory removes the link only', async () => {
    await extract([[{ name: 'link', type: '2', linkname: outside }], [{ name: '.wh.link' }]])
    assertOutsideUntouched()
    expect(readdirSync(root)).toEqual([])
  })

  test('removing a directory that holds a link to outside does not follow the link', async () => {
    await extract([[{ name: 'd/link', type: '2', linkname: outside }, { name: 'd/f', data: 'x' }], [{ name: '.wh.d' }]])
    assertOutsideUntouched()
    await rm(root, { recursive: true })
    await mkdir(root)
    await extract([[{ name: 'd/link', type: '2', linkname: outside }], [{ name: 'd/.wh..wh..opq' }]])
    assertOutsideUntouched()
    expect(readdirSync(join(root, 'd'))).toEqual([])
    await rm(root, { recursive: true })
    await mkdir(root)
    await extract([[{ name: 'd/link', type: '2', linkname: outside }], [{ name: 'd', data: 'file replaces dir' }]])
    assertOutsideUntouched()
  })

  test('a hardlink to a missing source is refused and creates nothing', async () => {
    await expectRefused([[{ name: 'h', type: '1', linkname: 'no/such/file' }]], 'not an extracted regular file')
    expect(readdirSync(root)).toEqual([])
  })

  test('special files can be skipped by option', async () => {
    await extract([[{ name: 'dev/null', type: '3' }, { name: 'pipe', type: '6' }, { name: 'ok', data: 'y' }]], { specialFiles: 'skip' })
    expect(readdirSync(root).sort()).toEqual(['ok'])
  })

  test('resolveInRoot keeps absolute links inside the root', async () => {
    await extract([[{ name: 'usr/lib/real', data: 'lib' }, { name: 'lib', type: '2', linkname: '/usr/lib' }, { name: 'esc', type: '2', linkname: '/../../../usr/lib/real' }]])
    expect(await resolveInRoot(root, 'lib/real')).toBe(join(root, 'usr/lib/real'))
    expect(await resolveInRoot(root, 'esc')).toBe(join(root, 'usr/lib/real'))
    await expect(resolveInRoot(root, 'lib/missing')).rejects.toThrow('not found')
  })
})

describe('extraction', () => {
  const content: Entry[] = [
    { name: './', type: '5' },
    { name: './bin/', type: '5', mode: 0o755 },
    { name: './bin/tool', data: '#!/bin/sh\necho hi\n', mode: 0o4755, mtime: 1_600_000_000 },
    { name: './bin/alias', type: '2', linkname: 'tool' },
    { name: './bin/hard', type: '1', linkname: './bin/tool' },
    { name: './usr/share/doc/', type: '5', mode: 0o555 },
    { name: './usr/share/doc/readme', data: 'r'.repeat(5000) },
    { name: './usr/lib/up', type: '2', linkname: '../../bin/tool' },
    { name: 'x'.repeat(120), data: 'pax long name', pax: { path: `long/${'y'.repeat(150)}` } },
    { name: `gnu/${'z'.repeat(130)}`, data: 'gnu long name', gnuLongName: true },
    { name: 'file-in-prefix', prefix: 'some/prefix/dir', data: 'prefixed' },
    { name: 'labelled', data: 'l', pax: { 'SCHILY.xattr.security.selinux': 'system_u:object_r:bin_t:s0' } },
    { name: './shared/', type: '5', mode: 0o3775 },
    { name: './shared/sgid-tool', data: 'g', mode: 0o2711 },
  ]

  for (const [label, compress] of [
    ['plain', (b: Uint8Array) => b],
    ['gzip', (b: Uint8Array) => Bun.gzipSync(new Uint8Array(b))],
    ['zstd', (b: Uint8Array) => Bun.zstdCompressSync(new Uint8Array(b))],
  ] as const) {
    test(`${label} layer`, async () => {
      const res = await extractLayers([stream(compress(tar(content)))], root)
      expect(readFileSync(join(root, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n')
      const st = statSync(join(root, 'bin/tool'))
      expect(st.mode & 0o7777).toBe(0o4755) // setuid kept (the reference keeps it)
      expect(statSync(join(root, 'shared/sgid-tool')).mode & 0o7777).toBe(0o2711)
      expect(statSync(join(root, 'shared')).mode & 0o7777).toBe(0o3775) // setgid + sticky directory
      expect(Math.floor(st.mtimeMs / 1000)).toBe(1_600_000_000)
      expect(readlinkSync(join(root, 'bin/alias'))).toBe('tool')
      expect(statSync(join(root, 'bin/hard')).ino).toBe(st.ino)
      expect(statSync(join(root, 'usr/share/doc')).mode & 0o777).toBe(0o755) // u+rwx added
      expect(readFileSync(join(root, 'usr/share/doc/readme'), 'utf8')).toBe('r'.repeat(5000))
      expect(readlinkSync(join(root, 'usr/lib/up'))).toBe('../../bin/tool')
      expect(readFileSync(join(root, 'long', 'y'.repeat(150)), 'utf8')).toBe('pax long name')
      expect(readFileSync(join(root, 'gnu', 'z'.repeat(130)), 'utf8')).toBe('gnu long name')
      expect(readFileSync(join(root, 'some/prefix/dir/file-in-prefix'), 'utf8')).toBe('prefixed')
      expect(res.selinuxLabels.get('labelled')).toBe('system_u:object_r:bin_t:s0')
      assertOutsideUntouched()
    })
  }

  test('whiteouts apply across layers (plain and opaque)', async () => {
    await extract([
      [
        { name: 'a/1', data: '1' },
        { name: 'a/2', data: '2' },
        { name: 'b/x', data: 'x' },
        { name: 'c/deep/y', data: 'y' },
        { name: 'c/z', data: 'z' },
        { name: 'd/keep', data: 'k' },
      ],
      [
        { name: 'a/.wh.1' },
        { name: '.wh.b' },
        { name: 'c/', type: '5' },
        { name: 'c/.wh..wh..opq' },
        { name: 'c/new', data: 'new' },
        { name: 'd/.wh.missing' },
      ],
      [{ name: 'b/again', data: 'back' }],
    ])
    expect(readdirSync(join(root, 'a'))).toEqual(['2'])
    expect(readdirSync(join(root, 'b'))).toEqual(['again'])
    expect(readdirSync(join(root, 'c'))).toEqual(['new'])
    expect(readdirSync(join(root, 'd'))).toEqual(['keep'])
    expect(existsSync(join(root, 'a/.wh.1'))).toBe(false)
  })

  test('a whiteout under a missing directory creates nothing', async () => {
    await extract([[{ name: 'f', data: 'x' }], [{ name: 'nope/deeper/.wh.thing' }, { name: 'gone/.wh..wh..opq' }]])
    expect(readdirSync(root)).toEqual(['f'])
  })

  test('opaque whiteout keeps what the same layer wrote, even before the marker', async () => {
    await extract([[{ name: 'c/old', data: 'o' }, { name: 'c/sub/old', data: 'o' }], [{ name: 'c/sub/new', data: 'n' }, { name: 'c/.wh..wh..opq' }]])
    expect(readdirSync(join(root, 'c'))).toEqual(['sub'])
    expect(readdirSync(join(root, 'c/sub'))).toEqual(['new'])
  })

  test('a later layer replaces a directory with a file and a file with a directory', async () => {
    await extract([[{ name: 'p/q', data: '1' }, { name: 'f', data: 'file' }], [{ name: 'p', data: 'now a file' }, { name: 'f/', type: '5' }, { name: 'f/inner', data: 'i' }]])
    expect(readFileSync(join(root, 'p'), 'utf8')).toBe('now a file')
    expect(readdirSync(join(root, 'f'))).toEqual(['inner'])
  })

  test('an input stream that fails (e.g. digest mismatch) fails the extraction', async () => {
    const bytes = tar([{ name: 'f', data: 'x'.repeat(10_000) }])
    let sent = false
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          sent = true
          c.enqueue(bytes.subarray(0, 4096))
        } else c.error(new Error('blob digest mismatch'))
      },
    })
    await expect(new LayerExtractor(root).applyLayer(failing)).rejects.toThrow('blob digest mismatch')
  })

  test('readTar drains the input after the end marker', async () => {
    let pulledToEnd = false
    const bytes = Buffer.concat([tar([{ name: 'f', data: 'x' }]), new Uint8Array(4096)])
    let off = 0
    const s = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= bytes.byteLength) {
          pulledToEnd = true
          return c.close()
        }
        c.enqueue(bytes.subarray(off, off + 512))
        off += 512
      },
    })
    const names: string[] = []
    for await (const e of readTar(s)) names.push(e.path)
    expect(names).toEqual(['f'])
    expect(pulledToEnd).toBe(true)
  })
})
