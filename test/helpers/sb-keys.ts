/**
 * Secure Boot key sets for tests, made with the openssl CLI (independently of the factory's own
 * key generation): UKI signing key + self-signed certificate and a PCR signing key, PKCS#1 PEM as
 * the reference's `talosctl gen secureboot` writes them. RSA-2048 keeps the tests fast.
 */
import { execa } from 'execa'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'

export interface TestKeys {
  dir: string
  signingKey: string
  signingCert: string
  pcrKey: string
}

export async function makeTestKeys(dir: string, cn = 'Test Secure Boot'): Promise<TestKeys> {
  await mkdir(dir, { recursive: true })
  const signingKey = join(dir, 'uki-signing-key.pem')
  const signingCert = join(dir, 'uki-signing-cert.pem')
  const pcrKey = join(dir, 'pcr-signing-key.pem')
  await execa('openssl', ['genrsa', '-traditional', '-out', signingKey, '2048'])
  await execa('openssl', ['genrsa', '-traditional', '-out', pcrKey, '2048'])
  await execa('openssl', ['req', '-new', '-x509', '-key', signingKey, '-sha256', '-days', '3650', '-subj', `/CN=${cn}/`, '-out', signingCert])
  return { dir, signingKey, signingCert, pcrKey }
}

/** Debian's OVMF variable store with Microsoft's keys enrolled (package `ovmf`). */
export const OVMF_MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd'

/**
 * A FACTORY_SECUREBOOT_WELL_KNOWN_CERTS directory with the Microsoft certificates Debian's OVMF
 * carries (KEK CA 2011, UEFI CA 2011), made by the operator's tool
 * (`npm run secureboot:well-known`).
 */
export async function makeWellKnownCerts(dir: string): Promise<{ dir: string; kek: string[]; db: string[] }> {
  await execa(process.execPath, ['builder/uefi-well-known-certs.ts', dir, '--from', OVMF_MS_VARS])
  return { dir, kek: [join(dir, 'kek', 'MicCorKEKCA2011_2011-06-24.der')], db: [join(dir, 'db', 'MicCorUEFCA2011_2011-06-27.der')] }
}
