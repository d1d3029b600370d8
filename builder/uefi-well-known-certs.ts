#!/usr/bin/env bun
/**
 * Fills a FACTORY_SECUREBOOT_WELL_KNOWN_CERTS directory with the Microsoft UEFI certificates the
 * reference enrols for `includeWellKnownCertificates`:
 *
 *   bun builder/uefi-well-known-certs.ts <dir> [--from <file>]…
 *
 * Each `--from` is a certificate (DER or PEM, e.g. downloaded from Microsoft) or any binary that
 * embeds DER certificates, such as a UEFI variable store with Microsoft's keys enrolled; the
 * default is Debian's `/usr/share/OVMF/OVMF_VARS_4M.ms.fd` (package `ovmf`). Certificates are
 * recognised by their subject's common name and written under the reference's file names
 * (`kek/…`, `db/…`: their order is the enrolment order); others (e.g. the Windows PCA, which the
 * reference does not enrol) are skipped. Prints what was found and what is still missing; exit 0
 * when at least one certificate was written.
 */
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

/** the reference imager's set (internal/pkg/secureboot/database/certs), by common name */
const WELL_KNOWN: Readonly<Record<string, string>> = {
  'Microsoft Corporation KEK CA 2011': 'kek/MicCorKEKCA2011_2011-06-24.der',
  'Microsoft Corporation KEK 2K CA 2023': 'kek/microsoft corporation kek 2k ca 2023.der',
  'Microsoft Corporation UEFI CA 2011': 'db/MicCorUEFCA2011_2011-06-27.der',
  'Microsoft Option ROM UEFI CA 2023': 'db/microsoft option rom uefi ca 2023.der',
  'Microsoft UEFI CA 2023': 'db/microsoft uefi ca 2023.der',
}
const DEFAULT_SOURCE = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd'

function commonName(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? ''
}

/** Certificates in `bytes`: the file itself (DER or PEM), else every DER certificate embedded in it. */
export function certificatesIn(bytes: Uint8Array): X509Certificate[] {
  try {
    return [new X509Certificate(bytes)]
  } catch {
    // not a certificate file: scan for DER SEQUENCEs with a two-byte length (0x30 0x82 len)
  }
  const found: X509Certificate[] = []
  for (let i = 0; i + 4 <= bytes.length; ) {
    if (bytes[i] === 0x30 && bytes[i + 1] === 0x82) {
      const end = i + 4 + ((bytes[i + 2]! << 8) | bytes[i + 3]!)
      if (end <= bytes.length) {
        try {
          found.push(new X509Certificate(bytes.subarray(i, end)))
          i = end
          continue
        } catch {
          // a SEQUENCE that is not a certificate
        }
      }
    }
    i++
  }
  return found
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: { from: { type: 'string', multiple: true } }, allowPositionals: true, strict: true })
  const dir = positionals[0]
  if (positionals.length !== 1 || !dir) {
    process.stderr.write('usage: bun builder/uefi-well-known-certs.ts <dir> [--from <file>]…\n')
    return 2
  }
  const written = new Map<string, string>()
  for (const source of values.from ?? [DEFAULT_SOURCE]) {
    let bytes: Uint8Array
    try {
      bytes = await readFile(source)
    } catch (err) {
      process.stderr.write(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}${source === DEFAULT_SOURCE ? ' (install Debian\'s ovmf package, or pass --from)' : ''}\n`)
      return 1
    }
    for (const cert of certificatesIn(bytes)) {
      const name = WELL_KNOWN[commonName(cert)]
      if (name === undefined || written.has(name)) continue
      const file = join(dir, name)
      await mkdir(join(file, '..'), { recursive: true })
      // complete files only: the factory reads the directory at start-up
      await writeFile(`${file}.tmp`, cert.raw)
      await rename(`${file}.tmp`, file)
      written.set(name, commonName(cert))
      process.stdout.write(`wrote ${name} (${commonName(cert)}, from ${source})\n`)
    }
  }
  const missing = Object.entries(WELL_KNOWN).filter(([, name]) => !written.has(name))
  for (const [cn, name] of missing) process.stdout.write(`missing ${name} (${cn}): add it with --from <its DER file from Microsoft>\n`)
  return written.size > 0 ? 0 : 1
}

if (import.meta.main) process.exit(await main())
