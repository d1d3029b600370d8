/**
 * Tar writer + OCI layout writer, checked with real readers: GNU tar, Python's tarfile (PAX
 * records), gzip, skopeo (oci: transport) and umoci (unpack).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm, writeFile, readlink, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_TAR_MTIME, TarWriteError, normalizeTarPath, tarToBytes, withParentDirs, type TarEntry } from '../../src/oci/tar-writer.ts'
import { OciLayoutWriter, gzipChunks } from '../../src/oci/layout-writer.ts'

const dirs: string[] = []
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'oci-writers-'))
  dirs.push(d)
  return d
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

function run(cmd: string[], stdin?: Uint8Array): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(cmd, { stdin: stdin ?? 'ignore', stdout: 'pipe', stderr: 'pipe' })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

const longDir = 'usr/lib/' + 'a-very-long-directory-name-'.repeat(5)
const longName = 'n'.repeat(120)

function sampleEntries(sourceFile: string): TarEntry[] {
  return withParentDirs([
    { type: 'file', path: 'rootfs/usr/local/bin/tool', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { type: 'file', path: 'manifest.yaml', data: 'version: v1alpha1\n' },
    { type: 'symlink', path: 'rootfs/usr/local/bin/alias', target: 'tool' },
    { type: 'file', path: `${longDir}/file.txt`, data: 'prefix split' },
    { type: 'file', path: `deep/${longName}`, data: 'needs pax path' },
    { type: 'file', path: 'streamed.bin', source: sourceFile },
    {
      type: 'file',
      path: 'rootfs/usr/local/etc/talos/config.yaml',
      data: 'machine: {}\n',
      mode: 0o400,
      pax: { 'SCHILY.xattr.security.selinux': 'system_u:object_r:system_state_t:s0' },
    },
    { type: 'dir', path: 'emptydir', mode: 0o700 },
  ])
}

describe('tar writer', () => {
  test('paths are normalised and unsafe ones rejected', () => {
    expect(normalizeTarPath('./a/b/')).toBe('a/b')
    expect(normalizeTarPath('/a')).toBe('a')
    expect(() => normalizeTarPath('a/../b')).toThrow(TarWriteError)
    expect(() => normalizeTarPath('')).toThrow(TarWriteError)
    expect(() => withParentDirs([{ type: 'file', path: 'x' }, { type: 'file', path: 'x' }])).toThrow(TarWriteError)
    expect(() => withParentDirs([{ type: 'file', path: 'x' }, { type: 'file', path: 'x/y' }])).toThrow(TarWriteError)
  })

  test('parents are added and entries sorted in C byte order', () => {
    const e = withParentDirs([
      { type: 'file', path: 'b/z' },
      { type: 'file', path: 'a-c' },
      { type: 'file', path: 'a/b' },
    ])
    expect(e.map((x) => `${x.type}:${x.path}`)).toEqual(['dir:a', 'file:a-c', 'file:a/b', 'dir:b', 'file:b/z'])
  })

  test('GNU tar and Python tarfile read it back exactly; output is byte-stable', async () => {
    const d = await tmp()
    const src = join(d, 'src.bin')
    const payload = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff)
    await writeFile(src, payload)
    const bytes = await tarToBytes(sampleEntries(src))
    expect(bytes.length % 512).toBe(0)
    const again = await tarToBytes(sampleEntries(src))
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(again))).toBe(0)

    const tarFile = join(d, 't.tar')
    await writeFile(tarFile, bytes)
    const list = run(['tar', '--numeric-owner', '--full-time', '-tvf', tarFile])
    expect(list.code).toBe(0)
    expect(list.out).toContain('-rwxr-xr-x 0/0')
    expect(list.out).toContain('rootfs/usr/local/bin/alias -> tool')
    expect(list.out).toContain(`deep/${longName}`)
    expect(list.out).toContain(`${longDir}/file.txt`)
    expect(list.out).toContain('2019-06-01 21:34:52')
    expect(list.out).toContain('drwx------ 0/0')
    expect(list.out).not.toContain('PaxHeaders')

    const out = join(d, 'x')
    expect(run(['mkdir', '-p', out]).code).toBe(0)
    expect(run(['tar', '-xf', tarFile, '-C', out]).code).toBe(0)
    expect(new Uint8Array(await readFile(join(out, 'streamed.bin')))).toEqual(payload)
    expect(await readFile(join(out, 'deep', longName), 'utf8')).toBe('needs pax path')
    expect(await readlink(join(out, 'rootfs/usr/local/bin/alias'))).toBe('tool')
    expect((await stat(join(out, 'rootfs/usr/local/bin/tool'))).mode & 0o777).toBe(0o755)
    expect(Math.floor((await stat(join(out, 'manifest.yaml'))).mtimeMs / 1000)).toBe(DEFAULT_TAR_MTIME)

    const py = run([
      'python3',
      '-c',
      [
        'import tarfile,sys,json',
        't=tarfile.open(sys.argv[1])',
        'print(json.dumps({m.name: [m.type.decode(), oct(m.mode), m.uid, m.gid, m.mtime, m.pax_headers] for m in t.getmembers()}))',
      ].join('\n'),
      tarFile,
    ])
    expect(py.code).toBe(0)
    const members = JSON.parse(py.out) as Record<string, [string, string, number, number, number, Record<string, string>]>
    const cfg = members['rootfs/usr/local/etc/talos/config.yaml']
    expect(cfg?.[1]).toBe('0o400')
    expect(cfg?.[5]['SCHILY.xattr.security.selinux']).toBe('system_u:object_r:system_state_t:s0')
    expect(members['emptydir']?.[0]).toBe('5')
    expect(Object.values(members).every((m) => m[2] === 0 && m[3] === 0 && m[4] === DEFAULT_TAR_MTIME)).toBe(true)
  })
})

describe('OCI layout writer', () => {
  test('gzip stream is valid, stable and has a fixed header', async () => {
    const data = new TextEncoder().encode('hello '.repeat(10_000))
    async function* src(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 1000)
      yield data.subarray(1000)
    }
    const parts: Uint8Array[] = []
    for await (const c of gzipChunks(src(), 6)) parts.push(c)
    const gz = Buffer.concat(parts)
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
    expect(Buffer.from(Bun.gunzipSync(gz)).toString()).toBe('hello '.repeat(10_000))
    const d = await tmp()
    await writeFile(join(d, 'a.gz'), gz)
    expect(run(['gzip', '-t', join(d, 'a.gz')]).code).toBe(0)
  })

  test('multi-arch image readable by skopeo and umoci; digests reproducible', async () => {
    async function build(dir: string): Promise<string> {
      const w = await OciLayoutWriter.open(dir)
      const layer = await w.writeLayer(
        withParentDirs([
          { type: 'file', path: 'usr/bin/hello', data: '#!/bin/sh\necho hello\n', mode: 0o755 },
          { type: 'file', path: 'etc/marker', data: 'marker\n' },
        ]),
      )
      const plain = await w.writeLayer([{ type: 'file', path: 'extra.txt', data: 'x' }], { compression: 'none' })
      const manifests = []
      for (const architecture of ['amd64', 'arm64']) {
        manifests.push(
          await w.writeImage({
            config: { platform: { os: 'linux', architecture }, entrypoint: ['/usr/bin/hello'], env: ['VERSION=v0'], labels: { b: '2', a: '1' } },
            layers: [layer, plain],
          }),
        )
      }
      const index = await w.writeIndex(manifests)
      w.tag('v1.0.0', index)
      w.tag('amd64-only', manifests[0]!)
      await w.close()
      return index.digest
    }
    const a = await tmp()
    const b = await tmp()
    const da = await build(a)
    expect(await build(b)).toBe(da)
    // reopening keeps refs
    const again = await OciLayoutWriter.open(a)
    expect(again.listRefs().map((r) => r.name)).toEqual(['amd64-only', 'v1.0.0'])

    const raw = run(['skopeo', 'inspect', '--raw', `oci:${a}:v1.0.0`])
    expect(raw.code).toBe(0)
    const idx = JSON.parse(raw.out) as { manifests: { platform: { architecture: string } }[] }
    expect(idx.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64'])
    const arm = run(['skopeo', 'inspect', '--override-arch', 'arm64', `oci:${a}:v1.0.0`])
    expect(arm.code).toBe(0)
    expect((JSON.parse(arm.out) as { Architecture: string }).Architecture).toBe('arm64')

    const bundle = join(await tmp(), 'bundle')
    const un = run(['umoci', 'unpack', '--rootless', '--image', `${a}:amd64-only`, bundle])
    expect(un.err).toBe('')
    expect(un.code).toBe(0)
    expect(await readFile(join(bundle, 'rootfs/usr/bin/hello'), 'utf8')).toContain('echo hello')
    expect(await readFile(join(bundle, 'rootfs/extra.txt'), 'utf8')).toBe('x')
  })
})
