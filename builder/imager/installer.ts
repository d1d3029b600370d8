/**
 * The `installer` output kind (imager-spec §8): the version's base installer image with its layers
 * reused unchanged (by digest, never re-compressed), plus one artifacts layer holding the boot
 * assets of this profile, plus the overlay's layer when the profile has an overlay — written as a
 * `docker save` tarball (src/oci/docker-archive.ts).
 *
 * Artifacts layer: for Talos ≥ 1.10 or Secure Boot the UKI (`vmlinuz.efi`, or
 * `vmlinuz.efi.signed` for Secure Boot below 1.10) and systemd-boot; else `vmlinuz` and
 * `initramfs.xz` with the profile's extensions. Its tar has file entries only, sorted, mode 0,
 * uid/gid 0, mtime 0, gzip'ed — as the reference writes it.
 */
import { lstat, mkdir, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { dockerArchiveChunks, type ArchiveLayer } from '../../src/oci/docker-archive.ts'
import { gzipChunks } from '../../src/oci/layout-writer.ts'
import { readLayoutImage } from '../../src/oci/layout-reader.ts'
import { parseReference } from '../../src/oci/reference.ts'
import { sortTarEntries, tarChunks, type TarEntry } from '../../src/oci/tar-writer.ts'
import { emitYamlValue } from '../../src/schematic/emit.ts'
import type { YamlValue } from '../../src/schematic/types.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { InvalidInputError } from '../../src/errors.ts'
import { ImagerUnsupportedError, ioError } from './errors.ts'
import { OutputSink } from './output.ts'
import { initramfsFile, sdBootFile, ukiFile } from './parts.ts'
import type { ImagerProfile } from './profile.ts'
import type { BuildContext } from './index.ts'

/** The config `created` of history entries (Go's zero time, as the reference writes it). */
const ZERO_TIME = '0001-01-01T00:00:00Z'
/** go-containerregistry compresses layers with BestSpeed. */
const LAYER_GZIP_LEVEL = 1

/** Files of the artifacts layer that other builders produce (parts.ts; injectable for tests). */
export interface InstallerParts {
  /** initramfs with the profile's extensions, as a file in the work directory */
  initramfs(profile: ImagerProfile, ctx: BuildContext): Promise<string>
  /** the UKI (signed when Secure Boot) */
  uki(profile: ImagerProfile, ctx: BuildContext): Promise<string>
  /** systemd-boot (signed when Secure Boot) */
  sdBoot(profile: ImagerProfile, ctx: BuildContext): Promise<string>
}

export const DEFAULT_PARTS: InstallerParts = { initramfs: initramfsFile, uki: (p, ctx) => ukiFile(p, ctx), sdBoot: sdBootFile }

interface WrittenLayer {
  path: string
  digest: string
  size: number
  diffId: string
}

/** Writes tar entries as a gzip'ed layer file, returning its digest and the tar's diff ID. */
async function writeLayer(path: string, entries: TarEntry[]): Promise<WrittenLayer> {
  const tarHash = new Bun.CryptoHasher('sha256')
  const blobHash = new Bun.CryptoHasher('sha256')
  async function* hashedTar(): AsyncGenerator<Uint8Array> {
    for await (const c of tarChunks(entries, { mtime: 0 })) {
      tarHash.update(c)
      yield c
    }
  }
  const sink = await OutputSink.open(path)
  let size = 0
  try {
    for await (const c of gzipChunks(hashedTar(), LAYER_GZIP_LEVEL)) {
      blobHash.update(c)
      size += c.byteLength
      await sink.write(c)
    }
  } finally {
    await sink.close({ sync: false })
  }
  return { path, digest: `sha256:${blobHash.digest('hex')}`, size, diffId: `sha256:${tarHash.digest('hex')}` }
}

/** Every file, directory and symlink under `root` as tar entries below `prefix`, keeping permission bits. */
async function treeEntries(root: string, prefix: string): Promise<TarEntry[]> {
  const out: TarEntry[] = []
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const abs = join(dir, name)
      const path = `${rel}/${name}`
      const st = await lstat(abs)
      const mode = st.mode & 0o7777
      if (st.isDirectory()) {
        out.push({ type: 'dir', path, mode, mtime: 0 })
        await walk(abs, path)
      } else if (st.isSymbolicLink()) out.push({ type: 'symlink', path, target: await readlink(abs), mode, mtime: 0 })
      else if (st.isFile()) out.push({ type: 'file', path, source: abs, mode, mtime: 0 })
    }
  }
  await walk(root, prefix)
  return out
}

/**
 * The overlay layer (imager-spec §8 step 5): `overlay/artifacts/**` of the target-arch overlay
 * image, `overlay/installers/default` (its installer binary) and `overlay/extra-options`.
 */
async function overlayEntries(profile: ImagerProfile): Promise<TarEntry[]> {
  const input = profile.input.overlayInstaller
  const dir = input?.tarballPath
  if (!dir) throw new ImagerUnsupportedError('input.overlayInstaller must be an extracted directory (tarballPath) for the native imager')
  const name = profile.overlay?.name ?? 'default'
  const installer = join(dir, 'installers', name)
  const st = await lstat(installer).catch(() => null)
  if (!st?.isFile()) throw new InvalidInputError(`overlay installer ${JSON.stringify(name)} is missing from the overlay image`)
  const options = profile.overlay?.options ?? {}
  const extra = Object.keys(options).length > 0 ? emitYamlValue(options as Record<string, YamlValue>) : '{}\n'
  const entries: TarEntry[] = [
    { type: 'dir', path: 'overlay', mode: 0o755, mtime: 0 },
    { type: 'dir', path: 'overlay/installers', mode: 0o755, mtime: 0 },
    { type: 'file', path: 'overlay/installers/default', source: installer, mode: st.mode & 0o7777, mtime: 0 },
    { type: 'file', path: 'overlay/extra-options', data: extra, mode: 0o644, mtime: 0 },
  ]
  const artifacts = join(dir, 'artifacts')
  if ((await lstat(artifacts).catch(() => null))?.isDirectory()) {
    entries.push({ type: 'dir', path: 'overlay/artifacts', mode: 0o755, mtime: 0 }, ...(await treeEntries(artifacts, 'overlay/artifacts')))
  }
  return sortTarEntries(entries)
}

/** `created` of the new config: SOURCE_DATE_EPOCH when set (reproducible), else now. */
function createdTime(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? '')
  const date = Number.isSafeInteger(epoch) && epoch >= 0 && process.env.SOURCE_DATE_EPOCH ? new Date(epoch * 1000) : new Date()
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** RepoTags of the tarball: the base installer reference when it is a tag (as the reference writes it). */
function repoTags(imageRef: string): string[] {
  try {
    const ref = parseReference(imageRef, 'ghcr.io')
    return ref.tag !== undefined && ref.digest === undefined ? [`${ref.registry}/${ref.repository}:${ref.tag}`] : []
  } catch {
    return []
  }
}

export async function buildInstaller(profile: ImagerProfile, ctx: BuildContext, parts: InstallerParts = DEFAULT_PARTS): Promise<void> {
  const base = profile.input.baseInstaller
  if (!base?.ociPath) throw new InvalidInputError('profile is invalid: input.baseInstaller.ociPath (an OCI layout of the base installer) is required for installer output')
  const q = new Quirks(profile.version)
  const image = await readLayoutImage(base.ociPath, profile.arch)
  // a pre-1.10 `installer` image carries the old boot assets as its second layer: drop it
  const keep = image.layers.length === 2 ? 1 : image.layers.length
  const diffIds = image.config.rootfs?.diff_ids ?? []
  if (diffIds.length !== image.layers.length) throw new InvalidInputError(`base installer ${base.imageRef || base.ociPath}: config lists ${diffIds.length} diff IDs for ${image.layers.length} layers`)

  const dir = `usr/install/${profile.arch}`
  let files: TarEntry[]
  if (q.supportsUnifiedInstaller() || profile.secureboot) {
    // the UKI's command line must carry the overlay's `get-options` kernel args (reference fix
    // #376); a build context without overlay preparation (no `overlay` field) cannot give them
    if (profile.hasOverlay && !('overlay' in ctx)) {
      throw new ImagerUnsupportedError('installer images with an overlay and a UKI (Talos ≥ 1.10 or Secure Boot) are not supported by the native imager yet')
    }
    const [uki, sdBoot] = [await parts.uki(profile, ctx), await parts.sdBoot(profile, ctx)]
    const ukiName = !q.supportsUnifiedInstaller() && profile.secureboot ? 'vmlinuz.efi.signed' : 'vmlinuz.efi'
    files = [
      { type: 'file', path: `${dir}/systemd-boot.efi`, source: sdBoot },
      { type: 'file', path: `${dir}/${ukiName}`, source: uki },
    ]
  } else {
    files = [
      { type: 'file', path: `${dir}/vmlinuz`, source: profile.input.kernel },
      { type: 'file', path: `${dir}/initramfs.xz`, source: await parts.initramfs(profile, ctx) },
    ]
  }
  const layerDir = join(ctx.workDir, 'installer-layers')
  try {
    await mkdir(layerDir, { recursive: true })
  } catch (err) {
    throw ioError(`cannot create ${layerDir}`, err)
  }
  const added: WrittenLayer[] = [await writeLayer(join(layerDir, 'artifacts.tar.gz'), sortTarEntries(files.map((f) => ({ ...f, mode: 0, mtime: 0 }))))]
  if (profile.overlay !== null || profile.input.overlayInstaller !== null) {
    added.push(await writeLayer(join(layerDir, 'overlay.tar.gz'), await overlayEntries(profile)))
  }

  const layers: (ArchiveLayer & { diffId: string })[] = [
    ...image.layers.slice(0, keep).map((l, i) => ({ digest: l.descriptor.digest, size: l.descriptor.size, source: l.path, diffId: diffIds[i] as string })),
    ...added.map((l) => ({ digest: l.digest, size: l.size, source: l.path, diffId: l.diffId })),
  ]
  const baseConfig = JSON.parse(new TextDecoder().decode(image.configBytes)) as { config?: unknown }
  // Go's ConfigFile field order; `config` is the base image's, unchanged
  const config = {
    architecture: profile.arch,
    created: createdTime(),
    history: layers.map(() => ({ created: ZERO_TIME })),
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    config: baseConfig.config ?? {},
  }
  const configBytes = new TextEncoder().encode(JSON.stringify(config))
  await ctx.output.writeAll(dockerArchiveChunks({ config: configBytes, layers, repoTags: repoTags(base.imageRef) }))
}
