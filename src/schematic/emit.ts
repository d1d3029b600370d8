/**
 * Canonical schematic serialization (factory-spec §4.4): reproduces, byte for byte, what the
 * reference's YAML library (go-yaml v4 `Marshal`) writes for the schematic struct.
 *
 * Only the schematic's structure lives here (field order, omitempty rules, value ranges); the
 * representer, scalar quoting, map-key order and emitter are the project's shared go-yaml
 * emitter in src/yaml.
 */
import { InvalidInputError } from '../errors.ts'
import { emitDocument, intNode, OutputLimitError, plainScalar, strNode, type Node } from '../yaml/emitter.ts'
import { represent, representStringMap } from '../yaml/represent.ts'
import type { Customization, Overlay, Schematic, YamlValue } from './types.ts'

export { naturalLess } from '../yaml/represent.ts'

/**
 * Marshal a free-form value (e.g. overlay options) exactly as the reference YAML library would
 * marshal the equivalent Go value (`map[string]any`, `[]any`, scalars) as a whole document.
 * Exposed for other components that must reproduce reference YAML (profile hashing, overlay
 * `extra-options`).
 */
export function emitYamlValue(v: YamlValue): string {
  return emitDocument(represent(v))
}

// ------------------------------------------------------------------------------------------------
// The schematic struct (field order and omitempty rules of factory-spec §4.1)

function isEmptyOptions(o: Overlay['options']): boolean {
  return o === undefined || Object.keys(o).length === 0
}

function overlayNode(o: Overlay | undefined): Node | undefined {
  if (!o) return undefined
  const image = o.image ?? ''
  const name = o.name ?? ''
  if (image === '' && name === '' && isEmptyOptions(o.options)) return undefined
  const pairs: [Node, Node][] = [
    [strNode('image'), strNode(image)],
    [strNode('name'), strNode(name)],
  ]
  if (o.options && !isEmptyOptions(o.options)) pairs.push([strNode('options'), representStringMap(o.options, 1)])
  return { k: 'map', pairs }
}

function uintNode(v: number, field: string, max: number): Node {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new RangeError(`${field} must be an integer between 0 and ${max}`)
  return intNode(v)
}

function stringList(items: readonly string[]): Node {
  return { k: 'seq', items: items.map(strNode) }
}

function customizationNode(c: Customization | undefined): Node {
  const pairs: [Node, Node][] = []
  const add = (key: string, value: Node): void => {
    pairs.push([strNode(key), value])
  }
  if (c) {
    if (c.embeddedMachineConfiguration) add('embeddedMachineConfiguration', strNode(c.embeddedMachineConfiguration))
    if (c.extraKernelArgs && c.extraKernelArgs.length > 0) add('extraKernelArgs', stringList(c.extraKernelArgs))
    if (c.meta && c.meta.length > 0) {
      add('meta', {
        k: 'seq',
        items: c.meta.map((m) => ({
          k: 'map',
          pairs: [
            [strNode('key'), uintNode(m.key, 'meta key', 255)],
            [strNode('value'), strNode(m.value ?? '')],
          ],
        })),
      })
    }
    const ext = c.systemExtensions?.officialExtensions
    if (ext && ext.length > 0) add('systemExtensions', { k: 'map', pairs: [[strNode('officialExtensions'), stringList(ext)]] })
    if (c.bootloader && c.bootloader !== 'none') add('bootloader', strNode(c.bootloader))
    const sb = c.secureboot
    if (sb && (sb.enrollKeys || sb.includeWellKnownCertificates)) {
      const sbPairs: [Node, Node][] = []
      if (sb.enrollKeys) sbPairs.push([strNode('enrollKeys'), strNode(sb.enrollKeys)])
      if (sb.includeWellKnownCertificates) sbPairs.push([strNode('includeWellKnownCertificates'), plainScalar('true')])
      add('secureboot', { k: 'map', pairs: sbPairs })
    }
    const sector = c.diskImage?.sectorSize
    if (sector) add('diskImage', { k: 'map', pairs: [[strNode('sectorSize'), uintNode(sector, 'sectorSize', Number.MAX_SAFE_INTEGER)]] })
  }
  return { k: 'map', pairs }
}

/**
 * The canonical YAML of a schematic: the exact bytes whose SHA-256 is the schematic ID. Throws
 * InvalidInputError (naming the limit) when it would be larger than `maxBytes` UTF-8 bytes: a few
 * bytes of nested input can make megabytes of 4-space indentation, so emission stops early.
 */
export function emitCanonical(s: Schematic, maxBytes = Number.POSITIVE_INFINITY): string {
  const pairs: [Node, Node][] = []
  if (s.owner) pairs.push([strNode('owner'), strNode(s.owner)])
  const overlay = overlayNode(s.overlay)
  if (overlay) pairs.push([strNode('overlay'), overlay])
  pairs.push([strNode('customization'), customizationNode(s.customization)])
  const tooLarge = () => new InvalidInputError(`canonical schematic exceeds the size limit of ${maxBytes} bytes`)
  let out: string
  try {
    // UTF-16 units never outnumber UTF-8 bytes, so the character cap stops no valid output.
    out = emitDocument({ k: 'map', pairs }, maxBytes)
  } catch (err) {
    if (err instanceof OutputLimitError) throw tooLarge()
    throw err
  }
  if (Number.isFinite(maxBytes) && Buffer.byteLength(out) > maxBytes) throw tooLarge()
  return out
}
