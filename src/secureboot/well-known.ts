/**
 * The "well-known" UEFI certificates a Secure Boot ISO or disk image may enrol beside the factory's
 * own (schematic `secureboot.includeWellKnownCertificates`): in the reference, Microsoft's KEK and
 * db certificates, so that firmware keeps booting Microsoft-signed option ROMs, shims and Windows.
 *
 * The reference compiles them into its imager. We do not ship Microsoft's certificates; the operator
 * names a directory (FACTORY_SECUREBOOT_WELL_KNOWN_CERTS) laid out as the reference's source tree:
 * `kek/*` added to KEK and `db/*` added to db, each file one X.509 certificate (DER or PEM), taken
 * in file-name order. `builder/uefi-well-known-certs.ts` fills such a directory from a UEFI variable
 * store that has them enrolled (Debian's OVMF_VARS_4M.ms.fd).
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** Owner GUID of the well-known signatures in the ESLs (the reference's: Microsoft's). */
export const WELL_KNOWN_OWNER_GUID = '77fa9abd-0359-4d32-bd60-28f4e78f784b'

/** the databases the directory may extend, as subdirectory names */
export const WELL_KNOWN_DATABASES = ['kek', 'db'] as const
export type WellKnownDatabase = (typeof WELL_KNOWN_DATABASES)[number]

/** bounds on what a directory may make us read: real sets hold a handful of ~1.5 KiB files */
const MAX_FILES = 64
const MAX_FILE_BYTES = 64 * 1024

export interface WellKnownCert {
  /** file name inside `kek/` or `db/` */
  readonly name: string
  readonly der: Uint8Array
  readonly subject: string
}

export interface WellKnownCerts {
  readonly dir: string
  readonly kek: readonly WellKnownCert[]
  readonly db: readonly WellKnownCert[]
  /** SHA-256 over the database, file name and DER of every certificate, hex (cache-key salt) */
  readonly sha256: string
}

/** A directory that cannot be used; the message names the file at fault. */
export class WellKnownCertsError extends Error {}

async function readDatabase(dir: string, db: WellKnownDatabase): Promise<WellKnownCert[]> {
  const sub = join(dir, db)
  let names: string[]
  try {
    names = await readdir(sub)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new WellKnownCertsError(`cannot read ${sub}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  // hidden files (editor backups, `.keep`) are not certificates
  names = names.filter((n) => !n.startsWith('.')).sort()
  if (names.length > MAX_FILES) throw new WellKnownCertsError(`${sub} holds ${names.length} files; at most ${MAX_FILES} certificates are read`)
  const certs: WellKnownCert[] = []
  for (const name of names) {
    const file = join(sub, name)
    const st = await stat(file).catch(() => null)
    if (!st?.isFile()) throw new WellKnownCertsError(`${file} is not a regular file`)
    if (st.size > MAX_FILE_BYTES) throw new WellKnownCertsError(`${file} is larger than ${MAX_FILE_BYTES} bytes: not a certificate`)
    let cert: X509Certificate
    try {
      cert = new X509Certificate(await readFile(file))
    } catch {
      throw new WellKnownCertsError(`${file} is not an X.509 certificate (DER or PEM)`)
    }
    certs.push({ name, der: new Uint8Array(cert.raw), subject: cert.subject.replaceAll('\n', ', ') })
  }
  return certs
}

/** Reads and checks the directory; at least one certificate in `kek/` or `db/`. */
export async function loadWellKnownCerts(dir: string): Promise<WellKnownCerts> {
  const abs = resolve(dir)
  const st = await stat(abs).catch(() => null)
  if (!st?.isDirectory()) throw new WellKnownCertsError(`${abs} is not a directory`)
  const [kek, db] = await Promise.all([readDatabase(abs, 'kek'), readDatabase(abs, 'db')])
  if (kek.length + db.length === 0) throw new WellKnownCertsError(`${abs} holds no certificates (expected kek/*.der and db/*.der)`)
  const h = createHash('sha256')
  for (const [name, list] of [['kek', kek], ['db', db]] as const) {
    for (const c of list) h.update(`${name}/${c.name}\0${c.der.length}\0`).update(c.der)
  }
  return { dir: abs, kek, db, sha256: h.digest('hex') }
}
