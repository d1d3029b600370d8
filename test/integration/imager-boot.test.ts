/**
 * One real boot (QEMU TCG, direct kernel) of an initramfs built by the native imager from the mini
 * release: the kernel must unpack all three archives (microcode cpio, base, extensions cpio), and
 * the mini init must see extensions.yaml, mount every squashfs layer, and find the firmware and
 * microcode files.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runImager, writeSchematicExtension } from '../../builder/imager/index.ts'
import { ensureMiniRelease, profileYaml, type MiniRelease } from '../helpers/mini-release.ts'
import { BOOT_FAILURE_PATTERNS, bootQemu, directBootArgs, markerLines } from '../helpers/qemu.ts'

const ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

let mini: MiniRelease
let work: string

beforeAll(async () => {
  mini = await ensureMiniRelease('modern')
  work = await mkdtemp(join(tmpdir(), 'imager-boot-'))
}, 300_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

test('the kernel boots the extension initramfs and init sees every layer, the firmware and the microcode', async () => {
  const schematic = join(work, 'schematic')
  await writeSchematicExtension(schematic, { id: ID, canonicalYaml: 'customization: {}\n', externalUrl: 'https://factory.talos.dev/', version: mini.version })
  const initrd = join(work, 'initramfs.xz')
  const result = await runImager(
    profileYaml({
      kind: 'initramfs',
      version: mini.version,
      initramfs: mini.initramfs,
      extensions: [mini.extensions.ucode, mini.extensions.firmware, mini.extensions.module, mini.extensions.plain, schematic],
      embeddedConfig: 'version: v1alpha1\n',
    }),
    { output: initrd, cacheDir: join(work, 'cache'), workDir: work },
  )
  expect(result.initramfs?.layers).toEqual(['0.sqsh', '1.sqsh', '2.sqsh', '3.sqsh', '4.sqsh', '5.sqsh', 'modules.dep.sqsh'])

  const boot = await bootQemu({
    args: directBootArgs({ kernel: mini.vmlinuz, initrd, append: 'console=ttyS0 panic=-1' }),
    timeoutMs: 150_000,
    marker: 'MINI-DONE',
    killOnMarker: 3000,
    logFile: join(work, 'boot.log'),
  })
  expect(boot.timedOut).toBe(false)
  expect(boot.markerSeen).toBe(true)
  for (const bad of BOOT_FAILURE_PATTERNS) expect(boot.output).not.toContain(bad)

  const yaml = markerLines(boot.output, 'EXTENSIONS-YAML: ')
  expect(yaml[0]).toBe('EXTENSIONS-YAML: layers:')
  expect(yaml.filter((l) => l.includes('- image: ')).map((l) => l.split('- image: ')[1])).toEqual(result.initramfs?.layers ?? [])
  expect(yaml).toContain(`EXTENSIONS-YAML:         version: ${ID}`)

  expect(markerLines(boot.output, 'LAYER-MOUNTED: ').map((l) => l.slice('LAYER-MOUNTED: '.length))).toEqual(result.initramfs?.layers ?? [])
  expect(markerLines(boot.output, 'LAYER-MOUNT-FAILED')).toEqual([])
  const files = markerLines(boot.output, 'LAYER-FILE: ')
  expect(files).toContain('LAYER-FILE: 3.sqsh usr/local/bin/hello')
  expect(files).toContain(`LAYER-FILE: 2.sqsh usr/lib/modules/${mini.kver}/extras/nhc_dest.ko`)
  expect(files).toContain(`LAYER-FILE: 4.sqsh usr/local/share/schematic/${ID}`)
  expect(files).toContain('LAYER-FILE: 5.sqsh usr/local/etc/talos/config.yaml')
  expect(files).toContain(`LAYER-FILE: modules.dep.sqsh usr/lib/modules/${mini.kver}/modules.dep`)

  expect(markerLines(boot.output, 'FIRMWARE: ')).toEqual([
    'FIRMWARE: /usr/lib/firmware/amd-ucode/README 21',
    'FIRMWARE: /usr/lib/firmware/mini/fw-link.bin 8192',
    'FIRMWARE: /usr/lib/firmware/mini/fw.bin 8192',
    'FIRMWARE: /usr/lib/firmware/mini/sub/deep.bin 100',
  ])
  expect(markerLines(boot.output, 'MICROCODE: ')).toEqual(['MICROCODE: /kernel/x86/microcode/AuthenticAMD.bin 4000', 'MICROCODE: /kernel/x86/microcode/GenuineIntel.bin 2048'])
}, 200_000)
