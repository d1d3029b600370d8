/**
 * builder/imager/xorriso.ts: an ISO build ends at the image's last byte instead of waiting for
 * xorriso's once-a-second progress loop, with the same bytes as xorriso writing a file itself;
 * failures and cancellations still end the build (no hang on the FIFO) with the right error.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImagerAbortedError, ImagerToolError } from '../../builder/imager/errors.ts'
import { OutputSink } from '../../builder/imager/output.ts'
import { runXorriso } from '../../builder/imager/xorriso.ts'

let work: string
let tree: string
let esp: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'imager-xorriso-'))
  tree = join(work, 'tree')
  await mkdir(join(tree, 'boot'), { recursive: true })
  await writeFile(join(tree, 'boot', 'vmlinuz'), new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 13) & 0xff))
  esp = join(work, 'efiboot.img')
  await execa('mkfs.vfat', ['-C', '-F', '32', esp, String(34 * 1024)])
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

/** a UEFI-style ISO with an appended ESP, fixed dates (reproducible) */
function args(out: string, root = tree): string[] {
  return [
    '-as', 'mkisofs', '-graft-points', '-iso-level', '3', root,
    '-e', '--interval:appended_partition_2:all::', '-append_partition', '2', '0xef', esp,
    '-partition_cyl_align', 'all', '-partition_offset', '16', '-iso_mbr_part_type', '0x83', '-no-emul-boot',
    '-o', out, '--', '-volume_date', 'all_file_dates', '=1559424892', '-volume_date', 'uuid', '2019060121345200',
  ]
}

describe('runXorriso', () => {
  test('ends at the last byte; the same bytes as xorriso writing the file itself', async () => {
    const scratch = join(work, 'ok')
    await mkdir(scratch)
    const out = join(work, 'fast.iso')
    const sink = await OutputSink.open(out)
    const run = await runXorriso(args('-'), sink, scratch)
    await sink.close({ sync: true })
    expect(run.endedAtLastByte).toBe(true)
    const ref = join(work, 'ref.iso')
    await execa('xorriso', args(ref), { stderr: 'ignore' })
    const [a, b] = await Promise.all([readFile(out), readFile(ref)])
    expect(run.bytes).toBe(b.length)
    expect(a.equals(b)).toBe(true)
    // the FIFO lives in the build's scratch directory, which the imager removes
    expect((await readdir(scratch)).every((f) => f.endsWith('.fifo'))).toBe(true)
  }, 60_000)

  test('xorriso failing before it writes: a one-line tool error, not a hang on the FIFO', async () => {
    const scratch = join(work, 'fail')
    await mkdir(scratch)
    const sink = await OutputSink.open(join(work, 'fail.iso'))
    const bad = args('-').map((a) => (a === esp ? join(work, 'missing.img') : a))
    const err = await runXorriso(bad, sink, scratch).catch((e: unknown) => e)
    await sink.close({ sync: false })
    expect(err).toBeInstanceOf(ImagerToolError)
    expect((err as Error).message).toStartWith('xorriso failed')
  }, 60_000)

  test('a cancelled build stops xorriso and says so', async () => {
    const scratch = join(work, 'cancel')
    await mkdir(scratch)
    const sink = await OutputSink.open(join(work, 'cancel.iso'))
    const controller = new AbortController()
    const running = runXorriso(args('-'), sink, scratch, controller.signal).catch((e: unknown) => e)
    controller.abort()
    const err = await running
    await sink.close({ sync: false })
    expect(err).toBeInstanceOf(ImagerAbortedError)
  }, 60_000)

  test('with a stand-in xorriso: stopped once the predicted bytes are written; a short image waits for the exit status; a write failure is not a hang', async () => {
    const bin = join(work, 'bin')
    await mkdir(bin, { recursive: true })
    // -print-size says 2 sectors; the writing run behaves as FAKE_MODE says
    await writeFile(join(bin, 'xorriso'), `#!/bin/sh
for a in "$@"; do [ "$a" = -print-size ] && { echo 2; exit 0; }; done
out=""; prev=""
for a in "$@"; do [ "$prev" = -o ] && out="$a"; prev="$a"; done
case "$FAKE_MODE" in
  whole) head -c 4096 /dev/zero > "$out"; exec sleep 300 ;;
  short) head -c 2048 /dev/zero > "$out" ;;
  fail) echo "xorriso : FAILURE : cannot write" >&2; exit 5 ;;
esac
`, { mode: 0o755 })
    const path = process.env.PATH
    process.env.PATH = `${bin}:${path}`
    try {
      const run = async (mode: string) => {
        process.env.FAKE_MODE = mode
        const scratch = join(work, `fake-${mode}`)
        await mkdir(scratch)
        const sink = await OutputSink.open(join(scratch, 'out.iso'))
        const result = await runXorriso(args('-'), sink, scratch).catch((e: unknown) => e)
        await sink.close({ sync: false })
        return result
      }
      // stopped, not waited for: the stand-in would sleep 300 s, far beyond this test's timeout
      expect(await run('whole')).toEqual({ bytes: 4096, endedAtLastByte: true })
      expect(await run('short')).toEqual({ bytes: 2048, endedAtLastByte: false })
      const failed = await run('fail')
      expect(failed).toBeInstanceOf(ImagerToolError)
      expect((failed as Error).message).toBe('xorriso failed: xorriso : FAILURE : cannot write')
    } finally {
      process.env.PATH = path
      delete process.env.FAKE_MODE
    }
  }, 60_000)

  test('arguments that do not write to standard output are a programming error', async () => {
    const sink = await OutputSink.open(join(work, 'none.iso'))
    await expect(runXorriso(args(join(work, 'x.iso')), sink, work)).rejects.toThrow('-o -')
    await sink.close({ sync: false })
  })
})
