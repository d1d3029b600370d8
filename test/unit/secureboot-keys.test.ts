/**
 * The factory's Secure Boot key set (src/secureboot/keys.ts): configured files are checked,
 * missing ones are generated once into the data directory, and nodes racing on a fresh data
 * directory end up with the same keys. Private keys never reach a log line.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { ConfigError } from '../../src/errors.ts'
import { createLogger } from '../../src/log.ts'
import { ensureSecureBootKeys, secureBootCacheSalt } from '../../src/secureboot/keys.ts'
import { makeTestKeys, type TestKeys } from '../helpers/sb-keys.ts'

let work: string
let keys: TestKeys

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-keys-'))
  keys = await makeTestKeys(join(work, 'given'))
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

function logs(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = []
  return { lines, log: createLogger('debug', {}, (l) => lines.push(l)) }
}

describe('configuration', () => {
  test('disabled (default) → no keys, nothing generated', async () => {
    const dataDir = join(work, 'off')
    expect(await ensureSecureBootKeys(loadConfig({ FACTORY_DATA_DIR: dataDir }), logs().log)).toBeUndefined()
    expect(await readdir(dataDir).catch(() => [])).toEqual([])
  })

  test('the three key files go together', () => {
    expect(() => loadConfig({ FACTORY_SECUREBOOT_ENABLED: 'true', FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey })).toThrow(ConfigError)
  })

  test('configured files: checked, certificate served canonically, fingerprints salt the cache key', async () => {
    const env = { FACTORY_DATA_DIR: join(work, 'cfg'), FACTORY_SECUREBOOT_ENABLED: 'true', FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey, FACTORY_SECUREBOOT_SIGNING_CERT: keys.signingCert, FACTORY_SECUREBOOT_PCR_KEY: keys.pcrKey }
    const m = (await ensureSecureBootKeys(loadConfig(env), logs().log))!
    expect(m.signingKeyPath).toBe(keys.signingKey)
    expect(m.certPem).toBe(await readFile(keys.signingCert, 'utf8'))
    const der = (await execa('openssl', ['x509', '-in', keys.signingCert, '-outform', 'DER'], { encoding: 'buffer' })).stdout
    expect(m.certSha256).toBe(new Bun.CryptoHasher('sha256').update(der).digest('hex'))
    expect(secureBootCacheSalt(m)).toBe(`secureboot keys ${m.certSha256} ${m.pcrKeySha256}`)
  })

  test('a certificate of another key, or a file that is not a key, is a configuration error naming the setting', async () => {
    const other = await makeTestKeys(join(work, 'other'))
    const base = { FACTORY_DATA_DIR: join(work, 'bad'), FACTORY_SECUREBOOT_ENABLED: 'true', FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey, FACTORY_SECUREBOOT_PCR_KEY: keys.pcrKey }
    const mismatch = ensureSecureBootKeys(loadConfig({ ...base, FACTORY_SECUREBOOT_SIGNING_CERT: other.signingCert }), logs().log)
    await expect(mismatch).rejects.toThrow('FACTORY_SECUREBOOT_SIGNING_CERT: the certificate does not belong to the signing key')
    const notKey = join(work, 'not-a-key.pem')
    await writeFile(notKey, 'hello\n')
    const bad = ensureSecureBootKeys(loadConfig({ ...base, FACTORY_SECUREBOOT_SIGNING_CERT: keys.signingCert, FACTORY_SECUREBOOT_PCR_KEY: notKey }), logs().log)
    await expect(bad).rejects.toThrow('FACTORY_SECUREBOOT_PCR_KEY: not a PEM private key')
    const missing = ensureSecureBootKeys(loadConfig({ ...base, FACTORY_SECUREBOOT_SIGNING_CERT: join(work, 'nope.pem') }), logs().log)
    await expect(missing).rejects.toBeInstanceOf(ConfigError)
  }, 60_000)
})

describe('generated keys', () => {
  // two RSA-4096 key sets per racing node on a busy 2-core machine
  test('two nodes starting together on a fresh data directory get the same keys; it is logged once; keys stay private', async () => {
    const dataDir = join(work, 'shared')
    const config = loadConfig({ FACTORY_DATA_DIR: dataDir, FACTORY_SECUREBOOT_ENABLED: 'true' })
    const a = logs()
    const b = logs()
    const [ma, mb] = await Promise.all([ensureSecureBootKeys(config, a.log), ensureSecureBootKeys(config, b.log)])
    expect(ma!.certPem).toBe(mb!.certPem)
    expect(ma!.pcrKeySha256).toBe(mb!.pcrKeySha256)
    const dir = join(dataDir, 'keys', 'secureboot')
    expect(ma!.signingKeyPath).toBe(join(dir, 'uki-signing-key.pem'))
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual(['secureboot'])
    expect((await readdir(dir)).sort()).toEqual(['pcr-signing-key.pem', 'uki-signing-cert.pem', 'uki-signing-key.pem'])
    for (const f of ['pcr-signing-key.pem', 'uki-signing-key.pem']) {
      expect((await stat(join(dir, f))).mode & 0o777).toBe(0o600)
      // PKCS#1, as the reference's tools write them
      expect(await readFile(join(dir, f), 'utf8')).toStartWith('-----BEGIN RSA PRIVATE KEY-----\n')
    }
    const all = [...a.lines, ...b.lines]
    expect(all.filter((l) => l.includes('generated Secure Boot keys'))).toHaveLength(1)
    expect(all.join('')).not.toContain('PRIVATE KEY')
    // the certificate is fit for code signing and verifies its own signature
    const text = (await execa('openssl', ['x509', '-in', join(dir, 'uki-signing-cert.pem'), '-noout', '-text'])).stdout
    expect(text).toContain('Code Signing')
    expect(text).toContain('Public-Key: (4096 bit)')

    // a later start reuses them without logging generation again
    const c = logs()
    const mc = await ensureSecureBootKeys(config, c.log)
    expect(mc!.certPem).toBe(ma!.certPem)
    expect(c.lines.filter((l) => l.includes('generated'))).toHaveLength(0)
  }, 180_000)
})
