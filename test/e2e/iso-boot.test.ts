/**
 * ISOs and UKIs built by the factory (edge + in-process builder, stand-in upstream) boot under
 * QEMU (TCG), and the stand-in init prints the command line, extensions, META and schematic ID:
 *
 * * the 1.12 hybrid ISO in BIOS mode (GRUB) and UEFI mode (systemd-boot + UKI);
 * * the UKI on an EFI system partition under OVMF, and a 1.9 GRUB-only ISO under OVMF;
 * * Debian's systemd-stub 252 boots the *last* `.cmdline` of a UKI with two (why the factory adds
 *   extra UKI profiles only for stubs that support them);
 * * the Secure Boot ISO under OVMF's Secure Boot firmware with blank variables: systemd-boot
 *   enrols the factory's keys (`enrollKeys: force`, plus the well-known Microsoft certificates of
 *   FACTORY_SECUREBOOT_WELL_KNOWN_CERTS in KEK and db) and resets, then the signed UKI boots with
 *   Secure Boot enforced; with the enrolled keys, an unsigned UKI and a UKI signed by someone
 *   else are refused by the firmware.
 *
 * At most two VMs run at a time; every boot has its own timeout sized for a busy 2-core machine.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { execa } from 'execa'
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OutputSink } from '../../builder/imager/output.ts'
import { emitPieces, readPe } from '../../builder/imager/pe.ts'
import { layoutPe } from '../../builder/imager/uki.ts'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { peSections } from '../helpers/pe-read.ts'
import { BOOT_FAILURE_PATTERNS, bootQemu, type BootResult } from '../helpers/qemu.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'
import { makeTestKeys, makeWellKnownCerts, type TestKeys } from '../helpers/sb-keys.ts'

const V12 = 'v1.12.0'
const V9 = 'v1.9.5'
const SCHEMATIC = JSON.stringify({
  customization: {
    extraKernelArgs: ['console=ttyS0', 'panic=-1'],
    meta: [{ key: 10, value: '{"externalIPs":["1.2.3.4"]}' }],
    systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/gvisor'] },
    // the Secure Boot ISO also enrols the well-known (Microsoft) certificates Debian's OVMF carries
    secureboot: { enrollKeys: 'force', includeWellKnownCertificates: true },
  },
})
const META_ARG = 'talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ=='
const BASE_12 = 'talos.platform=metal console=ttyS0'
const TAIL_12 = 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1'
/** per boot: firmware + GRUB/systemd-boot menus (systemd-boot waits 10 s) + kernel under TCG */
const BOOT_MS = 240_000

const OVMF = '/usr/share/OVMF'
/** the stand-in release's amd64 systemd-stub (Debian 12) */
const STUB_252 = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'
let up: Upstream
let keys: TestKeys
let other: TestKeys
let wellKnown: Awaited<ReturnType<typeof makeWellKnownCerts>>
let edge: RunningEdge
let work: string
let id: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'iso-boot-'))
  ;[up, keys, other, wellKnown] = await Promise.all([
    startUpstream([V9, V12]),
    makeTestKeys(join(work, 'keys')),
    makeTestKeys(join(work, 'other'), 'Not The Factory'),
    makeWellKnownCerts(join(work, 'well-known')),
  ])
  edge = await startEdge({
    ...up.env,
    FACTORY_SECUREBOOT_ENABLED: 'true',
    FACTORY_SECUREBOOT_SIGNING_KEY: keys.signingKey,
    FACTORY_SECUREBOOT_SIGNING_CERT: keys.signingCert,
    FACTORY_SECUREBOOT_PCR_KEY: keys.pcrKey,
    FACTORY_SECUREBOOT_WELL_KNOWN_CERTS: wellKnown.dir,
  })
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: SCHEMATIC })
  expect(res.status).toBe(201)
  id = ((await res.json()) as { id: string }).id
}, 240_000)

afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  await rm(work, { recursive: true, force: true })
})

/** Downloads an asset through the factory into the work directory. */
async function asset(version: string, path: string): Promise<string> {
  const res = await fetch(`${edge.url}/image/${id}/${version}/${path}`)
  expect(res.status).toBe(200)
  const file = join(work, `${version}-${path}`)
  await writeFile(file, new Uint8Array(await res.arrayBuffer()))
  return file
}

const common = ['-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', '-nic', 'none']

async function vars(name: string, from = join(OVMF, 'OVMF_VARS_4M.fd')): Promise<string> {
  const file = join(work, `${name}.vars.fd`)
  await copyFile(from, file)
  return file
}

function ovmf(varsFile: string, secure = false): string[] {
  return [
    '-machine', secure ? 'q35,smm=on' : 'q35',
    ...(secure ? ['-global', 'ICH9-LPC.disable_s3=1'] : []),
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${join(OVMF, secure ? 'OVMF_CODE_4M.secboot.fd' : 'OVMF_CODE_4M.fd')}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${varsFile}`,
  ]
}

/** An EFI system partition "superfloppy" (FAT, no partition table) with `efi` as the default loader. */
async function espWith(name: string, efi: string): Promise<string> {
  const img = join(work, `${name}.esp.img`)
  const kib = Math.ceil((await stat(efi)).size / 1024) + 4096
  await execa('mkfs.vfat', ['-C', '-n', 'ESP', img, String(kib)])
  await execa('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT'])
  await execa('mcopy', ['-i', img, efi, '::/EFI/BOOT/BOOTX64.EFI'])
  return img
}

function expectStandin(r: BootResult, version: string, cmdline: string, opts: { meta: boolean }): void {
  const out = r.output
  for (const bad of BOOT_FAILURE_PATTERNS) expect(out).not.toContain(bad)
  expect(r.timedOut).toBe(false)
  expect(out).toContain(`STANDIN-TALOS ${version} BOOT-OK`)
  expect(out).toContain(`\nCMDLINE: ${cmdline}\n`)
  expect(out).toMatch(/EXTENSION: amd-ucode \S+/)
  expect(out).toMatch(/EXTENSION: gvisor \S+/)
  expect(out).toContain(`EXTENSION: schematic ${id}`)
  expect(out).toContain(`SCHEMATIC: ${id}`)
  expect(out).toMatch(/MICROCODE: \S*AuthenticAMD\.bin \d+/)
  if (opts.meta) expect(out).toContain('META: cmdline 0xa={"externalIPs":["1.2.3.4"]}')
  else expect(out).not.toContain('META: cmdline')
  expect(out).toContain('STANDIN-DONE')
}

describe('ISO and UKI boots', () => {
  test('1.12 hybrid ISO: BIOS boots GRUB, UEFI boots systemd-boot + UKI', async () => {
    const iso = await asset(V12, 'metal-amd64.iso')
    const uefiVars = await vars('hybrid')
    const [bios, uefi] = await Promise.all([
      bootQemu({ args: [...common, '-cdrom', iso], timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' }),
      bootQemu({ args: [...common, ...ovmf(uefiVars), '-cdrom', iso], timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' }),
    ])
    const cmdline = `${BASE_12} talos.halt_if_installed=1 ${TAIL_12} ${META_ARG} panic=-1`
    // GRUB names the kernel image on the command line
    expectStandin(bios, V12, `BOOT_IMAGE=/boot/vmlinuz ${cmdline}`, { meta: true })
    expectStandin(uefi, V12, cmdline, { meta: true })
    console.log(`hybrid ISO: BIOS ${bios.markerAtMs} ms, UEFI ${uefi.markerAtMs} ms`)
  }, 2 * BOOT_MS + 60_000)

  test('UKI on an ESP under OVMF, and a 1.9 GRUB-only ISO under OVMF', async () => {
    const [uki, grubIso] = await Promise.all([asset(V12, 'metal-amd64-uki.efi'), asset(V9, 'metal-amd64.iso')])
    const esp = await espWith('uki', uki)
    const [a, b] = await Promise.all([vars('uki'), vars('grub')])
    const [ukiBoot, grubBoot] = await Promise.all([
      bootQemu({ args: [...common, ...ovmf(a), '-drive', `file=${esp},format=raw,if=virtio`], timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' }),
      bootQemu({ args: [...common, ...ovmf(b), '-cdrom', grubIso], timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' }),
    ])
    // the UKI output kind takes kernel args but not META (factory-spec §6.4)
    expectStandin(ukiBoot, V12, `${BASE_12} ${TAIL_12} panic=-1`, { meta: false })
    expectStandin(grubBoot, V9, `BOOT_IMAGE=/boot/vmlinuz talos.platform=metal console=ttyS0 talos.halt_if_installed=1 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512 ${META_ARG} panic=-1`, { meta: true })
    console.log(`UKI on ESP: ${ukiBoot.markerAtMs} ms; GRUB ISO (UEFI): ${grubBoot.markerAtMs} ms`)
  }, 2 * BOOT_MS + 60_000)
})

describe('why extra UKI profiles need a systemd ≥ 257 stub', () => {
  test("Debian's systemd-stub 252 ignores .profile and boots the last .cmdline in the file", async () => {
    const uki = await asset(V12, 'metal-amd64-uki.efi')
    const stub = await readPe(STUB_252)
    const sections = peSections(await readFile(uki)).slice(stub.sections.length)
    const text = (name: string) => new TextDecoder().decode(sections.find((s) => s.name === name)!.data)
    const bytes = (data: string | Uint8Array) => ({ kind: 'bytes' as const, data: typeof data === 'string' ? new TextEncoder().encode(data) : data })
    // the factory's UKI plus a reset profile, laid out as the reference would for a modern stub
    const layout = layoutPe(
      stub,
      [
        ...sections.map((s) => ({ name: s.name, data: bytes(s.data) })),
        { name: '.profile', data: bytes('ID=reset\nTITLE=Reset system disk') },
        { name: '.cmdline', data: bytes(`${text('.cmdline')} profile=reset`) },
      ],
      1559424892,
    )
    const file = join(work, 'two-cmdlines.efi')
    const sink = await OutputSink.open(file)
    await emitPieces([{ kind: 'bytes', data: layout.headers }, ...layout.body], sink)
    await sink.close({ sync: false })
    const r = await bootQemu({ args: [...common, ...ovmf(await vars('profiles')), '-drive', `file=${await espWith('profiles', file)},format=raw,if=virtio`], timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' })
    expect(r.output).toContain(`\nCMDLINE: ${text('.cmdline')} profile=reset\n`)
  }, BOOT_MS + 60_000)
})

describe('Secure Boot', () => {
  test('the Secure Boot ISO enrols the keys in setup mode, then boots enforced; unsigned and foreign-signed UKIs are refused', async () => {
    const iso = await asset(V12, 'metal-amd64-secureboot.iso')
    const sbVars = await vars('sb')
    const sbArgs = [...common, ...ovmf(sbVars, true), '-cdrom', iso]

    // 1st boot: blank variables = setup mode; systemd-boot enrols PK/KEK/db and resets (QEMU exits)
    const enrol = await bootQemu({ args: sbArgs, timeoutMs: BOOT_MS, marker: 'Enrolling secure boot keys' })
    expect(enrol.markerSeen).toBe(true)
    expect(enrol.timedOut).toBe(false)
    expect(enrol.output).not.toContain('STANDIN-TALOS')

    // the enrolled variables, for the negative boots; they hold the Microsoft certificates now
    // (the blank store has none)
    const enrolled = join(work, 'enrolled.vars.fd')
    await copyFile(sbVars, enrolled)
    const [store, blank] = [await readFile(enrolled), await readFile(join(OVMF, 'OVMF_VARS_4M.fd'))]
    for (const cert of [...wellKnown.kek, ...wellKnown.db]) {
      const der = await readFile(cert)
      expect(store.includes(der)).toBe(true)
      expect(blank.includes(der)).toBe(false)
    }
    const unsigned = await asset(V12, 'metal-amd64-uki.efi')
    const foreign = join(work, 'foreign-uki.efi')
    await execa('sbsign', ['--key', other.signingKey, '--cert', other.signingCert, '--output', foreign, unsigned])
    const [unsignedEsp, foreignEsp] = await Promise.all([espWith('unsigned', unsigned), espWith('foreign', foreign)])
    const refused = async (name: string, esp: string) =>
      bootQemu({ args: [...common, ...ovmf(await vars(name, enrolled), true), '-drive', `file=${esp},format=raw,if=virtio`], timeoutMs: 150_000, marker: 'Access Denied', killOnMarker: 1000 })

    // 2nd boot: Secure Boot enforced, the signed UKI boots (alongside the first negative case)
    const [enforced, noSig] = await Promise.all([bootQemu({ args: sbArgs, timeoutMs: BOOT_MS, marker: 'STANDIN-DONE' }), refused('unsigned', unsignedEsp)])
    expect(enforced.output).toContain('secureboot: Secure boot enabled')
    expectStandin(enforced, V12, `${BASE_12} talos.halt_if_installed=1 ${TAIL_12} lockdown=confidentiality ${META_ARG} panic=-1`, { meta: true })
    const wrongSig = await refused('foreign', foreignEsp)
    for (const r of [noSig, wrongSig]) {
      expect(r.markerSeen).toBe(true)
      expect(r.output).not.toContain('STANDIN-TALOS')
    }
    console.log(`Secure Boot ISO: enrol ${enrol.durationMs} ms, enforced boot ${enforced.markerAtMs} ms; refusals at ${noSig.markerAtMs} / ${wrongSig.markerAtMs} ms`)
  }, 4 * BOOT_MS)
})
