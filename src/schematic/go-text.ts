/**
 * Go's text renderings that appear in the reference's error messages: strconv.Quote, `%#v` of a
 * decoded value, and the abbreviation of long values in type errors.
 */
import { formatGoFloat } from './resolve.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp } from './types.ts'
import type { YamlValue } from './types.ts'

/** Go strconv.Quote (used by the duplicate-key message). */
export function goQuote(s: string): string {
  // Printable ASCII without quote or backslash is its own quoting (the usual case, and one pass).
  if (/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return `"${s}"`
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0
    switch (ch) {
      case '"':
        out += '\\"'
        continue
      case '\\':
        out += '\\\\'
        continue
      case '\x07':
        out += '\\a'
        continue
      case '\b':
        out += '\\b'
        continue
      case '\f':
        out += '\\f'
        continue
      case '\n':
        out += '\\n'
        continue
      case '\r':
        out += '\\r'
        continue
      case '\t':
        out += '\\t'
        continue
      case '\v':
        out += '\\v'
        continue
    }
    if (ch === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0')
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0')
    else out += '\\U' + cp.toString(16).padStart(8, '0')
  }
  return out + '"'
}

/** First 7 bytes of a long value, as the reference abbreviates values in type errors. */
export function abbreviate(value: string): string {
  if (value.length <= 10 && new TextEncoder().encode(value).length <= 10) return value
  // Only the first 7 bytes are kept, and they come from the first 7 UTF-16 units at most.
  const bytes = new TextEncoder().encode(value.slice(0, 10))
  return new TextDecoder().decode(bytes.slice(0, 7)) + '...'
}

/** Go's `%#v` rendering of a decoded value (used in one error message). */
export function goSharpV(v: YamlValue, inInterface = false): string {
  if (v === null) return inInterface ? 'interface {}(nil)' : '<nil>'
  if (typeof v === 'string') return goQuote(v)
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : formatGoFloat(v)
  if (v instanceof YamlFloat) return formatGoFloat(v.value)
  if (v instanceof YamlTimestamp) return v.text
  if (Array.isArray(v)) return `[]interface {}{${v.map((x) => goSharpV(x, true)).join(', ')}}`
  if (v instanceof YamlAnyMap) return `map[interface {}]interface {}{${v.entries.map(([k, x]) => `${goSharpV(k, true)}:${goSharpV(x, true)}`).join(', ')}}`
  const keys = Object.keys(v).sort()
  return `map[string]interface {}{${keys.map((k) => `${goQuote(k)}:${goSharpV(v[k] as YamlValue, true)}`).join(', ')}}`
}

export function isStringMapObject(v: unknown): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof YamlAnyMap) && !(v instanceof YamlFloat) && !(v instanceof YamlTimestamp)
}

