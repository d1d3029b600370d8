/**
 * Unpacking one platform of a registry image into a directory, atomically, and the extraction
 * record kept beside it.
 *
 * The record (`<dir>.json` by convention of the callers, see `extractionRecordPath`) holds what the
 * layers said about files that a directory cannot carry without special filesystem support: the
 * `security.selinux` labels of their PAX records (`SCHILY.xattr.security.selinux`), by path
 * relative to the image root. It is written before the directory is renamed into place, so a
 * complete directory always has its record.
 */
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { InvalidInputError } from '../errors.ts'
import { writeFileAtomic } from '../store/atomic-file.ts'
import type { RegistryClient } from './client.ts'
import { errno, LayerExtractor, lstatOrNull, type ExtractOptions, type ExtractResult } from './extract.ts'
import type { ImageConfig } from './manifest.ts'

export interface ExtractImageResult extends ExtractResult {
  /** Digest of the platform image manifest that was unpacked. */
  digest: string
  config: ImageConfig
}

export interface ExtractImageOptions extends ExtractOptions {
  /** Write the extraction record here (atomically, before the directory appears). */
  recordPath?: string
}

export const EXTRACTION_RECORD_FORMAT = 1

/** What an extraction record holds. */
export interface ExtractionRecord {
  readonly format: typeof EXTRACTION_RECORD_FORMAT
  /** `security.selinux` labels by path relative to the image root (`''` = the root itself). */
  readonly selinuxLabels: Readonly<Record<string, string>>
}

/** Where callers keep the record of the directory `dir`. */
export function extractionRecordPath(dir: string): string {
  return `${dir.replace(/\/+$/, '')}.json`
}

function sortedRecord(labels: ReadonlyMap<string, string>): ExtractionRecord {
  const keys = [...labels.keys()].sort()
  return { format: EXTRACTION_RECORD_FORMAT, selinuxLabels: Object.fromEntries(keys.map((k) => [k, labels.get(k) as string])) }
}

/**
 * Reads a record; the labels' paths must be clean relative paths (they address files inside an
 * extracted tree). Throws InvalidInputError for a malformed record.
 */
export async function readExtractionRecord(path: string): Promise<Map<string, string>> {
  const text = await readFile(path, 'utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new InvalidInputError(`extraction record ${basename(path)} is not JSON`)
  }
  const labels = (parsed as { selinuxLabels?: unknown } | null)?.selinuxLabels
  if ((parsed as { format?: unknown } | null)?.format !== EXTRACTION_RECORD_FORMAT || typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new InvalidInputError(`extraction record ${basename(path)} is not a format ${EXTRACTION_RECORD_FORMAT} record`)
  }
  const out = new Map<string, string>()
  for (const [p, label] of Object.entries(labels)) {
    const parts = p.split('/')
    if (typeof label !== 'string' || p.startsWith('/') || p.includes('\0') || parts.includes('..') || (p !== '' && parts.includes(''))) {
      throw new InvalidInputError(`extraction record ${basename(path)}: invalid label entry ${JSON.stringify(p)}`)
    }
    out.set(p, label)
  }
  return out
}

/**
 * Unpacks `repo:ref` for `linux/<arch>` into `destDir`, atomically: layers go into a temp directory
 * beside it, which is renamed into place only after every layer was read and digest-verified. On
 * failure nothing is left behind. `destDir` must not exist yet (InvalidInputError); if another
 * extraction creates it meanwhile, that one wins and this result is discarded — key destinations
 * by digest so both are the same content.
 *
 * The root of the tree is 0700: setuid/setgid bits are kept, and a setuid file of some image must
 * not become executable by other users of the host.
 */
export async function extractImage(client: RegistryClient, repo: string, ref: string, arch: string, destDir: string, opts: ExtractImageOptions = {}): Promise<ExtractImageResult> {
  if (await lstatOrNull(destDir)) throw new InvalidInputError(`extraction target ${basename(destDir)} already exists`)
  const image = await client.resolveImage(repo, ref, arch)
  const parent = dirname(destDir)
  await mkdir(parent, { recursive: true })
  const tmp = await mkdtemp(join(parent, `.${basename(destDir)}.tmp-`))
  try {
    const ex = new LayerExtractor(tmp, opts)
    for (const layer of image.manifest.layers) {
      if (layer.urls && layer.urls.length > 0) continue // non-distributable (foreign) layer
      await ex.applyLayer(await client.getBlob(repo, layer.digest, { size: layer.size }))
    }
    const result = await ex.finish()
    await chmod(tmp, 0o700)
    // same digest, same record: a racing extraction writes the same bytes
    if (opts.recordPath !== undefined) await writeFileAtomic(opts.recordPath, `${JSON.stringify(sortedRecord(result.selinuxLabels))}\n`)
    try {
      await rename(tmp, destDir)
    } catch (err) {
      const code = errno(err)
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
      await rm(tmp, { recursive: true, force: true })
    }
    return { ...result, digest: image.digest, config: image.config }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}
