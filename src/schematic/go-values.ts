/**
 * Go values of decoded scalars: the Go type a resolved scalar becomes in an `interface{}`, the
 * identity of a map key (for merges and duplicate keys), and `!!binary` text.
 */
import { InvalidInputError } from '../errors.ts'
import type { Resolved } from './resolve.ts'
import { YamlFloat, YamlTimestamp } from './types.ts'
import type { YamlValue } from './types.ts'

export function decodeBase64(value: string): string | undefined {
  const s = value.replace(/[\r\n]/g, '')
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
  } catch {
    return undefined
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new InvalidInputError('!!binary data that is not valid UTF-8 text is not supported')
  }
}

/** Canonical identity of a Go map key, for merge bookkeeping. */
let nanCounter = 0
export function keyIdentity(v: YamlValue): string {
  if (v === null) return 'n'
  if (typeof v === 'boolean') return `b:${v}`
  if (typeof v === 'string') return `s:${v}`
  if (typeof v === 'bigint') return `i:${v}`
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return `i:${v}`
    if (Number.isNaN(v)) return `nan:${nanCounter++}`
    return `f:${v}`
  }
  if (v instanceof YamlFloat) return `f:${Object.is(v.value, -0) ? '-0' : v.value}`
  if (v instanceof YamlTimestamp) return `t:${v.text}`
  return `o:${nanCounter++}`
}

export function toYamlScalar(r: Resolved): YamlValue {
  switch (r.t) {
    case 'null':
    case 'merge':
      return null
    case 'bool':
      return r.v
    case 'int':
      return r.v >= BigInt(Number.MIN_SAFE_INTEGER) && r.v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.v) : r.v
    case 'uint':
      return r.v
    case 'float':
      return Number.isInteger(r.v) ? new YamlFloat(r.v) : r.v
    case 'str':
      return r.v
    case 'timestamp':
      return new YamlTimestamp(r.v.text)
  }
}
