/**
 * UKI assembly and signing, read back with independent tools: binutils `objdump` for the section
 * table and headers, a test-side PE reader for section contents, `sbverify` for Authenticode, and
 * `openssl` for the PCR policy signatures (the expected PCR 11 value is recomputed here from the
 * sections found in the file, not taken from the imager's code).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signImage, unsignedImageOf } from '../../builder/imager/authenticode.ts'
import { OutputSink } from '../../builder/imager/output.ts'
import { readPe } from '../../builder/imager/pe.ts'
import { loadSecureBootKeys, signatureOwnerGuid, type SecureBootKeys } from '../../builder/imager/secureboot.ts'
import { kernelRelease, writeUki, type UkiOptions } from '../../builder/imager/uki.ts'
import { PE_MACHINE_AMD64, placeholderPe } from '../fixtures/standin/pe.ts'
import { peSections } from '../helpers/pe-read.ts'
import { makeTestKeys, type TestKeys } from '../helpers/sb-keys.ts'

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'
const SDBOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi'
const EPOCH = 1559424892
const CMDLINE = 'talos.platform=metal console=ttyS0 slab_nomerge'
const RESET = { id: 'reset', title: 'Reset system disk', cmdline: `${CMDLINE} talos.experimental.wipe=system` }

let work: string
let keys: TestKeys
let other: TestKeys
let sb: SecureBootKeys
let kernel: string
let initrd: string
/** a stub whose SBAT says systemd 257 (knows `.profile`), page-aligned like Talos's */
let stub257: string

/** A bzImage-like file: setup header with `HdrS` and a version string (what `.uname` reads). */
function fakeKernel(release: string): Uint8Array {
  const k = new Uint8Array(300_000)
  for (let i = 0; i < k.length; i++) k[i] = (i * 7 + 3) & 0xff
  k[0x1f1] = 4
  k.set(new TextEncoder().encode('HdrS'), 0x202)
  k[0x20e] = 0x00
  k[0x20f] = 0x01
  const v = new TextEncoder().encode(`${release} (builder@example) #1 SMP\0`)
  k.set(v, 0x300)
  return k
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'imager-uki-'))
  ;[keys, other] = await Promise.all([makeTestKeys(join(work, 'keys')), makeTestKeys(join(work, 'other'), 'Someone Else')])
  sb = await loadSecureBootKeys({ signingKeyPath: keys.signingKey, signingCertPath: keys.signingCert, pcrKeyPath: keys.pcrKey, includeWellKnownCerts: false })
  kernel = join(work, 'vmlinuz')
  initrd = join(work, 'initramfs.xz')
  await writeFile(kernel, fakeKernel('6.1.0-57-amd64'))
  const init = new Uint8Array(123_457)
  for (let i = 0; i < init.length; i++) init[i] = (i * 13) & 0xff
  await writeFile(initrd, init)
  stub257 = join(work, 'stub257.efi')
  await writeFile(
    stub257,
    placeholderPe(PE_MACHINE_AMD64, [
      { name: '.text', data: new Uint8Array(5000) },
      { name: '.sbat', data: 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nsystemd-stub,1,The systemd Developers,systemd,257,https://systemd.io/\n' },
    ]),
  )
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

async function build(name: string, opts: Partial<UkiOptions> = {}) {
  const out = join(work, name)
  const sink = await OutputSink.open(out)
  try {
    const result = await writeUki({ stub: STUB, kernel, initrd, cmdline: CMDLINE, name: 'Talos', version: 'v1.12.0', profiles: true, timestamp: EPOCH, ...opts }, sink)
    return { out, result }
  } finally {
    await sink.close({ sync: false })
  }
}

interface ObjdumpSection {
  name: string
  size: number
  vma: number
  fileOff: number
}

async function objdumpSections(file: string): Promise<ObjdumpSection[]> {
  const { stdout } = await execa('objdump', ['-h', file])
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 7 && /^\d+$/.test(f[0]!))
    .map((f) => ({ name: f[1]!, size: parseInt(f[2]!, 16), vma: parseInt(f[3]!, 16), fileOff: parseInt(f[5]!, 16) }))
}

async function objdumpHeader(file: string): Promise<Record<string, string>> {
  const { stdout } = await execa('objdump', ['-p', file])
  const out: Record<string, string> = {}
  for (const line of stdout.split('\n')) {
    const m = /^(\S[\w/]*)\s+(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!.trim()
  }
  return out
}

describe('UKI layout (objdump)', () => {
  test('stub sections keep their addresses; ours follow in the reference order, aligned, without overlap', async () => {
    const { out } = await build('plain.efi')
    const stub = await objdumpSections(STUB)
    const got = await objdumpSections(out)
    expect(got.slice(0, stub.length).map((s) => [s.name, s.vma, s.size])).toEqual(stub.map((s) => [s.name, s.vma, s.size]))
    expect(got.slice(stub.length).map((s) => s.name)).toEqual(['.osrel', '.cmdline', '.uname', '.linux', '.initrd', '.profile'])
    const hdr = await objdumpHeader(out)
    const sectionAlignment = parseInt(hdr.SectionAlignment!, 16)
    const fileAlignment = parseInt(hdr.FileAlignment!, 16)
    expect(sectionAlignment).toBe(0x200) // Debian's stub
    const sizes: Record<string, number> = { '.linux': 300_000, '.initrd': 123_457, '.cmdline': CMDLINE.length, '.uname': '6.1.0-57-amd64'.length }
    for (const s of got.slice(stub.length)) {
      expect(s.vma % sectionAlignment).toBe(0)
      expect(s.fileOff % fileAlignment).toBe(0)
      if (sizes[s.name] !== undefined) expect(s.size).toBe(sizes[s.name]!)
    }
    const byVma = [...got].sort((a, b) => a.vma - b.vma)
    for (let i = 1; i < byVma.length; i++) expect(byVma[i]!.vma).toBeGreaterThanOrEqual(byVma[i - 1]!.vma + byVma[i - 1]!.size)
    const byOff = [...got].sort((a, b) => a.fileOff - b.fileOff)
    for (let i = 1; i < byOff.length; i++) expect(byOff[i]!.fileOff).toBeGreaterThanOrEqual(byOff[i - 1]!.fileOff + byOff[i - 1]!.size)
    const last = byVma.at(-1)!
    expect(parseInt(hdr.SizeOfImage!, 16)).toBe(Math.ceil((last.vma + last.size) / sectionAlignment) * sectionAlignment)
    expect(parseInt(hdr.SizeOfHeaders!, 16)).toBeLessThanOrEqual(got[0]!.fileOff)
    expect(hdr['Time/Date']).toBe('Sat Jun  1 21:34:52 2019')
    expect(hdr.CheckSum).toMatch(/^0+$/)
  })

  test('section contents are the inputs, byte for byte', async () => {
    const { out } = await build('contents.efi')
    const s = peSections(await readFile(out))
    const get = (n: string) => s.find((x) => x.name === n)!.data
    expect(get('.cmdline').toString()).toBe(CMDLINE)
    expect(get('.uname').toString()).toBe('6.1.0-57-amd64')
    expect(get('.osrel').toString()).toBe(
      'NAME="Talos"\nID=talos\nVERSION_ID=v1.12.0\nPRETTY_NAME="Talos (v1.12.0)"\nHOME_URL="https://www.talos.dev/"\nBUG_REPORT_URL="https://github.com/siderolabs/talos/issues"\nVENDOR_NAME="Sidero Labs"\nVENDOR_URL="https://www.siderolabs.com/"\n',
    )
    expect(get('.linux').equals(await readFile(kernel))).toBe(true)
    expect(get('.initrd').equals(await readFile(initrd))).toBe(true)
    expect(get('.profile').toString()).toBe('ID=main')
    expect(get('.sbat').toString()).toContain('systemd,1,The systemd Developers,systemd,252')
  })

  test('same inputs → same bytes', async () => {
    const a = await build('a.efi')
    const b = await build('b.efi')
    expect(createHash('sha256').update(await readFile(a.out)).digest('hex')).toBe(createHash('sha256').update(await readFile(b.out)).digest('hex'))
  })

  test('before 1.10 there is no .profile; a kernel without a bzImage header gets no .uname', async () => {
    const plainKernel = join(work, 'Image')
    await writeFile(plainKernel, new Uint8Array(4096).fill(1))
    expect(await kernelRelease(plainKernel)).toBeNull()
    const { out } = await build('old.efi', { profiles: false, kernel: plainKernel, extraProfiles: [RESET] })
    expect((await objdumpSections(out)).map((s) => s.name).slice(8)).toEqual(['.osrel', '.cmdline', '.linux', '.initrd'])
  })

  test("extra profiles reach only stubs that know them: systemd 252 would boot the last .cmdline", async () => {
    const old = await build('uki252.efi', { extraProfiles: [RESET] })
    expect(old.result.droppedProfiles).toEqual(['reset'])
    expect((await objdumpSections(old.out)).filter((s) => s.name === '.cmdline')).toHaveLength(1)

    const modern = await build('uki257.efi', { stub: stub257, extraProfiles: [RESET] })
    expect(modern.result.droppedProfiles).toEqual([])
    const s = peSections(await readFile(modern.out))
    expect(s.map((x) => x.name)).toEqual(['.text', '.sbat', '.osrel', '.cmdline', '.uname', '.linux', '.initrd', '.profile', '.profile', '.cmdline'])
    expect(s[8]!.data.toString()).toBe('ID=reset\nTITLE=Reset system disk')
    expect(s[9]!.data.toString()).toBe(RESET.cmdline)
    const hdr = await objdumpHeader(modern.out)
    expect(parseInt(hdr.SectionAlignment!, 16)).toBe(0x1000)
    for (const x of await objdumpSections(modern.out)) expect(x.vma % 0x1000).toBe(0)
  })
})

/** openssl's view of a policy entry: signature over `pol` with the PCR public key, per bank. */
async function opensslVerify(bank: string, pol: string, sigB64: string, pubPem: string): Promise<boolean> {
  const dir = await mkdtemp(join(work, 'v-'))
  await writeFile(join(dir, 'pol'), Buffer.from(pol, 'hex'))
  await writeFile(join(dir, 'sig'), Buffer.from(sigB64, 'base64'))
  await writeFile(join(dir, 'pub.pem'), pubPem)
  const r = await execa('openssl', ['dgst', `-${bank}`, '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig'), join(dir, 'pol')], { reject: false })
  return r.exitCode === 0 && r.stdout.includes('Verified OK')
}

/** Independent PCR 11 prediction from the sections of a UKI file (systemd-stub + pcrphase). */
function predictPcr(sections: Map<string, Buffer>, bank: string): Buffer {
  const H = (...parts: Buffer[]) => {
    const h = createHash(bank)
    for (const p of parts) h.update(p)
    return h.digest()
  }
  let pcr = Buffer.alloc(H().length)
  const extend = (data: Buffer) => (pcr = H(pcr, H(data)))
  for (const name of ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.pcrpkey', '.profile', '.dtbauto', '.hwids']) {
    const data = sections.get(name)
    if (!data) continue
    extend(Buffer.concat([Buffer.from(name), Buffer.from([0])]))
    extend(data)
  }
  for (const phase of ['enter-initrd', 'leave-initrd', 'enter-machined']) extend(Buffer.from(phase))
  return pcr
}

function policyFor(pcr: Buffer, bank: string): string {
  const alg = { sha256: 0x0b, sha384: 0x0c, sha512: 0x0d }[bank]!
  const body = Buffer.concat([Buffer.alloc(32), Buffer.from([0, 0, 1, 0x7f, 0, 0, 0, 1, 0, alg, 3, 0, 8, 0]), createHash('sha256').update(pcr).digest()])
  return createHash('sha256').update(body).digest('hex')
}

describe('Secure Boot UKI', () => {
  test('Authenticode: sbverify accepts the signing certificate and refuses another one', async () => {
    const { out } = await build('signed.efi', { secureBoot: { signer: sb.signer, pcrKey: sb.pcrKey } })
    expect((await execa('sbverify', ['--cert', keys.signingCert, out], { reject: false })).exitCode).toBe(0)
    const wrong = await execa('sbverify', ['--cert', other.signingCert, out], { reject: false })
    expect(wrong.exitCode).not.toBe(0)
    // the unsigned image does not verify at all
    const unsigned = await build('unsigned.efi')
    expect((await execa('sbverify', ['--cert', keys.signingCert, unsigned.out], { reject: false })).exitCode).not.toBe(0)
  })

  test('sections: .pcrpkey before .linux, .pcrsig after the main profile; signing is deterministic', async () => {
    const a = await build('s1.efi', { secureBoot: { signer: sb.signer, pcrKey: sb.pcrKey } })
    const b = await build('s2.efi', { secureBoot: { signer: sb.signer, pcrKey: sb.pcrKey } })
    expect((await objdumpSections(a.out)).map((s) => s.name).slice(8)).toEqual(['.osrel', '.cmdline', '.uname', '.pcrpkey', '.linux', '.initrd', '.profile', '.pcrsig'])
    expect(Buffer.compare(await readFile(a.out), await readFile(b.out))).toBe(0)
    const pub = await execa('openssl', ['rsa', '-in', keys.pcrKey, '-pubout'])
    const s = peSections(await readFile(a.out))
    expect(s.find((x) => x.name === '.pcrpkey')!.data.toString()).toBe(`${pub.stdout}\n`)
  })

  test('.pcrsig: structure, key fingerprint, policy of the predicted PCR 11, openssl-verified signatures', async () => {
    const { out } = await build('pcr.efi', { secureBoot: { signer: sb.signer, pcrKey: sb.pcrKey } })
    const sections = peSections(await readFile(out))
    const json = sections.find((x) => x.name === '.pcrsig')!.data.toString()
    const doc = JSON.parse(json) as Record<string, { pcrs: number[]; pkfp: string; pol: string; sig: string }[]>
    expect(Object.keys(doc)).toEqual(['sha256', 'sha384', 'sha512'])
    expect(json.startsWith('{"sha256":[{"pcrs":[11],"pkfp":"')).toBe(true)
    const der = (await execa('openssl', ['rsa', '-in', keys.pcrKey, '-RSAPublicKey_out', '-outform', 'DER'], { encoding: 'buffer' })).stdout
    const pkfp = createHash('sha256').update(der).digest('hex')
    const pubPem = (await execa('openssl', ['rsa', '-in', keys.pcrKey, '-pubout'])).stdout
    const measured = new Map(sections.filter((x) => x.name !== '.pcrsig' && x.name.startsWith('.') && ['.linux', '.osrel', '.cmdline', '.initrd', '.uname', '.sbat', '.pcrpkey', '.profile'].includes(x.name)).map((x) => [x.name, x.data]))
    for (const bank of ['sha256', 'sha384', 'sha512']) {
      const [entry] = doc[bank]!
      expect(Object.keys(entry!)).toEqual(['pcrs', 'pkfp', 'pol', 'sig'])
      expect(entry!.pcrs).toEqual([11])
      expect(entry!.pkfp).toBe(pkfp)
      expect(entry!.pol).toBe(policyFor(predictPcr(measured, bank), bank))
      expect(await opensslVerify(bank, entry!.pol, entry!.sig, pubPem)).toBe(true)
      expect(await opensslVerify(bank, entry!.pol.replace(/^./, (c) => (c === '0' ? '1' : '0')), entry!.sig, pubPem)).toBe(false)
    }
  })

  test('with a profile-capable stub each profile gets its own .pcrsig over its own .cmdline', async () => {
    const { out } = await build('s257.efi', { stub: stub257, extraProfiles: [RESET], secureBoot: { signer: sb.signer, pcrKey: sb.pcrKey } })
    const s = peSections(await readFile(out))
    expect(s.map((x) => x.name)).toEqual(['.text', '.sbat', '.osrel', '.cmdline', '.uname', '.pcrpkey', '.linux', '.initrd', '.profile', '.pcrsig', '.profile', '.cmdline', '.pcrsig'])
    const base = new Map(s.slice(0, 8).filter((x) => x.name !== '.text').map((x) => [x.name, x.data]))
    const sigs = s.filter((x) => x.name === '.pcrsig').map((x) => JSON.parse(x.data.toString()) as Record<string, { pol: string }[]>)
    const main = new Map(base).set('.profile', s[8]!.data)
    const reset = new Map(base).set('.profile', s[10]!.data).set('.cmdline', s[11]!.data)
    expect(sigs[0]!.sha256![0]!.pol).toBe(policyFor(predictPcr(main, 'sha256'), 'sha256'))
    expect(sigs[1]!.sha256![0]!.pol).toBe(policyFor(predictPcr(reset, 'sha256'), 'sha256'))
    expect((await execa('sbverify', ['--cert', keys.signingCert, out], { reject: false })).exitCode).toBe(0)
  })
})

describe('signing other PE files', () => {
  async function sign(input: string, name: string): Promise<string> {
    const out = join(work, name)
    const sink = await OutputSink.open(out)
    await signImage(unsignedImageOf(await readPe(input)), sb.signer, sink)
    await sink.close({ sync: false })
    return out
  }

  test('systemd-boot (trailing symbol table, unaligned size) verifies with sbverify', async () => {
    const out = await sign(SDBOOT, 'sdboot.efi')
    expect((await execa('sbverify', ['--cert', keys.signingCert, out], { reject: false })).exitCode).toBe(0)
    expect((await execa('sbverify', ['--cert', other.signingCert, out], { reject: false })).exitCode).not.toBe(0)
  })

  test('an already signed image keeps its signature and gains ours', async () => {
    const once = await sign(SDBOOT, 'once.efi')
    const out = join(work, 'twice.efi')
    const sink = await OutputSink.open(out)
    const otherKeys = await loadSecureBootKeys({ signingKeyPath: other.signingKey, signingCertPath: other.signingCert, pcrKeyPath: other.pcrKey, includeWellKnownCerts: false })
    await signImage(unsignedImageOf(await readPe(once)), otherKeys.signer, sink)
    await sink.close({ sync: false })
    for (const cert of [keys.signingCert, other.signingCert]) expect((await execa('sbverify', ['--cert', cert, out], { reject: false })).exitCode).toBe(0)
    const list = await execa('sbverify', ['--list', out])
    expect(list.stdout.match(/^signature \d+$/gm)).toHaveLength(2)
  })
})

describe('enrolment owner GUID', () => {
  test('is the name-based UUID (SHA-256, X.500 namespace, version 4 label) of the canonical PEM', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    const h = createHash('sha256').update(Buffer.from('6ba7b8149dad11d180b400c04fd430c8', 'hex')).update(pem).digest('hex')
    const g = signatureOwnerGuid(pem)
    expect(g).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(g.replaceAll('-', '').slice(0, 12)).toBe(h.slice(0, 12))
    expect(g.replaceAll('-', '').slice(13, 16)).toBe(h.slice(13, 16))
  })
})
