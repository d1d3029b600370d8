/**
 * Secure Boot key material for the imager: the UKI signing key and certificate (Authenticode
 * signatures, enrolment databases), the PCR signing key (`.pcrsig`), and the PK/KEK/db `.auth`
 * files systemd-boot enrols from `loader/keys/auto/` (imager-spec §6.4).
 *
 * The signature lists are written here; efitools' `sign-efi-sig-list` wraps them as `.auth`. The
 * reference stamps them with the current time; we use SOURCE_DATE_EPOCH so the same keys give the
 * same files (and a Secure Boot ISO is reproducible). The timestamp only orders updates of an
 * already-enrolled variable, and enrolment happens in setup mode, so any past time works.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pemEncode } from '../../src/secureboot/keys.ts'
import { loadWellKnownCerts, WELL_KNOWN_OWNER_GUID, WellKnownCertsError, type WellKnownCerts } from '../../src/secureboot/well-known.ts'
import type { PeSigner } from './authenticode.ts'
import { ImagerEnvironmentError, ImagerUnsupportedError, ioError } from './errors.ts'
import { runTool, SOURCE_DATE_EPOCH } from './exec.ts'
import { guidToBytes } from './gpt.ts'
import type { SecureBootInput } from './profile.ts'

export interface SecureBootKeys {
  readonly signer: PeSigner
  readonly pcrKey: KeyObject
  /** the signing certificate, canonical PEM (Go `pem.Encode` layout) */
  readonly certPem: string
  readonly certPath: string
  readonly keyPath: string
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw ioError(`cannot read the ${what} ${path}`, err)
  }
}

function privateKey(pem: string, what: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    throw new ImagerEnvironmentError(`the ${what} is not a PEM private key`)
  }
  if (key.asymmetricKeyType !== 'rsa') throw new ImagerEnvironmentError(`the ${what} must be an RSA key`)
  return key
}

/**
 * Loads and checks the profile's file signers (PKCS#1 or PKCS#8 PEM keys, PEM certificate). Bad
 * key files are the operator's problem, not the client's: environment errors (exit 4), and the
 * factory checks them at start-up already (src/secureboot/keys.ts).
 */
export async function loadSecureBootKeys(input: SecureBootInput): Promise<SecureBootKeys> {
  const [keyPem, certText, pcrPem] = await Promise.all([
    readText(input.signingKeyPath, 'Secure Boot signing key'),
    readText(input.signingCertPath, 'Secure Boot signing certificate'),
    readText(input.pcrKeyPath, 'PCR signing key'),
  ])
  const key = privateKey(keyPem, 'Secure Boot signing key')
  const pcrKey = privateKey(pcrPem, 'PCR signing key')
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certText)
  } catch {
    throw new ImagerEnvironmentError('the Secure Boot signing certificate is not a PEM X.509 certificate')
  }
  if (!cert.checkPrivateKey(key)) throw new ImagerEnvironmentError('the Secure Boot signing certificate does not match the signing key')
  return { signer: { key, certDer: new Uint8Array(cert.raw) }, pcrKey, certPem: pemEncode('CERTIFICATE', cert.raw), certPath: input.signingCertPath, keyPath: input.signingKeyPath }
}

const NAMESPACE_X500 = Buffer.from('6ba7b8149dad11d180b400c04fd430c8', 'hex')

/**
 * Owner GUID of the enrolled certificate: a version-4-labelled name-based UUID, SHA-256 over the
 * X.500 namespace and the certificate's canonical PEM (the reference's `uuid.NewHash`).
 */
export function signatureOwnerGuid(certPem: string): string {
  const h = createHash('sha256').update(NAMESPACE_X500).update(certPem).digest().subarray(0, 16)
  h[6] = (h[6]! & 0x0f) | 0x40
  h[8] = (h[8]! & 0x3f) | 0x80
  const x = h.toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

/** `YYYY-MM-DD hh:mm:ss` (UTC) for efitools' `-t`. */
function efiTimestamp(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 19)
}

export interface EnrollmentFiles {
  readonly pk: string
  readonly kek: string
  readonly db: string
}

/** EFI_CERT_X509_GUID: the signature type of X.509 certificates in an EFI_SIGNATURE_LIST */
const EFI_CERT_X509_GUID = 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072'

export interface EslEntry {
  readonly owner: string
  readonly der: Uint8Array
}

/**
 * EFI_SIGNATURE_LISTs of X.509 certificates, in order. As the reference's go-uefi does, a
 * certificate joins an earlier list whose signatures have its size (a list holds one size only)
 * and otherwise starts a new one.
 */
export function x509SignatureLists(entries: readonly EslEntry[]): Buffer {
  const lists: { size: number; sigs: Buffer[] }[] = []
  for (const e of entries) {
    const sig = Buffer.concat([guidToBytes(e.owner), e.der])
    const list = lists.find((l) => l.size === sig.length)
    if (list) list.sigs.push(sig)
    else lists.push({ size: sig.length, sigs: [sig] })
  }
  return Buffer.concat(
    lists.map((l) => {
      const header = Buffer.alloc(28)
      header.set(guidToBytes(EFI_CERT_X509_GUID), 0)
      header.writeUInt32LE(28 + l.size * l.sigs.length, 16) // SignatureListSize
      header.writeUInt32LE(0, 20) // SignatureHeaderSize
      header.writeUInt32LE(l.size, 24) // SignatureSize
      return Buffer.concat([header, ...l.sigs])
    }),
  )
}

async function wellKnownCerts(dir: string | undefined): Promise<WellKnownCerts> {
  if (!dir) {
    throw new ImagerUnsupportedError('including the well-known (Microsoft) UEFI certificates needs them in FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: this factory does not ship them')
  }
  try {
    return await loadWellKnownCerts(dir)
  } catch (err) {
    if (err instanceof WellKnownCertsError) throw new ImagerEnvironmentError(`well-known UEFI certificates: ${err.message}`)
    throw err
  }
}

/**
 * PK, KEK and db `.auth` files enrolling the signing certificate (each variable signed by the
 * signing key), or the profile's pre-built ones. With `includeWellKnownCerts`, KEK and db also get
 * the well-known certificates of `opts.wellKnownCertsDir` (owner: Microsoft's GUID); without that
 * directory the request is unsupported (501): the factory does not ship Microsoft's certificates.
 */
export async function enrollmentDatabase(
  input: SecureBootInput,
  keys: SecureBootKeys,
  workDir: string,
  opts: { wellKnownCertsDir?: string; signal?: AbortSignal } = {},
): Promise<EnrollmentFiles> {
  if (input.platformKeyPath && input.keyExchangeKeyPath && input.signatureKeyPath) {
    return { pk: input.platformKeyPath, kek: input.keyExchangeKeyPath, db: input.signatureKeyPath }
  }
  const wellKnown = input.includeWellKnownCerts ? await wellKnownCerts(opts.wellKnownCertsDir) : null
  const guid = signatureOwnerGuid(keys.certPem)
  const own: EslEntry = { owner: guid, der: new X509Certificate(keys.certPem).raw }
  const extra = (list: readonly { der: Uint8Array }[] | undefined): EslEntry[] => (list ?? []).map((c) => ({ owner: WELL_KNOWN_OWNER_GUID, der: c.der }))
  const databases = { PK: [own], KEK: [own, ...extra(wellKnown?.kek)], db: [own, ...extra(wellKnown?.db)] }
  const certPem = join(workDir, 'enroll-cert.pem')
  try {
    await writeFile(certPem, keys.certPem)
  } catch (err) {
    throw ioError(`cannot write ${certPem}`, err)
  }
  const out: Record<string, string> = {}
  for (const v of ['PK', 'KEK', 'db'] as const) {
    const esl = join(workDir, `${v}.esl`)
    const file = join(workDir, `${v}.auth`)
    try {
      await writeFile(esl, x509SignatureLists(databases[v]))
    } catch (err) {
      throw ioError(`cannot write ${esl}`, err)
    }
    await runTool('sign-efi-sig-list', ['-t', efiTimestamp(SOURCE_DATE_EPOCH), '-g', guid, '-k', keys.keyPath, '-c', certPem, v, esl, file], opts.signal ? { signal: opts.signal } : {})
    out[v] = file
  }
  return { pk: out.PK!, kek: out.KEK!, db: out.db! }
}
