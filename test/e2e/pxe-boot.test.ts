/**
 * The boot path end to end against the stand-in release: a schematic with a microcode extension
 * and a plain one plus extra kernel arguments; QEMU's own iPXE ROM boots the factory's PXE script
 * (BIOS and UEFI, user-mode network: the guest reaches the host's loopback as 10.0.2.2), and the
 * kernel + initramfs assets also boot directly. The stand-in init prints what it sees.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { freePort } from '../helpers/ports.ts'
import { bootQemu, directBootArgs, BOOT_FAILURE_PATTERNS } from '../helpers/qemu.ts'

const VERSION = 'v1.12.0'
const SCHEMATIC = `customization:
  extraKernelArgs:
    - console=ttyS0
    - panic=-1
    - net.ifnames=0
  systemExtensions:
    officialExtensions:
      - siderolabs/amd-ucode
      - siderolabs/gvisor
`
const EXPECTED_CMDLINE =
  'talos.platform=metal console=ttyS0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 panic=-1 net.ifnames=0'

let up: Upstream
let edge: RunningEdge
let id: string
let work: string

beforeAll(async () => {
  up = await sharedUpstream()
  const port = await freePort()
  edge = await startEdge({
    ...up.env,
    FACTORY_HTTP_ADDR: `127.0.0.1:${port}`,
    FACTORY_EXTERNAL_URL: `http://127.0.0.1:${port}/`,
    FACTORY_EXTERNAL_PXE_URL: `http://10.0.2.2:${port}/`,
  })
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: SCHEMATIC })
  expect(res.status).toBe(201)
  id = ((await res.json()) as { id: string }).id
  work = mkdtempSync(join(tmpdir(), 'pxe-boot-'))
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

function assertStandinSawEverything(output: string, cmdline: string): void {
  for (const bad of BOOT_FAILURE_PATTERNS) expect(output).not.toContain(bad)
  expect(output).toContain(`STANDIN-TALOS ${VERSION} BOOT-OK`)
  expect(output).toContain(`CMDLINE: ${cmdline}\n`)
  expect(output).toMatch(/EXTENSION: amd-ucode \S+/)
  expect(output).toMatch(/EXTENSION: gvisor \S+/)
  expect(output).toContain(`EXTENSION: schematic ${id}`)
  expect(output).toMatch(/EXTENSION-MOUNTED: \S+\.sqsh ->/)
  expect(output).toMatch(/MICROCODE: \S*AuthenticAMD\.bin \d+/)
  expect(output).toContain('STANDIN-DONE')
}

describe('PXE script', () => {
  test('is the reference script with URLs on the PXE base and the schematic cmdline', async () => {
    const res = await fetch(`${edge.url}/pxe/${id}/${VERSION}/metal-x86_64`)
    expect(res.status).toBe(200)
    const base = edge.ctx.config.http.externalPxeUrl.replace(/\/$/, '')
    expect(await res.text()).toBe(
      `#!ipxe\n\nimgfree\nkernel ${base}/image/${id}/${VERSION}/kernel-amd64 ${EXPECTED_CMDLINE}\ninitrd ${base}/image/${id}/${VERSION}/initramfs-amd64.xz\nboot\n`,
    )
  }, 120_000)

  test('FACTORY_PXE_INITRD_ARG=auto: the script follows the User-Agent, so it says Vary: User-Agent', async () => {
    const url = `${edge.url}/pxe/${id}/${VERSION}/metal-x86_64`
    const legacy = await fetch(url, { headers: { 'user-agent': 'iPXE/1.0.0+ (4bd064de)' } })
    const modern = await fetch(url, { headers: { 'user-agent': 'iPXE/1.21.1' } })
    expect(await legacy.text()).toContain(`/kernel-amd64 initrd=initramfs-amd64.xz ${EXPECTED_CMDLINE}\n`)
    expect(await modern.text()).toContain(`/kernel-amd64 ${EXPECTED_CMDLINE}\n`)
    for (const res of [legacy, modern]) expect(res.headers.get('vary')).toBe('User-Agent')
    // in the fixed modes the script does not depend on the request
    const never = await startEdge({ ...up.env, FACTORY_PXE_INITRD_ARG: 'never' })
    try {
      const sid = ((await (await fetch(`${never.url}/schematics`, { method: 'POST', body: SCHEMATIC })).json()) as { id: string }).id
      const res = await fetch(`${never.url}/pxe/${sid}/${VERSION}/metal-x86_64`, { headers: { 'user-agent': 'iPXE/1.0.0+ (4bd064de)' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('vary')).toBeNull()
      expect(await res.text()).toContain(`/kernel-amd64 ${EXPECTED_CMDLINE}\n`)
    } finally {
      await never.stop()
    }
  }, 120_000)

  test('unknown schematic → 404; bad platform-arch → 400; HEAD → 405', async () => {
    const nf = await fetch(`${edge.url}/pxe/${'0'.repeat(64)}/${VERSION}/metal-amd64`)
    expect(nf.status).toBe(404)
    expect(await nf.text()).toBe(`schematic ID "${'0'.repeat(64)}" not found\n`)
    const bad = await fetch(`${edge.url}/pxe/${id}/${VERSION}/metal-sparc`)
    expect(bad.status).toBe(400)
    expect(await bad.text()).toBe('error parsing profile from path: invalid architecture: "sparc"\n')
    expect((await fetch(`${edge.url}/pxe/${id}/${VERSION}/metal-amd64`, { method: 'HEAD' })).status).toBe(405)
  })
})

describe('boots', () => {
  const nic = (model: string) => ['-boot', 'n', '-nic', `user,model=${model},bootfile=http://10.0.2.2:${edge.ctx.config.http.port}/pxe/${id}/${VERSION}/metal-x86_64`]

  test('direct kernel + initramfs', async () => {
    const kernel = join(work, 'kernel')
    const initrd = join(work, 'initramfs.xz')
    writeFileSync(kernel, new Uint8Array(await (await fetch(`${edge.url}/image/${id}/${VERSION}/kernel-amd64`)).arrayBuffer()))
    writeFileSync(initrd, new Uint8Array(await (await fetch(`${edge.url}/image/${id}/${VERSION}/initramfs-amd64.xz`)).arrayBuffer()))
    const cmdline = await (await fetch(`${edge.url}/image/${id}/${VERSION}/cmdline-metal-amd64`)).text()
    expect(cmdline).toBe(EXPECTED_CMDLINE)
    const r = await bootQemu({ args: directBootArgs({ kernel, initrd, append: cmdline }), timeoutMs: 120_000, marker: 'STANDIN-DONE' })
    assertStandinSawEverything(r.output, EXPECTED_CMDLINE)
  }, 150_000)

  test('iPXE BIOS and UEFI (in parallel)', async () => {
    const vars = join(work, 'OVMF_VARS.fd')
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars)
    const [bios, uefi] = await Promise.all([
      bootQemu({ args: ['-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', ...nic('virtio-net-pci')], timeoutMs: 180_000, marker: 'STANDIN-DONE' }),
      bootQemu({
        args: [
          '-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', '-machine', 'q35',
          '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
          '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
          ...nic('e1000e'),
        ],
        timeoutMs: 180_000,
        marker: 'STANDIN-DONE',
      }),
    ])
    // QEMU's 2019 iPXE ROM gets `initrd=` (FACTORY_PXE_INITRD_ARG=auto), needed on UEFI; iPXE's EFI
    // loader also passes the image name as argv[0], as it does for any EFI kernel.
    assertStandinSawEverything(bios.output, `initrd=initramfs-amd64.xz ${EXPECTED_CMDLINE}`)
    assertStandinSawEverything(uefi.output, `kernel-amd64 initrd=initramfs-amd64.xz ${EXPECTED_CMDLINE}`)
  }, 240_000)
})
