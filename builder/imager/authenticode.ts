/**
 * Authenticode signing of PE images (what UEFI Secure Boot checks), written natively so that
 * signing streams from disk and gives the same bytes every time.
 *
 * Why not sbsign: it buffers the image and its PKCS#7 carries a signing time, so every run gives
 * different bytes (spec/env-lab.md) and a signed UKI or Secure Boot ISO could never be
 * reproducible. RSASSA-PKCS1-v1_5 is deterministic, so without a signing time the signature is a
 * function of the image and the key. `sbverify --cert` and OVMF's Secure Boot verify the result
 * (test/unit/imager-uki.test.ts, test/e2e/secureboot-boot.test.ts).
 *
 * The image hash follows the Authenticode PE specification as EDK2 applies it: the headers
 * without the CheckSum field and the certificate-table directory entry, then every section's raw
 * data in file order, then whatever follows up to the certificate table (including the zero
 * padding that aligns the table to 8 bytes).
 */
import { createHash, sign, type KeyObject } from 'node:crypto'
import { bmp, ctx, integer, issuerAndSerial, nul, octets, oid, seq, setOf, tlv, type Der } from './asn1.ts'
import { alignUp, certificateTable, dataDirOffset, DIR_SECURITY, emitPieces, pieceLength, type ByteSink, type PeFile, type Piece } from './pe.ts'

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2'
const OID_SHA256 = '2.16.840.1.101.3.4.2.1'
const OID_RSA = '1.2.840.113549.1.1.1'
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3'
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4'
const OID_SPC_INDIRECT_DATA = '1.3.6.1.4.1.311.2.1.4'
const OID_SPC_PE_IMAGE_DATA = '1.3.6.1.4.1.311.2.1.15'
const OID_SPC_SP_OPUS_INFO = '1.3.6.1.4.1.311.2.1.12'

const WIN_CERT_REVISION_2_0 = 0x0200
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002

export interface PeSigner {
  readonly key: KeyObject
  /** DER of the signing certificate */
  readonly certDer: Uint8Array
}

const sha256Alg = (): Der => seq(oid(OID_SHA256), nul())

/** PKCS#7 SignedData (DER) carrying an Authenticode SpcIndirectDataContent for `imageHash`. */
export function authenticodeSignature(imageHash: Uint8Array, signer: PeSigner): Uint8Array {
  if (signer.key.asymmetricKeyType !== 'rsa') throw new Error('the Secure Boot signing key must be an RSA key')
  // SpcPeImageData: empty flags, file = SpcLink.file [2] { SpcString.unicode [0] "<<<Obsolete>>>" }
  const peImageData = seq(new Uint8Array([0x03, 0x01, 0x00]), ctx(0, ctx(2, tlv(0x80, bmp('<<<Obsolete>>>')))))
  const indirect = seq(seq(oid(OID_SPC_PE_IMAGE_DATA), peImageData), seq(sha256Alg(), octets(imageHash)))
  // the messageDigest covers the SpcIndirectDataContent's contents, without its own tag and length
  const indirectBody = indirect.subarray(indirect.byteLength - contentLength(indirect))
  const attrs = [
    seq(oid(OID_CONTENT_TYPE), setOf(oid(OID_SPC_INDIRECT_DATA))),
    seq(oid(OID_SPC_SP_OPUS_INFO), setOf(seq())),
    seq(oid(OID_MESSAGE_DIGEST), setOf(octets(createHash('sha256').update(indirectBody).digest()))),
  ]
  const signedAttrs = setOf(...attrs)
  const signature = sign('sha256', signedAttrs, signer.key)
  const { issuer, serial } = issuerAndSerial(signer.certDer)
  const signerInfo = seq(
    integer(1),
    seq(issuer, serial),
    sha256Alg(),
    // the same attributes under [0] IMPLICIT
    tlv(0xa0, signedAttrs.subarray(signedAttrs.byteLength - contentLength(signedAttrs))),
    seq(oid(OID_RSA), nul()),
    octets(signature),
  )
  const signedData = seq(
    integer(1),
    setOf(sha256Alg()),
    seq(oid(OID_SPC_INDIRECT_DATA), ctx(0, indirect)),
    ctx(0, signer.certDer),
    setOf(signerInfo),
  )
  return seq(oid(OID_SIGNED_DATA), ctx(0, signedData))
}

function contentLength(der: Uint8Array): number {
  const l = der[1]!
  if (!(l & 0x80)) return l
  let n = 0
  for (let i = 0; i < (l & 0x7f); i++) n = n * 256 + der[2 + i]!
  return n
}

/** WIN_CERTIFICATE wrapping a PKCS#7 blob, zero-padded to 8 bytes. */
export function winCertificate(pkcs7: Uint8Array): Uint8Array {
  const len = 8 + pkcs7.byteLength
  const out = new Uint8Array(alignUp(len, 8))
  const v = new DataView(out.buffer)
  v.setUint32(0, len, true)
  v.setUint16(4, WIN_CERT_REVISION_2_0, true)
  v.setUint16(6, WIN_CERT_TYPE_PKCS_SIGNED_DATA, true)
  out.set(pkcs7, 8)
  return out
}

/**
 * A PE image to sign, described as pieces: `headers` (up to SizeOfHeaders, section table included)
 * and the bytes that follow them, in file order, up to where the certificate table goes.
 */
export interface UnsignedImage {
  readonly headers: Uint8Array
  /** offset of the optional header in `headers` */
  readonly optOffset: number
  readonly numberOfRvaAndSizes: number
  /** file ranges of the sections' raw data, relative to the start of the image */
  readonly sections: readonly { readonly pointerToRawData: number; readonly sizeOfRawData: number }[]
  /** everything after the headers, in order (sections, gaps, trailing data) */
  readonly body: readonly Piece[]
  /** an existing certificate table to keep (signatures are added after it) */
  readonly existingCertificates?: Piece
}

/** The part [from, to) of the concatenated pieces, as pieces. */
export function slicePieces(pieces: readonly Piece[], from: number, to: number): Piece[] {
  const out: Piece[] = []
  let pos = 0
  for (const p of pieces) {
    const len = pieceLength(p)
    const start = pos
    pos += len
    if (pos <= from) continue
    if (start >= to) break
    const lo = Math.max(from, start) - start
    const hi = Math.min(to, pos) - start
    if (p.kind === 'bytes') out.push({ kind: 'bytes', data: p.data.subarray(lo, hi) })
    else if (p.kind === 'zeros') out.push({ kind: 'zeros', length: hi - lo })
    else out.push({ kind: 'file', path: p.path, offset: p.offset + lo, length: hi - lo })
  }
  return out
}

/**
 * Signs `image` and streams the signed image into `sink`: one hashing pass over the pieces, then
 * one writing pass with the certificate table appended.
 */
export async function signImage(image: UnsignedImage, signer: PeSigner, sink: ByteSink, signal?: AbortSignal): Promise<void> {
  const sizeOfHeaders = image.headers.byteLength
  const bodyLength = image.body.reduce((n, p) => n + pieceLength(p), 0)
  const unpadded = sizeOfHeaders + bodyLength
  const certOffset = alignUp(unpadded, 8)
  const padding: Piece = { kind: 'zeros', length: certOffset - unpadded }
  const pieces: Piece[] = [{ kind: 'bytes', data: image.headers }, ...image.body, padding]

  const checksumAt = image.optOffset + 64
  const secDirAt = dataDirOffset(image, DIR_SECURITY)
  if (secDirAt === null) throw new Error('PE image has no certificate table directory')
  const sum = sizeOfHeaders + image.sections.reduce((n, s) => n + s.sizeOfRawData, 0)
  const sectionRanges = [...image.sections]
    .filter((s) => s.sizeOfRawData > 0)
    .sort((a, b) => a.pointerToRawData - b.pointerToRawData)
    .map((s): [number, number] => [s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData])
  if (sectionRanges.some(([, end]) => end > certOffset)) throw new Error('PE section data extends past the image')
  // the spec's order: headers minus CheckSum and the certificate directory entry, sections by
  // file offset, then from "bytes hashed so far" up to the certificate table
  const ranges: [number, number][] = [
    [0, checksumAt],
    [checksumAt + 4, secDirAt],
    [secDirAt + 8, sizeOfHeaders],
    ...sectionRanges,
    ...(certOffset > sum ? [[sum, certOffset] as [number, number]] : []),
  ]
  const hash = createHash('sha256')
  for (const [from, to] of ranges) await emitPieces(slicePieces(pieces, from, to), { write: (c) => void hash.update(c) }, signal)

  const cert = winCertificate(authenticodeSignature(hash.digest(), signer))
  const existing = image.existingCertificates
  const headers = image.headers.slice()
  const hv = new DataView(headers.buffer)
  hv.setUint32(secDirAt, certOffset, true)
  hv.setUint32(secDirAt + 4, (existing ? pieceLength(existing) : 0) + cert.byteLength, true)
  await emitPieces([{ kind: 'bytes', data: headers }, ...image.body, padding, ...(existing ? [existing] : []), { kind: 'bytes', data: cert }], sink, signal)
}

/** Describes an existing PE file for {@link signImage} (keeping any signatures it already has). */
export function unsignedImageOf(pe: PeFile): UnsignedImage {
  const table = certificateTable(pe)
  const end = table ? table.offset : pe.fileSize
  if (table && table.offset + table.size !== pe.fileSize) throw new Error(`${pe.path}: the certificate table is not at the end of the file`)
  const headers = pe.headers.subarray(0, pe.sizeOfHeaders)
  return {
    headers,
    optOffset: pe.optOffset,
    numberOfRvaAndSizes: pe.numberOfRvaAndSizes,
    sections: pe.sections,
    body: [{ kind: 'file', path: pe.path, offset: pe.sizeOfHeaders, length: end - pe.sizeOfHeaders }],
    ...(table ? { existingCertificates: { kind: 'file', path: pe.path, offset: table.offset, length: table.size } as Piece } : {}),
  }
}
