/**
 * Running an overlay's installer (imager-spec §9.1): `get-options` with overlay.options on stdin
 * (kernel args, partition offset), `install` with the install options; a clean environment, a
 * scratch directory, no network where namespaces allow it, timeouts, one-line errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { InvalidInputError } from '../../src/errors.ts'
import { ImagerToolError } from '../../builder/imager/errors.ts'
import { mergeInto, networkIsolationAvailable, prepareOverlay, runOverlayInstall } from '../../builder/imager/overlay.ts'
import { parseProfile } from '../../builder/imager/profile.ts'

let dir: string

const INSTALLER = `#!/bin/sh
set -eu
in=$(cat)
case "$1" in
  get-options)
    printf '%s' "$in" > "$PWD/get-options.stdin"
    env > "$PWD/env.txt"
    cat /proc/net/dev > "$PWD/net.txt"
    case "$in" in
      *fail*) echo "first line" >&2; echo "boom: bad option" >&2; exit 3 ;;
      *hang*) sleep 30 ;;
      *badoffset*) printf 'name: x\\npartitionOptions:\\n  offset: -1\\n'; exit 0 ;;
      *notyaml*) printf 'kernelArgs: [unclosed\\n'; exit 0 ;;
    esac
    printf 'name: test\\nkernelArgs:\\n  - console=ttyAMA0,115200\\n  - foo=bar\\npartitionOptions:\\n  offset: 2048\\n'
    ;;
  install)
    printf '%s' "$in" > "$PWD/install.stdin"
    prefix=$(printf '%s\\n' "$in" | sed -n 's/^mountPrefix: //p')
    mkdir -p "$prefix/boot/EFI"
    echo fw > "$prefix/boot/EFI/fw.bin"
    ;;
esac
`

function profileFor(root: string, options: Record<string, unknown> = {}): ReturnType<typeof parseProfile> {
  return parseProfile(
    YAML.stringify({
      arch: 'arm64',
      platform: 'metal',
      version: 'v1.12.0',
      overlay: { name: 'board', image: { imageRef: 'x', tarballPath: root }, options },
      output: { kind: 'cmdline', outFormat: 'raw' },
    }),
  )
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'overlay-'))
  await mkdir(join(dir, 'image/installers'), { recursive: true })
  await mkdir(join(dir, 'image/artifacts'), { recursive: true })
  await writeFile(join(dir, 'image/installers/board'), INSTALLER)
  await chmod(join(dir, 'image/installers/board'), 0o755)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('get-options', () => {
  test('kernel args and offset come back; options arrive as YAML; the environment is clean', async () => {
    process.env.OVERLAY_TEST_SECRET = 'do-not-leak'
    const work = join(dir, 'w1')
    try {
      const o = await prepareOverlay(profileFor(join(dir, 'image'), { configTxtAppend: 'dtoverlay=x' }), work)
      expect(o).toMatchObject({ name: 'board', kernelArgs: ['console=ttyAMA0,115200', 'foo=bar'], partitionOffset: 2048, artifactsPath: join(dir, 'image/artifacts') })
      expect(await readFile(join(work, 'overlay-run/get-options.stdin'), 'utf8')).toBe('configTxtAppend: dtoverlay=x')
      const env = await readFile(join(work, 'overlay-run/env.txt'), 'utf8')
      expect(env).not.toContain('OVERLAY_TEST_SECRET')
      expect(env).toContain(`HOME=${join(work, 'overlay-run')}`)
    } finally {
      delete process.env.OVERLAY_TEST_SECRET
    }
  })

  test('no options: an empty mapping', async () => {
    const work = join(dir, 'w2')
    await prepareOverlay(profileFor(join(dir, 'image')), work)
    expect(await readFile(join(work, 'overlay-run/get-options.stdin'), 'utf8')).toBe('{}')
  })

  test('no network inside (when user namespaces are available)', async () => {
    if (!(await networkIsolationAvailable())) return
    const work = join(dir, 'w3')
    await prepareOverlay(profileFor(join(dir, 'image')), work)
    const ifaces = (await readFile(join(work, 'overlay-run/net.txt'), 'utf8')).split('\n').slice(2).filter((l) => l.trim() !== '').map((l) => l.trim().split(':')[0])
    expect(ifaces).toEqual(['lo'])
  })

  test('failures are one-line tool errors naming the installer; bad answers are rejected', async () => {
    const root = join(dir, 'image')
    await expect(prepareOverlay(profileFor(root, { fail: true }), join(dir, 'w4'))).rejects.toThrow(new ImagerToolError('overlay installer board get-options failed: boom: bad option'))
    await expect(prepareOverlay(profileFor(root, { badoffset: true }), join(dir, 'w5'))).rejects.toThrow('partitionOptions.offset must be an integer')
    await expect(prepareOverlay(profileFor(root, { notyaml: true }), join(dir, 'w6'))).rejects.toThrow('printed invalid YAML')
    await expect(prepareOverlay(profileFor(root, { hang: true }), join(dir, 'w7'), undefined, 1000)).rejects.toThrow('overlay installer board get-options timed out after 1 s')
  }, 60_000)

  test('a missing installer is bad input', async () => {
    await mkdir(join(dir, 'empty'), { recursive: true })
    await expect(prepareOverlay(profileFor(join(dir, 'empty')), join(dir, 'w8'))).rejects.toThrow(InvalidInputError)
  })

  test('no overlay: nothing runs', async () => {
    expect(await prepareOverlay(parseProfile('arch: amd64\nplatform: metal\nversion: v1.12.0\noutput: {kind: cmdline}\n'), join(dir, 'w9'))).toBeNull()
  })
})

describe('install', () => {
  test('gets the disk, the mount prefix, the artifacts and the options; writes into the prefix', async () => {
    const work = join(dir, 'w10')
    const o = (await prepareOverlay(profileFor(join(dir, 'image'), { a: 1, b: true, c: 'true', d: null, e: ['x'] }), work))!
    const prefix = join(work, 'stage')
    await mkdir(prefix, { recursive: true })
    await runOverlayInstall(o, join(work, 'disk.raw'), prefix)
    expect(YAML.parse(await readFile(join(work, 'overlay-run/install.stdin'), 'utf8'))).toEqual({
      installDisk: join(work, 'disk.raw'),
      mountPrefix: prefix,
      artifactsPath: join(dir, 'image/artifacts'),
      extraOptions: { a: 1, b: true, c: 'true', d: null, e: ['x'] },
    })
    expect(await readFile(join(prefix, 'boot/EFI/fw.bin'), 'utf8')).toBe('fw\n')
  })

  test('mergeInto moves boot/EFI to the ESP staging root, merging directories', async () => {
    const src = join(dir, 'm/boot/EFI')
    const dst = join(dir, 'm/EFI')
    await mkdir(join(src, 'EFI/extra'), { recursive: true })
    await mkdir(join(dst, 'EFI/boot'), { recursive: true })
    await writeFile(join(src, 'config.txt'), 'c')
    await writeFile(join(src, 'EFI/extra/x'), 'x')
    await writeFile(join(dst, 'EFI/boot/BOOTAA64.efi'), 'g')
    await mergeInto(src, dst)
    expect((await readdir(dst)).sort()).toEqual(['EFI', 'config.txt'])
    expect((await readdir(join(dst, 'EFI'))).sort()).toEqual(['boot', 'extra'])
    expect((await readdir(join(dir, 'm/boot')))).toEqual([])
  })
})
