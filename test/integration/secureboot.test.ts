/**
 * UKIs and Secure Boot through the edge (in-process builder) against the stand-in release: the
 * signing certificate route, Secure Boot off/on, signed and unsigned UKIs read back with sbverify
 * and a test-side PE reader, the Secure Boot iPXE script, and reproducibility (the same UKI and
 * ISO from two cold caches have the same bytes).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { peSections, sectionText } from '../helpers/pe-read.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'
import { makeTestKeys, type TestKeys } from '../helpers/sb-keys.ts'

const VERSION = 'v1.12.0'
const SCHEMATIC = JSON.stringify({
  customization: {
    extraKernelArgs: ['console=ttyS0', 'nolapic'],
    meta: [{ key: 10, value: '{"externalIPs":["1.2.3.4"]}' }],
    systemExtensions: { officialExtensions: ['siderolabs/gvisor'] },
  },
})
const CMDLINE = 'talos.platform=metal console=ttyS0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1'

let up: Upstream
let keys: TestKeys
let work: string
let sb: RunningEdge
let off: RunningEdge
let id: string

const sbEnv = () => ({
  ...up.env,
  FACTORY_SECUREBOOT_ENABLED: 'true',
  FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey,
  FACTORY_SECUREBOOT_SIGNING_CERT: keys.signingCert,
  FACTORY_SECUREBOOT_PCR_KEY: keys.pcrKey,
})

async function schematic(edge: RunningEdge): Promise<string> {
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: SCHEMATIC })
  return ((await res.json()) as { id: string }).id
}

async function download(edge: RunningEdge, path: string, name = path): Promise<{ res: Response; file: string; bytes: Buffer }> {
  const res = await fetch(`${edge.url}/image/${id}/${VERSION}/${path}`)
  const bytes = Buffer.from(await res.arrayBuffer())
  const file = join(work, `${edge.url.split(':').pop()}-${name}`)
  await writeFile(file, bytes)
  return { res, file, bytes }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'secureboot-it-'))
  ;[up, keys] = await Promise.all([startUpstream([VERSION]), makeTestKeys(join(work, 'keys'))])
  ;[sb, off] = await Promise.all([startEdge(sbEnv()), startEdge(up.env)])
  id = await schematic(sb)
  expect(await schematic(off)).toBe(id)
}, 240_000)

afterAll(async () => {
  await Promise.all([sb?.stop(), off?.stop()])
  await up?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('Secure Boot switch', () => {
  test('enabled: the signing certificate is served as PEM, byte for byte the configured file', async () => {
    const res = await fetch(`${sb.url}/secureboot/signing-cert.pem`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-pem-file')
    expect(await res.text()).toBe(await readFile(keys.signingCert, 'utf8'))
  })

  test('enabled without key files: keys generated on first start; a second factory on the same data directory signs with them', async () => {
    const dataDir = join(work, 'shared-data')
    const env = { ...up.env, FACTORY_SECUREBOOT_ENABLED: 'true', FACTORY_DATA_DIR: dataDir }
    const lines: string[] = []
    const [a, b] = await Promise.all([startEdge(env, { log: (l) => lines.push(l) }), startEdge(env)])
    try {
      const certA = await (await fetch(`${a.url}/secureboot/signing-cert.pem`)).text()
      expect(await (await fetch(`${b.url}/secureboot/signing-cert.pem`)).text()).toBe(certA)
      expect(certA).toBe(await readFile(join(dataDir, 'keys/secureboot/uki-signing-cert.pem'), 'utf8'))
      expect(lines.join('')).not.toContain('PRIVATE KEY')
      const cert = join(work, 'generated.pem')
      await writeFile(cert, certA)
      expect(await schematic(b)).toBe(id)
      const { file } = await download(b, 'metal-amd64-secureboot-uki.efi', 'generated.efi')
      expect((await execa('sbverify', ['--cert', cert, file], { reject: false })).exitCode).toBe(0)
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }, 180_000)

  test('disabled: no certificate (404, one line) and SecureBoot paths answer 400 `secure boot is disabled`', async () => {
    const cert = await fetch(`${off.url}/secureboot/signing-cert.pem`)
    expect(cert.status).toBe(404)
    expect(await cert.text()).toBe('secure boot is disabled\n')
    for (const path of ['metal-amd64-secureboot-uki.efi', 'metal-amd64-secureboot.iso', 'cmdline-metal-amd64-secureboot']) {
      const res = await fetch(`${off.url}/image/${id}/${VERSION}/${path}`)
      expect(res.status).toBe(400)
      expect(await res.text()).toBe('error enhancing profile from schematic: secure boot is disabled\n')
    }
    const pxe = await fetch(`${off.url}/pxe/${id}/${VERSION}/metal-amd64-secureboot`)
    expect(pxe.status).toBe(400)
  })
})

describe('UKI', () => {
  test('unsigned UKI: reference sections, the schematic command line; sbverify finds no signature', async () => {
    const { res, file, bytes } = await download(off, 'metal-amd64-uki.efi')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/efi')
    const names = peSections(bytes).map((s) => s.name)
    expect(names.slice(names.indexOf('.osrel'))).toEqual(['.osrel', '.cmdline', '.uname', '.linux', '.initrd', '.profile'])
    // UKI: kernel args yes (≥ 1.10), META no (factory-spec §6.4)
    expect(sectionText(bytes, '.cmdline')).toBe(`${CMDLINE} nolapic`)
    expect(sectionText(bytes, '.uname')).toBe(up.release.kernelVersion)
    expect(sectionText(bytes, '.osrel')).toContain('VERSION_ID=v1.12.0\n')
    expect((await execa('sbverify', ['--list', file], { reject: false })).stdout).not.toContain('signature 1')
    // the embedded initramfs is the very one /image serves for this schematic (same extensions,
    // same SELinux labels and compression): every family builds it with the same options
    const initramfs = Buffer.from(await (await fetch(`${off.url}/image/${id}/${VERSION}/initramfs-amd64.xz`)).arrayBuffer())
    expect(peSections(bytes).find((s) => s.name === '.initrd')!.data.equals(initramfs)).toBe(true)
  }, 120_000)

  test('Secure Boot UKI: signed with the configured key (sbverify with the served certificate), lockdown, PCR policy', async () => {
    const cert = join(work, 'served.pem')
    await writeFile(cert, await (await fetch(`${sb.url}/secureboot/signing-cert.pem`)).text())
    const { res, file, bytes } = await download(sb, 'metal-amd64-secureboot-uki.efi')
    expect(res.status).toBe(200)
    expect((await execa('sbverify', ['--cert', cert, file], { reject: false })).exitCode).toBe(0)
    const names = peSections(bytes).map((s) => s.name)
    expect(names.slice(names.indexOf('.osrel'))).toEqual(['.osrel', '.cmdline', '.uname', '.pcrpkey', '.linux', '.initrd', '.profile', '.pcrsig'])
    expect(sectionText(bytes, '.cmdline')).toBe(`${CMDLINE} lockdown=confidentiality nolapic`)
    const pcrsig = JSON.parse(sectionText(bytes, '.pcrsig')!) as Record<string, unknown>
    expect(Object.keys(pcrsig)).toEqual(['sha256', 'sha384', 'sha512'])
    expect(sectionText(bytes, '.pcrpkey')).toBe(`${(await execa('openssl', ['rsa', '-in', keys.pcrKey, '-pubout'])).stdout}\n`)
  }, 120_000)

  // the GRUB tree of the ISOs is built into each factory's own (cold) cache too
  test('cached Secure Boot UKI: checksum sidecar, Range and ETag like any asset', async () => {
    const { bytes } = await download(sb, 'metal-amd64-secureboot-uki.efi', 'hit.efi')
    const sidecar = await fetch(`${sb.url}/image/${id}/${VERSION}/metal-amd64-secureboot-uki.efi.sha256`)
    expect(await sidecar.text()).toBe(`${createHash('sha256').update(bytes).digest('hex')}  metal-amd64-secureboot-uki.efi\n`)
    const part = await fetch(`${sb.url}/image/${id}/${VERSION}/metal-amd64-secureboot-uki.efi`, { headers: { range: 'bytes=0-1' } })
    expect(part.status).toBe(206)
    expect(await part.text()).toBe('MZ')
    const etag = part.headers.get('etag')!
    const again = await fetch(`${sb.url}/image/${id}/${VERSION}/metal-amd64-secureboot-uki.efi`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
  }, 120_000)

  test('the same UKI and ISO from two cold caches (another factory with the same keys) have the same bytes', async () => {
    const again = await startEdge(sbEnv())
    try {
      expect(await schematic(again)).toBe(id)
      for (const path of ['metal-amd64-uki.efi', 'metal-amd64-secureboot-uki.efi', 'metal-amd64.iso', 'metal-amd64-secureboot.iso']) {
        const a = await download(sb, path)
        const b = await download(again, path, `again-${path}`)
        expect(b.res.headers.get('x-cache')).toBe('MISS')
        expect(a.res.status).toBe(200)
        expect(createHash('sha256').update(b.bytes).digest('hex')).toBe(createHash('sha256').update(a.bytes).digest('hex'))
      }
    } finally {
      await again.stop()
    }
  }, 400_000)
})

describe('PXE', () => {
  test('the Secure Boot script boots the signed UKI with the Secure Boot command line, and its URL serves it', async () => {
    const res = await fetch(`${sb.url}/pxe/${id}/${VERSION}/metal-x86_64-secureboot`)
    expect(res.status).toBe(200)
    const base = sb.ctx.config.http.externalPxeUrl.replace(/\/$/, '')
    const url = `${base}/image/${id}/${VERSION}/metal-amd64-secureboot-uki.efi`
    expect(await res.text()).toBe(`#!ipxe\n\nimgfree\nkernel ${url} ${CMDLINE} lockdown=confidentiality talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ== nolapic\nboot\n`)
    // the script's base is the configured PXE URL; the same path on this edge
    const uki = await fetch(url.replace(base, sb.url))
    expect(uki.status).toBe(200)
    expect(uki.headers.get('x-cache')).toBe('HIT')
    expect(Buffer.from(await uki.arrayBuffer()).equals((await download(sb, 'metal-amd64-secureboot-uki.efi', 'pxe.efi')).bytes)).toBe(true)
  }, 120_000)
})
