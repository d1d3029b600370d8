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
