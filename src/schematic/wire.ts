/**
 * A schematic across a worker boundary. Structured cloning keeps primitives (bigint and -0
 * included) but drops classes and null prototypes, and the emitter needs both to reproduce the
 * reference's output (YamlFloat `1.0` is not the int `1`), so free-form values are tagged.
 */
import { YamlAnyMap, YamlFloat, YamlTimestamp } from './types.ts'
import type { Schematic, YamlValue } from './types.ts'

export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | { f: number }
  | { t: string }
  | { m: [WireValue, WireValue][] }
  | { a: WireValue[] }
  | { o: [string, WireValue][] }

export interface WireSchematic {
  schematic: Omit<Schematic, 'overlay'> & { overlay?: { image: string; name: string; options?: [string, WireValue][] } }
}

function toWire(v: YamlValue): WireValue {
  if (v === null || typeof v !== 'object') return v
  if (v instanceof YamlFloat) return { f: v.value }
  if (v instanceof YamlTimestamp) return { t: v.text }
  if (v instanceof YamlAnyMap) return { m: v.entries.map(([k, x]) => [toWire(k), toWire(x)]) }
  if (Array.isArray(v)) return { a: v.map(toWire) }
  return { o: Object.keys(v).map((k) => [k, toWire(v[k] as YamlValue)]) }
}

function fromWire(w: WireValue): YamlValue {
  if (w === null || typeof w !== 'object') return w
  if ('f' in w) return new YamlFloat(w.f)
  if ('t' in w) return new YamlTimestamp(w.t)
  if ('m' in w) return new YamlAnyMap(w.m.map(([k, x]) => [fromWire(k), fromWire(x)]))
  if ('a' in w) return w.a.map(fromWire)
  return objectFrom(w.o)
}

/** Mappings decoded by the parser have a null prototype (`__proto__` is an ordinary key). */
function objectFrom(entries: [string, WireValue][]): { [key: string]: YamlValue } {
  const out: { [key: string]: YamlValue } = Object.create(null)
  for (const [k, x] of entries) out[k] = fromWire(x)
  return out
}

export function schematicToWire(s: Schematic): WireSchematic {
  const { overlay, ...rest } = s
  if (!overlay) return { schematic: rest }
  const { options, ...o } = overlay
  return { schematic: { ...rest, overlay: options ? { ...o, options: Object.keys(options).map((k) => [k, toWire(options[k] as YamlValue)]) } : o } }
}

export function schematicFromWire(w: WireSchematic): Schematic {
  const { overlay, ...rest } = w.schematic
  if (!overlay) return rest
  const { options, ...o } = overlay
  return { ...rest, overlay: options ? { ...o, options: objectFrom(options) } : o }
}
