/**
 * Strict schematic decoding (factory-spec §4.2–4.3) with the reference's semantics: the reference
 * decodes the first YAML document into its Go struct with go-yaml v4 (known fields only, unique
 * keys, YAML 1.1-flavoured scalar resolution). The `yaml` library is used only for the syntax (node
 * tree, positions); tag resolution, typing and every error text are re-implemented here to match
 * the reference, because the canonical form (and so the schematic ID) depends on them.
 *
 * Stages: pre-scan (limits, ./prescan.ts) → token stream and node tree (./compose.ts) → typed
 * values (./construct.ts) → Schematic (here). Every stage is bounded by ./limits.ts.
 */
import { InvalidInputError } from '../errors.ts'
import { decodeBody, firstDocument } from './compose.ts'
import { Constructor, type Constructed, type StructValue } from './construct.ts'
import { isStringMapObject } from './go-text.ts'
import { withDefaults, type ParseLimits } from './limits.ts'
import { FatalLoad } from './load-error.ts'
import { prescan } from './prescan.ts'
import { T_ANY, T_SCHEMATIC } from './targets.ts'
import type { Customization, MetaValue, Overlay, Schematic, YamlValue } from './types.ts'

function str(v: Constructed): string {
  return typeof v === 'string' ? v : ''
}

function struct(v: Constructed): StructValue {
  return v instanceof Map ? v : new Map()
}

function strings(v: Constructed): string[] {
  const out: string[] = []
  if (Array.isArray(v)) for (const x of v as readonly unknown[]) if (typeof x === 'string') out.push(x)
  return out
}

function toSchematic(root: StructValue): Schematic {
  const s: Schematic = { customization: {} }
  const owner = str(root.get('owner'))
  if (owner) s.owner = owner

  const ov = struct(root.get('overlay'))
  const overlay: Overlay = { image: str(ov.get('image')), name: str(ov.get('name')) }
  const options = ov.get('options')
  if (isStringMapObject(options) && Object.keys(options).length > 0) overlay.options = options
  if (overlay.image || overlay.name || overlay.options) s.overlay = overlay

  const c = struct(root.get('customization'))
  const cust: Customization = {}
  const emc = str(c.get('embeddedMachineConfiguration'))
  if (emc) cust.embeddedMachineConfiguration = emc
  const args = strings(c.get('extraKernelArgs'))
  if (args.length > 0) cust.extraKernelArgs = args
  const metaRaw = c.get('meta')
  if (Array.isArray(metaRaw) && metaRaw.length > 0) {
    cust.meta = metaRaw.map((m): MetaValue => {
      const mv = struct(m)
      const key = mv.get('key')
      return { key: typeof key === 'bigint' ? Number(key) : 0, value: str(mv.get('value')) }
    })
  }
  const ext = strings(struct(c.get('systemExtensions')).get('officialExtensions'))
  if (ext.length > 0) cust.systemExtensions = { officialExtensions: ext }
  const bl = c.get('bootloader')
  if (bl === 'dual-boot' || bl === 'sd-boot' || bl === 'grub') cust.bootloader = bl
  const sb = struct(c.get('secureboot'))
  const enrollKeys = str(sb.get('enrollKeys'))
  const wellKnown = sb.get('includeWellKnownCertificates') === true
  if (enrollKeys || wellKnown) {
    cust.secureboot = {}
    if (enrollKeys) cust.secureboot.enrollKeys = enrollKeys
    if (wellKnown) cust.secureboot.includeWellKnownCertificates = true
  }
  const sector = struct(c.get('diskImage')).get('sectorSize')
  if (typeof sector === 'bigint' && sector > 0n) {
    if (sector > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidInputError(`diskImage.sectorSize ${sector} is too large`)
    cust.diskImage = { sectorSize: Number(sector) }
  }
  s.customization = cust
  return s
}

const BREAKS = /\r\n|[\n\r]/g
const BREAK_ESCAPES: Record<string, string> = { '\r\n': '\\r\\n', '\n': '\\n', '\r': '\\r' }

/**
 * A reason is one line: values quoted in the reference's messages (`cannot construct !!str \`a⏎b\``,
 * `field a⏎b not found`) keep their CR and LF there, which would cut the reason at the break; they
 * are written as escapes instead.
 */
function oneLineReason(err: InvalidInputError): InvalidInputError {
  BREAKS.lastIndex = 0
  return BREAKS.test(err.message) ? new InvalidInputError(err.message.replace(BREAKS, (b) => BREAK_ESCAPES[b] ?? ' ')) : err
}

/** Runs one decoding with the reference's error texts; any failure is an InvalidInputError. */
function decode<T>(body: string | Uint8Array, limits: ParseLimits, fn: (root: ReturnType<typeof firstDocument>, ctor: Constructor) => T): T {
  try {
    const text = decodeBody(body)
    prescan(text, limits)
    const root = firstDocument(text, limits)
    return fn(root, new Constructor(limits))
  } catch (err) {
    if (err instanceof InvalidInputError) throw oneLineReason(err)
    if (err instanceof FatalLoad) throw oneLineReason(new InvalidInputError(err.message))
    // Recursion deeper than the engine's stack (a limit set above what the stack can hold).
    if (err instanceof RangeError) throw new InvalidInputError(`go-yaml load error in parser at <unknown position>: exceeded max depth of ${limits.maxDepth}`)
    throw err
  }
}

/** Longest reason kept (the edge shows the first 1000 characters; keys can be a megabyte long). */
const MAX_REASON = 4096

function constructErrors(ctor: Constructor): void {
  const errors = ctor.errorList()
  if (errors.length === 0) return
  const reason = `yaml: construct errors: ${errors.join('; ')}`
  throw new InvalidInputError(reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason)
}

/**
 * Decode a schematic body (YAML or JSON) strictly, with the reference's semantics and error texts.
 * Throws InvalidInputError with a one-line reason on any failure, including a body over `limits`.
 */
export function parseSchematic(body: string | Uint8Array, limits?: Partial<ParseLimits>): Schematic {
  return decode(body, withDefaults(limits), (root, ctor) => {
    if (!root) throw new InvalidInputError('EOF')
    const r = ctor.construct(root, T_SCHEMATIC)
    constructErrors(ctor)
    return toSchematic(r.ok ? struct(r.v) : new Map())
  })
}

/**
 * Decode a free-form YAML value (for example the wizard's overlay-options text) the way the
 * reference decodes YAML into Go `any`.
 */
export function parseYamlValue(body: string, limits?: Partial<ParseLimits>): YamlValue {
  return decode(body, withDefaults(limits), (root, ctor) => {
    if (!root) return null
    const r = ctor.construct(root, T_ANY)
    constructErrors(ctor)
    return r.ok ? (r.v as YamlValue) : null
  })
}
