/**
 * System extension manifests (imager-spec §4.1) and the layer order (§4.2).
 *
 * An extension root holds exactly `manifest.yaml` and `rootfs/`; the manifest's `version` must be
 * `v1alpha1`; its `compatibility.talos.version` range is checked against the target Talos version
 * (major.minor.patch only). Messages follow the reference imager's.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { coreOf, formatSemver, parseSemverTolerant, type SemVer } from '../../src/talos/semver.ts'
import { ioError } from './errors.ts'
import { satisfiesConstraint } from './semver-range.ts'
import { field, parseYamlDoc, present, str } from './yaml-read.ts'

/** `metadata` of a manifest, as it is copied into `extensions.yaml`. */
export interface ExtensionMetadata {
  readonly name: string
  readonly version: string
  readonly author: string
  readonly description: string
  readonly compatibility: { readonly talos: { readonly version: string } }
  /** Omitted from extensions.yaml when empty. */
  readonly extraInfo?: string
}

export interface ExtensionManifest {
  readonly version: string
  readonly metadata: ExtensionMetadata
}

export const MANIFEST_VERSION = 'v1alpha1'

/** Decodes manifest.yaml like go-yaml into the Talos `Manifest` struct. */
export function parseManifest(text: string): ExtensionManifest {
  const root = parseYamlDoc(text, 'manifest.yaml')
  if (!present(root)) throw new InvalidInputError('extension manifest is missing')
  const version = str(field(root, 'version', 'manifest'), 'version')
  const md = field(root, 'metadata', 'manifest')
  const s = (n: Parameters<typeof str>[0], p: string): string => str(n, `metadata.${p}`)
  const extraInfo = s(field(md, 'extraInfo', 'metadata'), 'extraInfo')
  const metadata: ExtensionMetadata = {
    name: s(field(md, 'name', 'metadata'), 'name'),
    version: s(field(md, 'version', 'metadata'), 'version'),
    author: s(field(md, 'author', 'metadata'), 'author'),
    description: s(field(md, 'description', 'metadata'), 'description'),
    compatibility: {
      talos: {
        version: str(field(field(field(md, 'compatibility', 'metadata'), 'talos', 'metadata.compatibility'), 'version', 'metadata.compatibility.talos'), 'metadata.compatibility.talos.version'),
      },
    },
    ...(extraInfo === '' ? {} : { extraInfo }),
  }
  if (version !== MANIFEST_VERSION) throw new InvalidInputError(`unsupported manifest version: ${JSON.stringify(version)}`)
  return { version, metadata }
}

/**
 * Loads `<dir>/manifest.yaml` after checking the top level (only `manifest.yaml` and `rootfs/`).
 * `label` names the extension in errors (its position in the profile).
 */
export async function loadExtensionDir(dir: string, label: string): Promise<ExtensionManifest> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw ioError(`error loading extension ${label}`, err)
  }
  names.sort()
  let manifest: ExtensionManifest | null = null
  let rootfs = false
  for (const n of names) {
    if (n === 'manifest.yaml') {
      let text: string
      try {
        text = await readFile(join(dir, n), 'utf8')
      } catch (err) {
        throw ioError(`error loading extension ${label}`, err)
      }
      try {
        manifest = parseManifest(text)
      } catch (err) {
        throw new InvalidInputError(`error loading extension ${label}: ${err instanceof Error ? err.message : String(err)}`)
      }
    } else if (n === 'rootfs') {
      const st = await stat(join(dir, n)).catch(() => null)
      if (st === null || !st.isDirectory()) throw new InvalidInputError(`error loading extension ${label}: rootfs is not a directory`)
      rootfs = true
    } else {
      throw new InvalidInputError(`error loading extension ${label}: unexpected file ${JSON.stringify(n)}`)
    }
  }
  if (manifest === null) throw new InvalidInputError(`error loading extension ${label}: extension manifest is missing`)
  if (!rootfs) throw new InvalidInputError(`error loading extension ${label}: extension rootfs is missing`)
  return manifest
}

/** The target version as the reference validates against (tolerant parse; pre-release dropped). */
export function targetVersion(version: string): SemVer {
  try {
    return parseSemverTolerant(version)
  } catch {
    throw new InvalidInputError(`invalid Talos version ${JSON.stringify(version)}`)
  }
}

/** Throws when the extension's compatibility range rejects the target version. */
export function checkCompatibility(md: ExtensionMetadata, target: SemVer): void {
  const constraint = md.compatibility.talos.version
  const core = coreOf(target)
  let ok: boolean
  try {
    ok = satisfiesConstraint(constraint, core)
  } catch (err) {
    throw new InvalidInputError(`error validating extension ${JSON.stringify(md.name)}: error parsing Talos version constraint: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (!ok) {
    throw new InvalidInputError(`error validating extension ${JSON.stringify(md.name)}: version constraint ${constraint} can't be satisfied with Talos version ${formatSemver(core)}`)
  }
}

/**
 * Layer order (imager-spec §4.2): input `j` is extracted to a directory named `j`, and the
 * directories are sorted as strings, so with ≥ 11 inputs the order is 0, 1, 10, 11, 2, ….
 * Returns the input indices in layer order.
 */
export function layerOrder(count: number): number[] {
  return Array.from({ length: count }, (_, j) => j).sort((a, b) => {
    const sa = String(a)
    const sb = String(b)
    return sa < sb ? -1 : sa > sb ? 1 : 0
  })
}
