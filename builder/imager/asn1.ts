/**
 * The little DER this imager needs: building the PKCS#7 structures of Authenticode signatures and
 * reading the issuer and serial number out of an X.509 certificate. Not a general ASN.1 library.
 */

export type Der = Uint8Array

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}

export function tlv(tag: number, ...content: Der[]): Der {
  const len = content.reduce((n, c) => n + c.byteLength, 0)
  const head = [tag, ...lengthBytes(len)]
  const out = new Uint8Array(head.length + len)
  out.set(head, 0)
  let off = head.length
  for (const c of content) {
    out.set(c, off)
    off += c.byteLength
  }
  return out
}

export const seq = (...c: Der[]): Der => tlv(0x30, ...c)
/** SET OF: DER sorts the encoded members. */
export const setOf = (...c: Der[]): Der => tlv(0x31, ...[...c].sort(compareBytes))
export const octets = (b: Uint8Array): Der => tlv(0x04, b)
export const nul = (): Der => new Uint8Array([0x05, 0x00])
/** Context-specific constructed tag `[n]` (EXPLICIT, or IMPLICIT of a constructed type). */
export const ctx = (n: number, ...c: Der[]): Der => tlv(0xa0 | n, ...c)

export function integer(n: number): Der {
  const bytes: number[] = []
  let v = n
  do {
    bytes.unshift(v & 0xff)
    v = Math.floor(v / 256)
  } while (v > 0)
  if (bytes[0]! & 0x80) bytes.unshift(0)
  return tlv(0x02, new Uint8Array(bytes))
}

export function oid(dotted: string): Der {
  const parts = dotted.split('.').map(Number)
  const out: number[] = [40 * parts[0]! + parts[1]!]
  for (const p of parts.slice(2)) {
    const enc: number[] = [p & 0x7f]
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f))
    out.push(...enc)
  }
  return tlv(0x06, new Uint8Array(out))
}

/** BMPString contents (UTF-16BE), for an IMPLICIT tag chosen by the caller. */
export function bmp(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2)
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) >> 8
    out[2 * i + 1] = text.charCodeAt(i) & 0xff
  }
  return out
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.byteLength - b.byteLength
}

export interface Node {
  readonly tag: number
  /** the whole encoding (tag, length, contents) */
  readonly raw: Uint8Array
  /** contents only */
  readonly body: Uint8Array
}

/** Reads the TLV at `offset` (definite lengths only, as DER requires). */
export function readNode(buf: Uint8Array, offset = 0): Node {
  const tag = buf[offset]
  let len = buf[offset + 1]
  if (tag === undefined || len === undefined) throw new Error('truncated DER')
  let head = 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4) throw new Error('unsupported DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!
    head += n
  }
  if (offset + head + len > buf.byteLength) throw new Error('truncated DER')
  return { tag, raw: buf.subarray(offset, offset + head + len), body: buf.subarray(offset + head, offset + head + len) }
}

export function children(node: Node): Node[] {
  const out: Node[] = []
  for (let off = 0; off < node.body.byteLength; ) {
    const c = readNode(node.body, off)
    out.push(c)
    off += c.raw.byteLength
  }
  return out
}

/** Issuer Name and serialNumber INTEGER (both as full DER encodings) of an X.509 certificate. */
export function issuerAndSerial(certDer: Uint8Array): { issuer: Der; serial: Der } {
  const tbs = children(readNode(certDer))[0]
  if (!tbs) throw new Error('not an X.509 certificate')
  const fields = children(tbs)
  // version [0] EXPLICIT is optional (absent for v1 certificates)
  const i = fields[0]?.tag === 0xa0 ? 1 : 0
  const serial = fields[i]
  const issuer = fields[i + 2]
  if (serial?.tag !== 0x02 || issuer?.tag !== 0x30) throw new Error('not an X.509 certificate')
  return { issuer: issuer.raw, serial: serial.raw }
}
