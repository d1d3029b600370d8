/**
 * Virtual system extensions, written as extracted extension directories (`manifest.yaml` +
 * `rootfs/`) that the imager consumes like any other extension input:
 *
 * - `schematic` (factory-spec §5.7, Image Factory `internal/artifacts/schematic.go`): tells the node
 *   which schematic it was built from. The builder appends it as the last input.
 * - `embedded-config` (imager-spec §4.7, talos `pkg/imager/embed.go`): the imager appends it after
 *   all inputs when `customization.embeddedMachineConfiguration` is set.
 *
 * Both are written atomically (temp directory + rename), so concurrent builders can share a path.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Quirks } from '../../src/talos/quirks.ts'
import { ioError, isErrno } from './errors.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'
import { emitManifest, manifestOf } from './extensions-yaml.ts'
import type { ExtensionMetadata } from './manifest.ts'

export interface SchematicExtensionOptions {
  /** schematic ID (64 hex chars) */
  readonly id: string
  /** canonical schematic YAML (the bytes hashed into the ID) */
  readonly canonicalYaml: string
  /** the factory's external URL exactly as configured, e.g. `https://factory.talos.dev/` */
  readonly externalUrl: string
  /** target Talos version (tag or semver); `extraInfo` is added from 1.7.0 on */
  readonly version: string
}

/** The schematic extension's metadata (factory-spec §5.7). */
export function schematicExtensionMetadata(opts: SchematicExtensionOptions): ExtensionMetadata {
  const withExtraInfo = new Quirks(opts.version).supportsSchematicExtraInfo()
  return {
    name: 'schematic',
    version: opts.id,
    author: `Image Factory (${opts.externalUrl})`,
    // sic: the reference builds this text from its `schematic` constant
    description: 'Virtual extension which specifies the schematic of the image built with schematic.',
    compatibility: { talos: { version: '>= 1.0.0' } },
    ...(withExtraInfo && opts.canonicalYaml !== '' ? { extraInfo: opts.canonicalYaml } : {}),
  }
}

/** The manifest.yaml bytes of the schematic extension. */
export function schematicExtensionManifest(opts: SchematicExtensionOptions): string {
  return emitManifest(manifestOf(schematicExtensionMetadata(opts)))
}

export const EMBEDDED_CONFIG_DIR = 'usr/local/etc/talos'
export const EMBEDDED_CONFIG_FILE = `${EMBEDDED_CONFIG_DIR}/config.yaml`
/** SELinux label the reference puts on the embedded config (`constants.StateSelinuxLabel`). */
export const EMBEDDED_CONFIG_SELINUX_LABEL = 'system_u:object_r:system_state_t:s0'

/** The embedded-config extension's metadata: version = hex SHA-256 of the config bytes. */
export function embeddedConfigMetadata(config: string): ExtensionMetadata {
  return {
    name: 'embedded-config',
    version: createHash('sha256').update(config, 'utf8').digest('hex'),
    author: 'Imager',
    description: 'Virtual extension which embeds the machine configuration.',
    compatibility: { talos: { version: '>= 1.0.0' } },
  }
}

interface TreeFile {
  readonly path: string
  readonly mode: number
  readonly data: string
}

/** Directories 0755, every mtime pinned to SOURCE_DATE_EPOCH (files keep their modes). */
async function normalizeTree(path: string): Promise<void> {
  const st = await lstat(path)
  if (st.isDirectory()) {
    await chmod(path, 0o755)
    for (const n of await readdir(path)) await normalizeTree(join(path, n))
  }
  await utimes(path, SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH)
}

/** Writes `manifest.yaml` + `rootfs/` dirs/files into a fresh temp dir, then renames it to `dir`. */
async function writeExtensionDir(dir: string, manifest: string, rootfsDirs: readonly string[], files: readonly TreeFile[]): Promise<void> {
  const parent = dirname(dir)
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    await mkdir(parent, { recursive: true })
    await mkdir(join(tmp, 'rootfs'), { recursive: true })
    await writeFile(join(tmp, 'manifest.yaml'), manifest, { mode: 0o644 })
    for (const d of rootfsDirs) {
      await mkdir(join(tmp, 'rootfs', d), { recursive: true })
    }
    for (const f of files) {
      await writeFile(join(tmp, 'rootfs', f.path), f.data, { mode: f.mode })
      await chmod(join(tmp, 'rootfs', f.path), f.mode)
    }
    await normalizeTree(tmp)
    try {
      await rename(tmp, dir)
    } catch (err) {
      if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err
      // another writer won the race; its content is the same
      await rm(tmp, { recursive: true, force: true })
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    throw ioError(`cannot write virtual extension ${dir}`, err)
  }
}

/**
 * Writes the `schematic` virtual extension to `dir` (which must not exist yet, or already hold
 * the same extension): manifest.yaml (0644), `rootfs/usr/local/share/schematic/` (0755) and the
 * empty file `rootfs/usr/local/share/schematic/<id>` (0644).
 */
export async function writeSchematicExtension(dir: string, opts: SchematicExtensionOptions): Promise<void> {
  await writeExtensionDir(dir, schematicExtensionManifest(opts), ['usr/local/share/schematic'], [{ path: `usr/local/share/schematic/${opts.id}`, mode: 0o644, data: '' }])
}

/**
 * Writes the `embedded-config` virtual extension to `dir`: manifest.yaml and
 * `rootfs/usr/local/etc/talos/config.yaml` (0400). Returns the SELinux labels the reference sets
 * (applied only when mksquashfs supports pseudo xattrs, see squashfs.ts).
 */
export async function writeEmbeddedConfigExtension(dir: string, config: string): Promise<Map<string, string>> {
  await writeExtensionDir(dir, emitManifest(manifestOf(embeddedConfigMetadata(config))), [EMBEDDED_CONFIG_DIR], [{ path: EMBEDDED_CONFIG_FILE, mode: 0o400, data: config }])
  return new Map([[EMBEDDED_CONFIG_FILE, EMBEDDED_CONFIG_SELINUX_LABEL]])
}
