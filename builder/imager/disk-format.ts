/**
 * From the finished raw disk to the output file (imager-spec §7.9, §7.10): the disk format
 * (`qemu-img convert` for qcow2 and vhd, an OVA tar around a stream-optimised VMDK), then the
 * output format — written into the OutputSink by the compressor itself, so compressed images
 * stream to the client while they are produced.
 *
 *   raw/qcow2/vhd + raw        sparse copy of the file (holes stay holes)
 *   any + .zst/.xz/.gz         `<compressor> -c <file>` → output
 *   ova + raw/.zst/.xz/.gz     `tar -c disk.ovf disk.mf disk.vmdk` (→ compressor) → output
 *   any + .tar.gz              `tar -c --sparse disk.raw | pigz` → output (the file is always
 *                              named disk.raw inside, whatever its format, as in the reference)
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { compressorFor } from './compress.ts'
import { ioError } from './errors.ts'
import { runTool, SOURCE_DATE_EPOCH, toolOutput } from './exec.ts'
import { sha256File } from './fs-tree.ts'
import { ovfDescriptor, ovfManifest } from './ova.ts'
import { OutputSink } from './output.ts'
import type { ImageOptions, OutFormat } from './profile.ts'
import { stageData } from './stage.ts'

/** Where the bytes of the disk in its final format come from. */
export type DiskSource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'tool'; readonly cmd: string; readonly args: readonly string[] }

const TAR_DETERMINISM = ['--owner=0', '--group=0', '--numeric-owner', `--mtime=@${SOURCE_DATE_EPOCH}`]

/** Converts `raw` (removed afterwards when converted) into `io.diskFormat`; work files go to `dir`. */
export async function convertDisk(raw: string, io: ImageOptions, dir: string, signal?: AbortSignal): Promise<DiskSource> {
  const qemuImg = async (format: string, options: string, out: string): Promise<void> => {
    await runTool('qemu-img', ['convert', '-f', 'raw', '-O', format, ...(options !== '' ? ['-o', options] : []), raw, out], { signal })
    await rm(raw, { force: true })
  }
  try {
    await mkdir(dir, { recursive: true })
  } catch (err) {
    throw ioError(`cannot create ${dir}`, err)
  }
  switch (io.diskFormat) {
    case 'raw':
      return { kind: 'file', path: raw }
    case 'qcow2': {
      const out = join(dir, 'disk.qcow2')
      await qemuImg('qcow2', io.diskFormatOptions, out)
      return { kind: 'file', path: out }
    }
    case 'vhd': {
      const out = join(dir, 'disk.vhd')
      await qemuImg('vpc', io.diskFormatOptions, out)
      return { kind: 'file', path: out }
    }
    case 'ova': {
      const ovaDir = join(dir, 'ova')
      const vmdk = join(ovaDir, 'disk.vmdk')
      await mkdir(ovaDir, { recursive: true }).catch((err: unknown) => {
        throw ioError(`cannot create ${ovaDir}`, err)
      })
      await qemuImg('vmdk', 'subformat=streamOptimized,adapter_type=lsilogic', vmdk)
      const vmdkSize = (await stat(vmdk)).size
      const ovf = ovfDescriptor({ vmdkSize, diskSize: io.diskSize })
      const ovfSha = new Bun.CryptoHasher('sha256').update(ovf).digest('hex')
      await stageData(join(ovaDir, 'disk.ovf'), ovf)
      await stageData(join(ovaDir, 'disk.mf'), ovfManifest(await sha256File(vmdk), ovfSha))
      return { kind: 'tool', cmd: 'tar', args: ['-c', '-f', '-', '--format=ustar', ...TAR_DETERMINISM, '-C', ovaDir, 'disk.ovf', 'disk.mf', 'disk.vmdk'] }
    }
  }
}

/** Writes `source` into `sink` post-processed per `outFormat`. */
export async function emitDisk(source: DiskSource, outFormat: OutFormat, sink: OutputSink, dir: string, signal?: AbortSignal): Promise<void> {
  if (outFormat === '.tar.gz') {
    let file: string
    if (source.kind === 'file') file = source.path
    else {
      file = join(dir, 'disk.out')
      const tmp = await OutputSink.open(file)
      try {
        await tmp.appendToolOutput(source.cmd, source.args, signal)
      } finally {
        await tmp.close({ sync: false })
      }
    }
    const tarDir = join(dir, 'tar')
    try {
      await mkdir(tarDir, { recursive: true })
      await rename(file, join(tarDir, 'disk.raw'))
    } catch (err) {
      throw ioError('cannot prepare disk.raw for the archive', err)
    }
    const gz = compressorFor('.tar.gz')!
    const tar = toolOutput('tar', ['-c', '-f', '-', '-C', tarDir, '--sparse', '--sort=name', ...TAR_DETERMINISM, 'disk.raw'], signal ? { signal } : {})
    await sink.pipeThrough(gz.cmd, gz.args, tar, signal)
    return
  }
  const comp = compressorFor(outFormat)
  if (comp === null) {
    if (source.kind === 'file') await sink.appendSparseFile(source.path, signal)
    else await sink.appendToolOutput(source.cmd, source.args, signal)
    return
  }
  if (source.kind === 'file') await sink.appendToolOutput(comp.cmd, [...comp.args, source.path], signal)
  else await sink.pipeThrough(comp.cmd, comp.args, toolOutput(source.cmd, source.args, signal ? { signal } : {}), signal)
}
