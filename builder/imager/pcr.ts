/**
 * The signed PCR 11 policy of a UKI (`.pcrsig`, imager-spec §5.4): what systemd-measure computes,
 * plus Talos's `enter-machined` boot phase (stock systemd-measure cannot emit it).
 *
 * The TPM extends PCR 11 with each measured UKI section (its name with a NUL, then its contents)
 * in a fixed order, then with the boot phase strings. Talos unseals its disk encryption key after
 * `enter-machined` with a policy that requires a signature by the PCR key over the expected value;
 * this file produces that signature for each bank.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto'
import { pieceLength, readRange, type Piece } from './pe.ts'

export const BANKS = ['sha256', 'sha384', 'sha512'] as const
export type Bank = (typeof BANKS)[number]
export type Digests = Readonly<Record<Bank, Buffer>>

/** The order in which the stub measures sections (systemd's unified section list). */
export const MEASURED_ORDER = ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.pcrpkey', '.profile', '.dtbauto', '.hwids'] as const

/** Phases measured by systemd-pcrphase (and machined) after the stub; the signature is for the last. */
export const PHASES = ['enter-initrd', 'leave-initrd', 'enter-machined'] as const

const TPM_CC_POLICY_PCR = 0x17f
const TPM_ALG: Record<Bank, number> = { sha256: 0x000b, sha384: 0x000c, sha512: 0x000d }
const PCR = 11

/** Digests of a section's contents in every bank, streaming file-backed pieces once. */
export async function digestPiece(piece: Piece, signal?: AbortSignal): Promise<Digests> {
  const hashes = BANKS.map((b) => createHash(b))
  if (piece.kind === 'bytes') for (const h of hashes) h.update(piece.data)
  else if (piece.kind === 'zeros') {
    const z = new Uint8Array(Math.min(pieceLength(piece), 1 << 20))
    for (let left = piece.length; left > 0; left -= z.byteLength) for (const h of hashes) h.update(z.subarray(0, Math.min(left, z.byteLength)))
  } else {
    await readRange(piece.path, piece.offset, piece.length, (c) => {
      for (const h of hashes) h.update(c)
    }, signal)
  }
  const [sha256, sha384, sha512] = hashes.map((h) => h.digest())
  return { sha256: sha256!, sha384: sha384!, sha512: sha512! }
}

export function digestBytes(data: Uint8Array | string): Digests {
  const d = (b: Bank) => createHash(b).update(data).digest()
  return { sha256: d('sha256'), sha384: d('sha384'), sha512: d('sha512') }
}

/**
 * PCR 11 value after the stub measured `sections` (name → contents digests) and the boot phases
 * up to and including `enter-machined`.
 */
export function expectedPcr(sections: ReadonlyMap<string, Digests>, bank: Bank): Buffer {
  let pcr = Buffer.alloc(createHash(bank).digest().byteLength)
  const extendDigest = (d: Buffer) => {
    pcr = createHash(bank).update(pcr).update(d).digest()
  }
  const extend = (data: Uint8Array | string) => extendDigest(createHash(bank).update(data).digest())
  for (const name of MEASURED_ORDER) {
    const d = sections.get(name)
    if (!d) continue
    extend(Buffer.concat([Buffer.from(name, 'latin1'), Buffer.from([0])]))
    extendDigest(d[bank])
  }
  for (const phase of PHASES) extend(phase)
  return pcr
}

/** TPM2_PolicyPCR digest (always a SHA-256 policy session) for PCR 11 of `bank` holding `pcr`. */
export function policyDigest(pcr: Buffer, bank: Bank): Buffer {
  const sel = Buffer.alloc(4 + 2 + 1 + 3)
  sel.writeUInt32BE(1, 0) // count
  sel.writeUInt16BE(TPM_ALG[bank], 4)
  sel.writeUInt8(3, 6) // sizeofSelect
  sel[7 + (PCR >> 3)] = 1 << (PCR & 7)
  const cc = Buffer.alloc(4)
  cc.writeUInt32BE(TPM_CC_POLICY_PCR, 0)
  return createHash('sha256')
    .update(Buffer.alloc(32))
    .update(cc)
    .update(sel)
    .update(createHash('sha256').update(pcr).digest())
    .digest()
}

export interface PolicyEntry {
  pcrs: number[]
  pkfp: string
  pol: string
  sig: string
}

/** The `.pcrsig` JSON (compact, banks and fields in the reference's order). */
export function pcrSignatureJson(sections: ReadonlyMap<string, Digests>, pcrKey: KeyObject): string {
  if (pcrKey.asymmetricKeyType !== 'rsa') throw new Error('the PCR signing key must be an RSA key')
  const pkcs1 = createPublicKey(pcrKey).export({ type: 'pkcs1', format: 'der' })
  const pkfp = createHash('sha256').update(pkcs1).digest('hex')
  const out: Record<string, PolicyEntry[]> = {}
  for (const bank of BANKS) {
    const pol = policyDigest(expectedPcr(sections, bank), bank)
    // RSASSA-PKCS1-v1_5 over H_bank(pol): deterministic for a given key
    const sig = sign(bank, pol, pcrKey)
    out[bank] = [{ pcrs: [PCR], pkfp, pol: pol.toString('hex'), sig: sig.toString('base64') }]
  }
  return JSON.stringify(out)
}

/** PEM (PKIX SubjectPublicKeyInfo) of the PCR key, the `.pcrpkey` section. */
export function pcrPublicKeyPem(pcrKey: KeyObject): string {
  return createPublicKey(pcrKey).export({ type: 'spki', format: 'pem' }).toString()
}
