/**
 * The factory's Secure Boot key set: the UKI signing key and certificate, and the PCR signing key.
 *
 * They come from the three FACTORY_SECUREBOOT_* file settings, or — when Secure Boot is enabled
 * and none is set — from `<data>/keys/secureboot/`, generated there on first start. Several nodes
 * sharing the data directory race safely: each generates into its own temp directory and renames
 * it into place; whoever loses removes its own keys and uses the winner's, so every node signs
 * with the same keys.
 *
 * Only public facts leave this module: the certificate (served at /secureboot/signing-cert.pem)
 * and the key fingerprints (cache-key salt). The private keys stay in their files; the imager
 * reads them there.
 */
import { execFile } from 'node:child_process'
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Config } from '../config.ts'
import { ConfigError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { loadWellKnownCerts, WellKnownCertsError } from './well-known.ts'

/** Where the imager profile says the keys are (the official imager container's mount). */
export const PROFILE_KEY_PATHS = {
  signingKeyPath: '/secureboot/uki-signing-key.pem',
  signingCertPath: '/secureboot/uki-signing-cert.pem',
  pcrKeyPath: '/secureboot/pcr-signing-key.pem',
} as const

export interface SecureBootKeyFiles {
  readonly signingKeyPath: string
  readonly signingCertPath: string
  readonly pcrKeyPath: string
  /** FACTORY_SECUREBOOT_WELL_KNOWN_CERTS, checked at start-up (src/secureboot/well-known.ts) */
  readonly wellKnown?: { readonly dir: string; readonly sha256: string }
}

export interface SecureBootMaterial extends SecureBootKeyFiles {
  /** the signing certificate, canonical PEM (what /secureboot/signing-cert.pem serves) */
  readonly certPem: string
  /** SHA-256 of the certificate (DER) and of the PCR public key (SubjectPublicKeyInfo DER), hex */
  readonly certSha256: string
  readonly pcrKeySha256: string
}

const GENERATED_DIR = ['keys', 'secureboot']
const KEY_BITS = 4096
const CERT_DAYS = 3650
const SUBJECT = '/CN=Talos Image Factory Secure Boot Signing/O=Image Factory/'

/** Canonical PEM (Go `pem.Encode` layout): base64 in 64-character lines, trailing newline. */
export function pemEncode(type: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`
}

async function readKeyFile(path: string, setting: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Reads and checks a key set; ConfigError naming the setting (or directory) at fault. */
export async function loadKeyFiles(files: SecureBootKeyFiles, names: { key: string; cert: string; pcr: string }): Promise<SecureBootMaterial> {
  const [keyText, certText, pcrText] = await Promise.all([
    readKeyFile(files.signingKeyPath, names.key),
    readKeyFile(files.signingCertPath, names.cert),
    readKeyFile(files.pcrKeyPath, names.pcr),
  ])
  const rsa = (text: string, setting: string) => {
    let key
    try {
      key = createPrivateKey(text)
    } catch {
      throw new ConfigError(`${setting}: not a PEM private key`)
    }
    if (key.asymmetricKeyType !== 'rsa') throw new ConfigError(`${setting}: must be an RSA key (UEFI Secure Boot and TPM policies use RSA)`)
    return key
  }
  const key = rsa(keyText, names.key)
  const pcrKey = rsa(pcrText, names.pcr)
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certText)
  } catch {
    throw new ConfigError(`${names.cert}: not a PEM X.509 certificate`)
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`${names.cert}: the certificate does not belong to the signing key`)
  const spki = createPublicKey(pcrKey).export({ type: 'spki', format: 'der' })
  return {
    signingKeyPath: resolve(files.signingKeyPath),
    signingCertPath: resolve(files.signingCertPath),
    pcrKeyPath: resolve(files.pcrKeyPath),
    certPem: pemEncode('CERTIFICATE', cert.raw),
    certSha256: createHash('sha256').update(cert.raw).digest('hex'),
    pcrKeySha256: createHash('sha256').update(spki).digest('hex'),
  }
}

const genRsa = promisify(generateKeyPair)

async function rsaPkcs1Pem(): Promise<string> {
  const { privateKey } = await genRsa('rsa', { modulusLength: KEY_BITS })
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
}

/** Writes a fresh key set (PKCS#1 keys as the reference's tools write them) into `dir`. */
async function generateKeySet(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const [signing, pcr] = await Promise.all([rsaPkcs1Pem(), rsaPkcs1Pem()])
  const keyPath = join(dir, 'uki-signing-key.pem')
  await writeFile(keyPath, signing, { mode: 0o600 })
  await writeFile(join(dir, 'pcr-signing-key.pem'), pcr, { mode: 0o600 })
  // self-signed certificate with code-signing usage; openssl is part of the runtime dependencies
  await promisify(execFile)('openssl', [
    'req', '-new', '-x509', '-sha256', '-days', String(CERT_DAYS), '-key', keyPath, '-subj', SUBJECT,
    '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=codeSigning',
    '-out', join(dir, 'uki-signing-cert.pem'),
  ])
}

function generatedFiles(dir: string): SecureBootKeyFiles {
  return {
    signingKeyPath: join(dir, 'uki-signing-key.pem'),
    signingCertPath: join(dir, 'uki-signing-cert.pem'),
    pcrKeyPath: join(dir, 'pcr-signing-key.pem'),
  }
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  )
}

/**
 * The key set for `config`, or undefined when Secure Boot is disabled. Generates the keys into the
 * data directory when none are configured (and logs it, with the certificate's fingerprint).
 */
export async function ensureSecureBootKeys(config: Config, log: Logger): Promise<SecureBootMaterial | undefined> {
  const sb = config.secureBoot
  if (!sb.enabled) return undefined
  const material = await signingKeys(config, log)
  if (sb.wellKnownCertsDir === '') return material
  let wellKnown
  try {
    wellKnown = await loadWellKnownCerts(sb.wellKnownCertsDir)
  } catch (err) {
    if (err instanceof WellKnownCertsError) throw new ConfigError(`FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: ${err.message}`)
    throw err
  }
  log.info('well-known UEFI certificates for enrolment', {
    dir: wellKnown.dir,
    kek: wellKnown.kek.map((c) => c.subject),
    db: wellKnown.db.map((c) => c.subject),
  })
  return { ...material, wellKnown: { dir: wellKnown.dir, sha256: wellKnown.sha256 } }
}

async function signingKeys(config: Config, log: Logger): Promise<SecureBootMaterial> {
  const sb = config.secureBoot
  if (sb.signingKeyPath !== '') {
    return loadKeyFiles(sb, { key: 'FACTORY_SECUREBOOT_SIGNING_KEY', cert: 'FACTORY_SECUREBOOT_SIGNING_CERT', pcr: 'FACTORY_SECUREBOOT_PCR_KEY' })
  }
  const keysDir = resolve(config.dataDir, ...GENERATED_DIR)
  const files = generatedFiles(keysDir)
  const names = { key: files.signingKeyPath, cert: files.signingCertPath, pcr: files.pcrKeyPath }
  // the directory appears complete or not at all (renamed into place)
  if (await exists(files.signingCertPath)) return loadKeyFiles(files, names)
  const tmp = resolve(config.dataDir, 'keys', `.secureboot-${process.pid}-${randomBytes(6).toString('hex')}.tmp`)
  try {
    await generateKeySet(tmp)
    try {
      await rename(tmp, keysDir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // another node won the race: use its keys
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err
      return loadKeyFiles(files, names)
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`FACTORY_SECUREBOOT_ENABLED: cannot generate Secure Boot keys in ${keysDir}: ${(err as Error).message.split('\n')[0]}`)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  const material = await loadKeyFiles(files, names)
  log.info('generated Secure Boot keys', { dir: keysDir, cert_sha256: material.certSha256 })
  return material
}

/** Cache-key salt naming the keys (their public halves' fingerprints): new keys → new assets. */
export function secureBootCacheSalt(m: Pick<SecureBootMaterial, 'certSha256' | 'pcrKeySha256' | 'wellKnown'>): string {
  const base = `secureboot keys ${m.certSha256} ${m.pcrKeySha256}`
  // only with the setting, so the keys of factories without it stay as they were
  return m.wellKnown ? `${base} well-known ${m.wellKnown.sha256}` : base
}
