/**
 * META values on the kernel command line (talos `pkg/machinery/meta` `Values.Encode`).
 *
 * Why: for every output other than a disk image, schematic META travels to the installer as
 * `talos.environment=INSTALLER_META_BASE64=<b64>`. The encoding is part of the cmdline text
 * clients compare byte for byte, so it lives in one pinned function.
 *
 * Encoding: each value as `0x<lowercase hex key>=<value>`, joined by `;`; when the joined text is
 * longer than 256 bytes and the target supports it (Talos ≥ 1.6.3) it is gzip'ed (best
 * compression, mtime 0, OS byte 255 like Go's `compress/gzip`); then standard base64 with padding.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { InvalidInputError } from '../errors.ts'
import type { MetaValue } from '../schematic/types.ts'

/** Environment variable name the installer reads. */
export const META_VALUES_ENV_VAR = 'INSTALLER_META_BASE64'
/** Kernel parameter carrying environment variables. */
export const KERNEL_PARAM_ENVIRONMENT = 'talos.environment'
/** Raw size above which gzip is used (when allowed). */
export const META_GZIP_THRESHOLD = 256

/** Well-known META keys (talos `pkg/machinery/meta/constants.go`). */
export const META_KEYS = {
  upgrade: 6,
  stagedUpgradeImageRef: 7,
  stagedUpgradeInstallOptions: 8,
  stateEncryptionConfig: 9,
  metalNetworkPlatformConfig: 0xa,
  downloadURLCode: 0xb,
  userReserved1: 0xc,
  userReserved2: 0xd,
  userReserved3: 0xe,
  uuidOverride: 0xf,
  uniqueMachineToken: 0x10,
  diskImageBootloader: 0x11,
} as const

/** `0x<hex key>=<value>` (Go `fmt.Sprintf("0x%x=%s")`). */
export function formatMetaValue(v: MetaValue): string {
  return `0x${v.key.toString(16)}=${v.value}`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Go-compatible gzip: default zlib stream at level 9, header mtime 0, XFL 2, OS 255. */
function goGzip(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(gzipSync(raw, { level: 9 }))
  out[4] = 0
  out[5] = 0
  out[6] = 0
  out[7] = 0
  out[8] = 2
  out[9] = 0xff
  return out
}

/** Base64 text of the encoded values (without the `INSTALLER_META_BASE64=` prefix). */
export function encodeMetaValues(values: readonly MetaValue[], opts: { allowGzip: boolean }): string {
  let raw: Uint8Array = encoder.encode(values.map(formatMetaValue).join(';'))
  if (opts.allowGzip && raw.length > META_GZIP_THRESHOLD) raw = goGzip(raw)
  return Buffer.from(raw).toString('base64')
}

/** The `talos.environment` value: `INSTALLER_META_BASE64=<encoded>`. */
export function metaEnvironmentValue(values: readonly MetaValue[], opts: { allowGzip: boolean }): string {
  return `${META_VALUES_ENV_VAR}=${encodeMetaValues(values, opts)}`
}

/**
 * Parse a META key like Go `strconv.ParseUint(k, 0, 8)`: `0x`/`0o`/`0b` prefixes, a leading `0`
 * means octal, `_` separators only after a prefix; 0..255.
 */
export function parseMetaKey(text: string): number {
  const bad = () => new InvalidInputError(`invalid key ${JSON.stringify(text)}`)
  let s = text
  let base = 10
  if (/^0[xX]/.test(s)) {
    base = 16
    s = s.slice(2)
  } else if (/^0[oO]/.test(s)) {
    base = 8
    s = s.slice(2)
  } else if (/^0[bB]/.test(s)) {
    base = 2
    s = s.slice(2)
  } else if (s.length > 1 && s[0] === '0') {
    base = 8
    s = s.slice(1)
  }
  const digit = { 2: '[01]', 8: '[0-7]', 10: '[0-9]', 16: '[0-9a-fA-F]' }[base as 2 | 8 | 10 | 16]
  // underscores may separate digits (or follow the prefix) only when a base prefix was given
  const shape = base === 10 ? new RegExp(`^${digit}+$`) : new RegExp(`^_?${digit}+(_${digit}+)*$`)
  if (!shape.test(s)) throw bad()
  s = s.replace(/_/g, '')
  const n = parseInt(s, base)
  if (!Number.isSafeInteger(n) || n > 255) throw bad()
  return n
}

/** Parse one `k=v` expression (talos `meta.Value.Parse`). */
export function parseMetaValue(text: string): MetaValue {
  const eq = text.indexOf('=')
  if (eq === -1) throw new InvalidInputError(`invalid value ${JSON.stringify(text)}`)
  return { key: parseMetaKey(text.slice(0, eq)), value: text.slice(eq + 1) }
}

/** Inverse of encodeMetaValues (accepts gzip'ed payloads); used by tests and the stand-in init. */
export function decodeMetaValues(encoded: string): MetaValue[] {
  let bytes: Uint8Array = new Uint8Array(Buffer.from(encoded, 'base64'))
  if (bytes.length === 0) return []
  if (bytes.length >= 10 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = new Uint8Array(gunzipSync(bytes))
  return decoder.decode(bytes).split(';').map(parseMetaValue)
}
