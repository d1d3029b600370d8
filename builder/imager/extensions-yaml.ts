/**
 * YAML documents the imager writes, byte-compatible with go-yaml v4's encoder (4-space indent,
 * struct field order, omitempty, go-yaml scalar quoting): `extensions.yaml` in the initramfs
 * (imager-spec §4.4) and the `manifest.yaml` of virtual extensions (§4.7, factory-spec §5.7).
 *
 * The emitter itself is the project's shared go-yaml-v4 emitter (src/asset/goyaml.ts).
 */
import { emitYaml, y, type YamlNode } from '../../src/asset/goyaml.ts'
import { MANIFEST_VERSION, type ExtensionManifest, type ExtensionMetadata } from './manifest.ts'

export interface ExtensionLayer {
  /** squashfs basename in the initramfs, e.g. `0.sqsh`, `modules.dep.sqsh` */
  readonly image: string
  readonly metadata: ExtensionMetadata
}

/** Talos `extensions.Metadata` as go-yaml marshals it. */
function metadataNode(md: ExtensionMetadata): YamlNode {
  const entries: [string, YamlNode][] = [
    ['name', y.str(md.name)],
    ['version', y.str(md.version)],
    ['author', y.str(md.author)],
    ['description', y.str(md.description)],
    ['compatibility', y.map([['talos', y.map([['version', y.str(md.compatibility.talos.version)]])]])],
  ]
  if (md.extraInfo !== undefined && md.extraInfo !== '') entries.push(['extraInfo', y.str(md.extraInfo)])
  return y.map(entries)
}

/** `extensions.yaml`: `layers:` with one `{image, metadata}` per layer, in layer order. */
export function emitExtensionsYaml(layers: readonly ExtensionLayer[]): string {
  return emitYaml(y.map([['layers', y.seq(layers.map((l) => y.map([['image', y.str(l.image)], ['metadata', metadataNode(l.metadata)]])))]]))
}

/** A manifest.yaml as the reference marshals `extensions.Manifest`. */
export function emitManifest(manifest: ExtensionManifest): string {
  return emitYaml(y.map([['version', y.str(manifest.version)], ['metadata', metadataNode(manifest.metadata)]]))
}

export function manifestOf(metadata: ExtensionMetadata): ExtensionManifest {
  return { version: MANIFEST_VERSION, metadata }
}
