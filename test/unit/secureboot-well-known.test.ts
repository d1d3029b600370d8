/**
 * The well-known UEFI certificates (schematic `secureboot.includeWellKnownCertificates`): the
 * FACTORY_SECUREBOOT_WELL_KNOWN_CERTS directory is read in file order and checked at start-up,
 * its contents salt the Secure Boot cache keys, the signature lists match efitools' bytes, and the
 * operator's extraction tool finds Microsoft's certificates in Debian's OVMF variable store.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { X509Certificate } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x509SignatureLists } from '../../builder/imager/secureboot.ts'
import { certificatesIn } from '../../builder/uefi-well-known-certs.ts'
import { loadConfig } from '../../src/config.ts'
import { ConfigError } from '../../src/errors.ts'
import { createLogger } from '../../src/log.ts'
import { ensureSecureBootKeys, secureBootCacheSalt } from '../../src/secureboot/keys.ts'
import { loadWellKnownCerts, WellKnownCertsError } from '../../src/secureboot/well-known.ts'
import { makeTestKeys, makeWellKnownCerts, OVMF_MS_VARS, type TestKeys } from '../helpers/sb-keys.ts'

const MS_GUID = '77fa9abd-0359-4d32-bd60-28f4e78f784b'
let work: string
let a: TestKeys
let b: TestKeys

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-well-known-'))
  ;[a, b] = await Promise.all([makeTestKeys(join(work, 'a'), 'Cert A'), makeTestKeys(join(work, 'b'), 'Cert B')])
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

async function der(pemFile: string): Promise<Buffer> {
  return Buffer.from(new X509Certificate(await readFile(pemFile)).raw)
}

describe('signature lists', () => {
  test('one certificate: byte for byte what efitools cert-to-efi-sig-list writes', async () => {
    const out = join(work, 'a.esl')
    await execa('cert-to-efi-sig-list', ['-g', MS_GUID, a.signingCert, out])
    expect(x509SignatureLists([{ owner: MS_GUID, der: await der(a.signingCert) }]).equals(await readFile(out))).toBe(true)
  })

  test('a certificate joins an earlier list of its size; other sizes start a new list (efitools reads all back)', async () => {
    const same1 = new Uint8Array(100).fill(1)
    const other = new Uint8Array(120).fill(2)
    const same2 = new Uint8Array(100).fill(3)
    const esl = x509SignatureLists([
      { owner: MS_GUID, der: same1 },
      { owner: MS_GUID, der: other },
      { owner: MS_GUID, der: same2 },
    ])
    // list 1: header 28 + 2 × (16 + 100); list 2: 28 + 16 + 120
    expect(esl.readUInt32LE(16)).toBe(28 + 2 * 116)
    expect(esl.readUInt32LE(24)).toBe(116)
    expect(esl.readUInt32LE(28 + 2 * 116 + 16)).toBe(28 + 136)
    expect(esl.length).toBe(28 + 2 * 116 + 28 + 136)
    expect(esl.subarray(28 + 116 + 16, 28 + 2 * 116).equals(Buffer.from(same2))).toBe(true)
  })
})

describe('the directory', () => {
  test('kek/ and db/ in file-name order; DER and PEM; hidden files skipped; a missing database is empty', async () => {
    const dir = join(work, 'ordered')
    await mkdir(join(dir, 'db'), { recursive: true })
    await writeFile(join(dir, 'db', 'b.der'), await der(b.signingCert))
    await copyFile(a.signingCert, join(dir, 'db', 'a.pem'))
    await writeFile(join(dir, 'db', '.keep'), 'not a certificate')
    const certs = await loadWellKnownCerts(dir)
    expect(certs.kek).toEqual([])
    expect(certs.db.map((c) => [c.name, c.subject])).toEqual([
      ['a.pem', 'CN=Cert A'],
      ['b.der', 'CN=Cert B'],
    ])
    expect(Buffer.from(certs.db[0]!.der).equals(await der(a.signingCert))).toBe(true)
    // renaming a file changes the enrolment order, so it changes the fingerprint
    await rename(join(dir, 'db', 'a.pem'), join(dir, 'db', 'c.pem'))
    const renamed = await loadWellKnownCerts(dir)
    expect(renamed.db.map((c) => c.name)).toEqual(['b.der', 'c.pem'])
    expect(renamed.sha256).not.toBe(certs.sha256)
  })

  test.each([
    ['a missing directory', async (d: string) => void d, 'is not a directory'],
    ['no certificates', async (d: string) => void (await mkdir(join(d, 'kek'), { recursive: true })), 'holds no certificates'],
    ['a file that is not a certificate', async (d: string) => {
      await mkdir(join(d, 'kek'), { recursive: true })
      await writeFile(join(d, 'kek', 'x.der'), 'hello')
    }, 'x.der is not an X.509 certificate'],
    ['a huge file', async (d: string) => {
      await mkdir(join(d, 'db'), { recursive: true })
      await writeFile(join(d, 'db', 'big.der'), new Uint8Array(1024 * 1024))
    }, 'big.der is larger than'],
    ['a directory where a certificate should be', async (d: string) => void (await mkdir(join(d, 'db', 'sub'), { recursive: true })), 'sub is not a regular file'],
  ])('refused: %s', async (name, make, reason) => {
    const dir = join(work, `bad-${name.replaceAll(' ', '-')}`)
    await make(dir)
    const err = await loadWellKnownCerts(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WellKnownCertsError)
    expect((err as Error).message).toContain(reason)
  })
})

describe('configuration', () => {
  const sbEnv = () => ({ FACTORY_SECUREBOOT_ENABLED: 'true', FACTORY_SECUREBOOT_SIGNING_KEY: a.signingKey, FACTORY_SECUREBOOT_SIGNING_CERT: a.signingCert, FACTORY_SECUREBOOT_PCR_KEY: a.pcrKey })

  test('a bad directory stops start-up naming the setting', async () => {
    const config = loadConfig({ ...sbEnv(), FACTORY_DATA_DIR: join(work, 'data-bad'), FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: join(work, 'nowhere') })
    const err = await ensureSecureBootKeys(config, createLogger('error')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toStartWith('FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: ')
  })

  test('the set is logged by subject and salts the Secure Boot cache keys; without it the salt is unchanged', async () => {
    const wk = await makeWellKnownCerts(join(work, 'wk'))
    const lines: string[] = []
    const log = createLogger('debug', {}, (l) => lines.push(l))
    const without = await ensureSecureBootKeys(loadConfig({ ...sbEnv(), FACTORY_DATA_DIR: join(work, 'data-1') }), log)
    const withSet = await ensureSecureBootKeys(loadConfig({ ...sbEnv(), FACTORY_DATA_DIR: join(work, 'data-2'), FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: wk.dir }), log)
    expect(without!.wellKnown).toBeUndefined()
    expect(withSet!.wellKnown?.dir).toBe(wk.dir)
    expect(secureBootCacheSalt(without!)).toBe(`secureboot keys ${without!.certSha256} ${without!.pcrKeySha256}`)
    expect(secureBootCacheSalt(withSet!)).toBe(`${secureBootCacheSalt(without!)} well-known ${withSet!.wellKnown!.sha256}`)
    const line = lines.find((l) => l.includes('well-known UEFI certificates'))
    expect(line).toContain('Microsoft Corporation KEK CA 2011')
    expect(line).toContain('Microsoft Corporation UEFI CA 2011')
  })
})

describe('npm run secureboot:well-known', () => {
  test("Debian's OVMF Microsoft variable store: every embedded certificate is found; the tool keeps the reference's two of them", async () => {
    const subjects = certificatesIn(await readFile(OVMF_MS_VARS)).map((c) => c.subject)
    expect(subjects.some((s) => s.includes('CN=Microsoft Windows Production PCA 2011'))).toBe(true)
    const dir = join(work, 'tool')
    const r = await execa(process.execPath, ['builder/uefi-well-known-certs.ts', dir])
    expect(r.stdout).toContain('wrote kek/MicCorKEKCA2011_2011-06-24.der')
    expect(r.stdout).toContain('wrote db/MicCorUEFCA2011_2011-06-27.der')
    expect(r.stdout).toContain('missing db/microsoft uefi ca 2023.der')
    const certs = await loadWellKnownCerts(dir)
    expect([...certs.kek, ...certs.db].map((c) => c.subject).join('\n')).not.toContain('Windows Production PCA')
  })

  test('a certificate file given with --from is placed by its common name; unknown ones are skipped', async () => {
    const dir = join(work, 'tool-from')
    const r = await execa(process.execPath, ['builder/uefi-well-known-certs.ts', dir, '--from', a.signingCert], { reject: false })
    expect(r.exitCode).toBe(1)
    expect(r.stdout).not.toContain('wrote')
  })
})
