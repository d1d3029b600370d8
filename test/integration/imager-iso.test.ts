/**
 * ISOs from the native imager, read back with independent tools: `xorriso -report_el_torito` /
 * `-report_system_area` for the boot records and partitions, `isoinfo` for the volume descriptor
 * and files, `mtools` for the appended EFI partition. Layouts: hybrid (1.10+ default), GRUB-only
 * (< 1.10, or `bootloader: grub`), UEFI-only (sd-boot, Secure Boot). Same inputs → same bytes.
 *
 * Kernel and initramfs are filler bytes (nothing boots here; test/e2e/iso-boot.test.ts boots).
 * The GRUB tree is cached in the test cache, so only the first run ever pays for building it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { createHash, X509Certificate } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { ImagerUnsupportedError } from '../../builder/imager/errors.ts'
import { runImager } from '../../builder/imager/index.ts'
import { buildIso, isoLabel, isoLayout } from '../../builder/imager/iso.ts'
import { OutputSink } from '../../builder/imager/output.ts'
import { grubQuote, isoGrubCfg } from '../../builder/imager/grub.ts'
import { parseProfile } from '../../builder/imager/profile.ts'
import { signatureOwnerGuid } from '../../builder/imager/secureboot.ts'
import { PE_MACHINE_ARM64, placeholderPe } from '../fixtures/standin/pe.ts'
import { MINI_CACHE } from '../helpers/mini-release.ts'
import { makeTestKeys, makeWellKnownCerts, type TestKeys } from '../helpers/sb-keys.ts'

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'
const SDBOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi'
const CACHE = join(MINI_CACHE, 'iso-cache')

let work: string
let kernel: string
let initramfs: string
let keys: TestKeys
let arm64: { stub: string; boot: string }

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'imager-iso-'))
  kernel = join(work, 'vmlinuz')
  initramfs = join(work, 'initramfs.xz')
  await writeFile(kernel, new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff))
  await writeFile(initramfs, new Uint8Array(1024 * 1024 + 17).map((_, i) => (i * 7) & 0xff))
  keys = await makeTestKeys(join(work, 'keys'))
  arm64 = { stub: join(work, 'stub-aa64.efi'), boot: join(work, 'boot-aa64.efi') }
  await writeFile(arm64.stub, placeholderPe(PE_MACHINE_ARM64, [{ name: '.text', data: new Uint8Array(4096) }, { name: '.sbat', data: 'sbat,1,x\n' }]))
  await writeFile(arm64.boot, placeholderPe(PE_MACHINE_ARM64, [{ name: '.text', data: new Uint8Array(4096) }]))
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

interface IsoOpts {
  version?: string
  arch?: 'amd64' | 'arm64'
  secureboot?: boolean
  bootloader?: string
  enroll?: string
  wellKnown?: boolean
  args?: string[]
}

function profile(o: IsoOpts = {}): string {
  const arch = o.arch ?? 'amd64'
  const doc: Record<string, unknown> = {
    arch,
    platform: 'metal',
    secureboot: o.secureboot ?? false,
    version: o.version ?? 'v1.12.0',
    customization: { extraKernelArgs: o.args ?? ['console=ttyS0', 'foo="bar baz"'] },
    input: {
      kernel: { path: kernel },
      initramfs: { path: initramfs },
      sdStub: { path: arch === 'arm64' ? arm64.stub : STUB },
      sdBoot: { path: arch === 'arm64' ? arm64.boot : SDBOOT },
      ...(o.secureboot
        ? {
            secureboot: {
              secureBootSigner: { keyPath: keys.signingKey, certPath: keys.signingCert },
              pcrSigner: { keyPath: keys.pcrKey },
              ...(o.wellKnown ? { includeWellKnownCerts: true } : {}),
            },
          }
        : {}),
    },
    output: { kind: 'iso', outFormat: 'raw', isoOptions: { sdBootEnrollKeys: o.enroll ?? 'if-safe', ...(o.bootloader ? { bootloader: o.bootloader } : {}) } },
  }
  return YAML.stringify(doc)
}

async function build(name: string, o: IsoOpts = {}): Promise<string> {
  const out = join(work, name)
  await runImager(profile(o), { output: out, cacheDir: CACHE, workDir: work })
  return out
}

async function report(iso: string): Promise<string> {
  return (await execa('xorriso', ['-indev', iso, '-report_el_torito', 'plain', '-report_system_area', 'plain'], { stderr: 'ignore' })).stdout
}

async function pvd(iso: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const line of (await execa('isoinfo', ['-d', '-i', iso])).stdout.split('\n')) {
    const m = /^([^:]+):\s?(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

async function isoFiles(iso: string): Promise<string[]> {
  return (await execa('isoinfo', ['-f', '-R', '-i', iso])).stdout.split('\n').filter(Boolean)
}

async function isoFile(iso: string, path: string): Promise<Buffer> {
  return Buffer.from((await execa('isoinfo', ['-R', '-i', iso, '-x', path], { encoding: 'buffer', stripFinalNewline: false })).stdout)
}

/** mtools image spec of the appended EFI partition (from the partition table xorriso reports). */
async function espSpec(iso: string): Promise<string> {
  const r = await report(iso)
  const gpt = /GPT start and size :\s+2\s+(\d+)\s+\d+/.exec(r)
  const mbr = /MBR partition\s+:\s+2\s+0x\w+\s+0xef\s+(\d+)\s+\d+/.exec(r)
  const start = Number((gpt ?? mbr)?.[1])
  expect(start).toBeGreaterThan(0)
  return `${iso}@@${start * 512}`
}

describe('choices (pure)', () => {
  test.each([
    [{ version: 'v1.9.5' }, 'grub'],
    [{ version: 'v1.10.7' }, 'hybrid'],
    [{ version: 'v1.11.2' }, 'hybrid'],
    [{ version: 'v1.12.0' }, 'hybrid'],
    [{ version: 'v1.12.0', bootloader: 'grub' }, 'grub'],
    [{ version: 'v1.12.0', bootloader: 'sd-boot' }, 'uefi'],
    [{ version: 'v1.12.0', arch: 'arm64' as const }, 'uefi'],
    [{ version: 'v1.9.5', arch: 'arm64' as const }, 'grub'],
    [{ version: 'v1.12.0', secureboot: true, bootloader: 'grub' }, 'uefi'],
  ] as const)('%o → %s', (o, layout) => {
    expect(isoLayout(parseProfile(profile(o)))).toBe(layout)
  })

  test('volume labels and grub.cfg are the reference ones', () => {
    expect(isoLabel('v1.7.6-beta.0')).toEqual({ volset: 'Talos-v1.7.6-beta.0', volid: 'TALOS_V1_7_6_BETA_0' })
    expect(grubQuote('a "b" $c {d} e\\f')).toBe('a \\"b\\" \\$c \\{d\\} e\\\\f')
    expect(isoGrubCfg('console=ttyS0', true)).toBe(
      'set default=0\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n' +
        'menuentry "Talos ISO" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz console=ttyS0\n\tinitrd /boot/initramfs.xz\n}\n\n' +
        'menuentry "Reset Talos installation" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz console=ttyS0 talos.experimental.wipe=system\n\tinitrd /boot/initramfs.xz\n}\n',
    )
    expect(isoGrubCfg('x', false).endsWith('\tinitrd /boot/initramfs.xz\n}\n\n')).toBe(true)
  })
})

describe('hybrid ISO (1.12 amd64 default)', () => {
  let iso: string
  beforeAll(async () => {
    iso = await build('hybrid.iso')
  }, 300_000)

  test('El Torito: GRUB BIOS image, UEFI from appended partition 2; GPT; volume labels', async () => {
    const r = await report(iso)
    expect(r).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none/)
    expect(r).toContain('El Torito img path :   1  /boot/grub/i386-pc/eltorito.img')
    expect(r).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/)
    expect(r).toMatch(/GPT partname local :\s+2\s+Appended2/)
    expect(r).toContain('Partition offset   : 16')
    const d = await pvd(iso)
    expect(d['Volume id']).toBe('TALOS_V1_12_0')
    expect(d['Volume set id']).toBe('Talos-v1.12.0')
  })

  test('ISO9660 tree: GRUB files, kernel, initramfs, systemd-boot, UKI, loader.conf (enrolment off)', async () => {
    const files = await isoFiles(iso)
    for (const f of ['/boot/vmlinuz', '/boot/initramfs.xz', '/boot/grub/grub.cfg', '/boot/grub/i386-pc/eltorito.img', '/boot/grub/i386-pc/linux.mod', '/EFI/BOOT/BOOTX64.EFI', '/EFI/Linux/Talos-v1.12.0.efi', '/loader/loader.conf', '/loader/random-seed']) {
      expect(files).toContain(f)
    }
    expect(files).not.toContain('/efiboot.img')
    expect(files.some((f) => f.startsWith('/boot/grub/x86_64-efi'))).toBe(false)
    expect((await isoFile(iso, '/boot/vmlinuz')).equals(await readFile(kernel))).toBe(true)
    const cfg = (await isoFile(iso, '/boot/grub/grub.cfg')).toString()
    expect(cfg).toContain('\tlinux /boot/vmlinuz talos.platform=metal console=ttyS0 talos.halt_if_installed=1 ')
    expect(cfg).toContain(' foo=\\"bar baz\\"\n')
    expect(cfg).toContain('menuentry "Reset Talos installation"')
    expect((await isoFile(iso, '/loader/loader.conf')).toString()).toBe('# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll off\n')
    expect((await isoFile(iso, '/EFI/BOOT/BOOTX64.EFI')).equals(await readFile(SDBOOT))).toBe(true)
  })

  test('the appended ESP (FAT32, label EFI) holds the same systemd-boot, UKI and loader files; random-seed is read-only', async () => {
    const esp = await espSpec(iso)
    const info = (await execa('minfo', ['-i', esp, '::'])).stdout
    expect(info).toMatch(/disk label="EFI\s*"/)
    expect(info).toContain('disk type="FAT32')
    const uki = Buffer.from((await execa('mtype', ['-i', esp, '::/EFI/Linux/Talos-v1.12.0.efi'], { encoding: 'buffer', stripFinalNewline: false })).stdout)
    expect(uki.equals(await isoFile(iso, '/EFI/Linux/Talos-v1.12.0.efi'))).toBe(true)
    expect((await execa('mtype', ['-i', esp, '::/loader/loader.conf'])).stdout).toContain('secure-boot-enroll off')
    expect((await execa('mattrib', ['-i', esp, '::/loader/random-seed'])).stdout).toMatch(/\sR\s+::\/loader\/random-seed/)
  })

  test('same inputs → same ISO bytes', async () => {
    const again = await build('hybrid-again.iso')
    const sha = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex')
    expect(await sha(again)).toBe(await sha(iso))
  }, 300_000)
})

describe('GRUB ISO', () => {
  test('before 1.10: BIOS and UEFI GRUB, no systemd-boot; from 1.8 labelled', async () => {
    const iso = await build('grub.iso', { version: 'v1.9.5' })
    const r = await report(iso)
    expect(r).toContain('El Torito img path :   1  /boot/grub/i386-pc/eltorito.img')
    expect(r).toContain('El Torito img path :   2  /efi.img')
    const files = await isoFiles(iso)
    expect(files.some((f) => f.startsWith('/boot/grub/x86_64-efi/'))).toBe(true)
    expect(files.some((f) => f.startsWith('/EFI'))).toBe(false)
    expect((await pvd(iso))['Volume id']).toBe('TALOS_V1_9_5')
    // the EFI image carries GRUB's EFI core
    expect((await execa('mdir', ['-b', '-i', `${iso}@@${Number(/El Torito boot img :\s+2\s+UEFI\s+y\s+none\s+\S+\s+\S+\s+\d+\s+(\d+)/.exec(r)![1]) * 2048}`, '::/efi/boot'])).stdout).toContain('bootx64.efi')
  }, 300_000)

  test('before 1.8: no halt_if_installed, no volume labels; 1.12 with bootloader: grub is GRUB too', async () => {
    const old = await build('old.iso', { version: 'v1.7.6' })
    expect((await pvd(old))['Volume id']).not.toContain('TALOS')
    expect((await isoFile(old, '/boot/grub/grub.cfg')).toString()).not.toContain('halt_if_installed')
    const chosen = await build('chosen.iso', { bootloader: 'grub' })
    expect(await report(chosen)).toContain('/efi.img')
  }, 300_000)

  test('arm64 GRUB needs arm64-efi modules: a one-line "not supported" without them', async () => {
    const err = await runImager(profile({ version: 'v1.9.5', arch: 'arm64' }), { output: join(work, 'arm.iso'), cacheDir: CACHE, workDir: work, grubDirs: [join(work, 'nowhere')] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImagerUnsupportedError)
    expect((err as Error).message).toBe('GRUB arm64-efi modules are not available: the imager image has none and grub-efi-arm64-bin cannot be installed on an amd64 host')
  })
})

describe('UEFI-only ISO', () => {
  test('arm64 (sd-boot): BOOTAA64.EFI, no GRUB, MBR-partitioned appended ESP', async () => {
    const iso = await build('arm64.iso', { arch: 'arm64' })
    const files = await isoFiles(iso)
    expect(files).toContain('/EFI/BOOT/BOOTAA64.EFI')
    expect(files.some((f) => f.startsWith('/boot/'))).toBe(false)
    const r = await report(iso)
    expect(r).not.toContain('BIOS')
    expect(r).not.toContain('GPT')
    expect(r).toMatch(/MBR partition\s+:\s+2\s+0x00\s+0xef/)
  }, 300_000)

  test('Secure Boot: signed boot files, the certificate, PK/KEK/db enrolment files; loader.conf follows enrollKeys', async () => {
    const iso = await build('sb.iso', { secureboot: true, enroll: 'force' })
    const files = await isoFiles(iso)
    for (const f of ['/EFI/keys/uki-signing-cert.der', '/loader/keys/auto/PK.auth', '/loader/keys/auto/KEK.auth', '/loader/keys/auto/db.auth']) expect(files).toContain(f)
    expect((await isoFile(iso, '/loader/loader.conf')).toString()).toContain('secure-boot-enroll force\n')
    const certDer = Buffer.from(new X509Certificate(await readFile(keys.signingCert)).raw)
    expect((await isoFile(iso, '/EFI/keys/uki-signing-cert.der')).equals(certDer)).toBe(true)
    for (const f of ['/EFI/BOOT/BOOTX64.EFI', '/EFI/Linux/Talos-v1.12.0.efi']) {
      const local = join(work, `sb-${f.split('/').pop()}`)
      await writeFile(local, await isoFile(iso, f))
      expect((await execa('sbverify', ['--cert', keys.signingCert, local], { reject: false })).exitCode).toBe(0)
    }
    // EFI_VARIABLE_AUTHENTICATION_2: EFI_TIME = SOURCE_DATE_EPOCH, PKCS#7 cert type, then the ESL
    // holding the certificate with the owner GUID derived from its PEM
    const db = await isoFile(iso, '/loader/keys/auto/db.auth')
    expect([db.readUInt16LE(0), db[2], db[3], db[4], db[5], db[6]]).toEqual([2019, 6, 1, 21, 34, 52])
    const certLen = db.readUInt32LE(16)
    expect(db.readUInt16LE(22)).toBe(0x0ef1)
    const esl = db.subarray(16 + certLen)
    const owner = esl.subarray(28, 44)
    const guid = signatureOwnerGuid((await readFile(keys.signingCert, 'utf8')).replace(/\r/g, ''))
    const g = guid.replaceAll('-', '')
    const mixed = Buffer.concat([Buffer.from(g.slice(0, 8), 'hex').reverse(), Buffer.from(g.slice(8, 12), 'hex').reverse(), Buffer.from(g.slice(12, 16), 'hex').reverse(), Buffer.from(g.slice(16), 'hex')])
    expect(owner.equals(mixed)).toBe(true)
    expect(esl.subarray(44).equals(certDer)).toBe(true)
    // the ESP has them too
    const esp = await espSpec(iso)
    expect((await execa('mdir', ['-b', '-i', esp, '::/loader/keys/auto'])).stdout.split('\n').map((l) => l.split('/').pop()).sort()).toEqual(['KEK.auth', 'PK.auth', 'db.auth'])
  }, 300_000)

  test('well-known certificates without FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: unsupported (501), naming the setting', async () => {
    const err = await runImager(profile({ secureboot: true, wellKnown: true }), { output: join(work, 'wk.iso'), cacheDir: CACHE, workDir: work }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImagerUnsupportedError)
    expect((err as Error).message).toContain('FACTORY_SECUREBOOT_WELL_KNOWN_CERTS')
  }, 120_000)

  test('well-known certificates: KEK and db list the factory certificate, then the well-known ones in file order (owner: Microsoft); PK only the factory one', async () => {
    const wk = await makeWellKnownCerts(join(work, 'well-known'))
    // a PEM file is accepted too, and sorts after the DER one
    const extra = await makeTestKeys(join(work, 'extra-ca'), 'Extra Option ROM CA')
    await copyFile(extra.signingCert, join(wk.dir, 'db', 'zz-extra.pem'))
    const out = join(work, 'wk-ok.iso')
    await runImager(profile({ secureboot: true, wellKnown: true, enroll: 'force' }), { output: out, cacheDir: CACHE, workDir: work, wellKnownCertsDir: wk.dir })
    const der = async (f: string) => Buffer.from(new X509Certificate(await readFile(f)).raw)
    const own = await der(keys.signingCert)
    const expected = { PK: [own], KEK: [own, await der(wk.kek[0]!)], db: [own, await der(wk.db[0]!), await der(extra.signingCert)] }
    for (const [v, certs] of Object.entries(expected)) {
      const auth = await isoFile(out, `/loader/keys/auto/${v}.auth`)
      // strip EFI_VARIABLE_AUTHENTICATION_2 (EFI_TIME + WIN_CERTIFICATE) and read the ESLs back with efitools
      const esl = join(work, `wk-${v}.esl`)
      await writeFile(esl, auth.subarray(16 + auth.readUInt32LE(16)))
      const prefix = join(work, `wk-${v}-cert`)
      const listing = (await execa('sig-list-to-certs', [esl, prefix])).stdout
      const back = await Promise.all(certs.map((_, i) => readFile(`${prefix}-${i}.der`)))
      expect(back.map((b) => b.toString('hex'))).toEqual(certs.map((c) => c.toString('hex')))
      expect(await Bun.file(`${prefix}-${certs.length}.der`).exists()).toBe(false)
      // every well-known entry is owned by Microsoft's GUID
      expect(listing.split('Guid 77fa9abd-0359-4d32-bd60-28f4e78f784b').length - 1).toBe(certs.length - 1)
    }
    // the UKI still verifies with the factory's certificate
    const uki = join(work, 'wk-uki.efi')
    await writeFile(uki, await isoFile(out, '/EFI/Linux/Talos-v1.12.0.efi'))
    expect((await execa('sbverify', ['--cert', keys.signingCert, uki], { reject: false })).exitCode).toBe(0)
  }, 300_000)
})

describe('build time', () => {
  test.each([{}, { version: 'v1.9.5' }, { bootloader: 'sd-boot' }, { secureboot: true, enroll: 'force' }] as IsoOpts[])(
    "%o: xorriso's predicted size is exact, so the build ends at the image's last byte (not at xorriso's next once-a-second check)",
    async (o) => {
      const dir = await mkdtemp(join(work, 'direct-'))
      const sink = await OutputSink.open(join(dir, 'out.iso'))
      const r = await buildIso(parseProfile(profile(o)), { output: sink, cmdline: 'console=ttyS0', cacheDir: CACHE, workDir: dir })
      await sink.close({ sync: false })
      expect(r.endedAtLastByte).toBe(true)
    },
    300_000,
  )
})
