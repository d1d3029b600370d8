import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { buildCmdline, Cmdline, defaultKernelArgs, secureBootKernelArgs, type CmdlineInput } from '../../src/talos/cmdline.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { parseSemver, compareSemver } from '../../src/talos/semver.ts'

describe('Cmdline algebra (go-procfs)', () => {
  test('parse groups repeated keys at the first position', () => {
    expect(new Cmdline('a=1 b a=2').toString()).toBe('a=1 a=2 b')
    expect(new Cmdline('a=1 b a=2').get('a')).toEqual(['1', '2'])
    expect(new Cmdline('  x=  y\t z=1=2 \n').toArgs()).toEqual(['x', 'y', 'z=1=2'])
  })

  test('empty values render bare, `k=` renders as `k`', () => {
    expect(new Cmdline().appendAll(['slab_nomerge=']).toString()).toBe('slab_nomerge')
  })

  test('set replaces in place, append adds at the end', () => {
    const c = new Cmdline('talos.platform=metal console=ttyS0 console=tty0 pti=on')
    c.setAll(['console=tty1'])
    c.append('foo', 'bar')
    expect(c.toString()).toBe('talos.platform=metal console=tty1 pti=on foo=bar')
  })

  test('appendAll appends duplicates', () => {
    expect(new Cmdline('pti=on').appendAll(['pti=on']).toString()).toBe('pti=on pti=on')
  })

  test('appendAll with overwrite replaces all values of console', () => {
    const c = new Cmdline('talos.platform=metal console=ttyS0 console=tty0 a')
    c.appendAll(['console=ttyS1', 'console=ttyS2', 'talos.platform=aws'], { overwrite: ['console', 'talos.platform'] })
    expect(c.toString()).toBe('talos.platform=aws console=ttyS1 console=ttyS2 a')
  })

  test('negation: -key removes the key, -key=value removes one value', () => {
    const c = new Cmdline('console=ttyS0 console=tty0 selinux=1 pti=on keep')
    c.appendAll(['-selinux', '-console=ttyS0', '-missing', '-'], { deleteNegated: true })
    expect(c.toString()).toBe('console=tty0 pti=on keep -')
  })

  test('a key emptied by -key=value keeps its position for later appends', () => {
    const c = new Cmdline('a=1 b=2')
    c.appendAll(['-a=1', 'c', 'a=3'], { deleteNegated: true })
    expect(c.toString()).toBe('a=3 b=2 c')
  })

  test('without deleteNegated, -key is an ordinary argument', () => {
    expect(new Cmdline('selinux=1').appendAll(['-selinux']).toString()).toBe('selinux=1 -selinux')
  })
})

describe('default and SecureBoot args', () => {
  test.each([
    ['v1.7.0', 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512'],
    ['v1.10.0', 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512 selinux=1'],
    ['v1.11.0', 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1'],
    ['v1.12.0', 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1'],
    ['v1.13.0', 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'],
    ['v1.14.0', 'slab_nomerge pti=on consoleblank=0 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'],
  ])('%s', (version, expected) => {
    expect(new Cmdline().appendAll(defaultKernelArgs(new Quirks(version))).toString()).toBe(expected)
  })

  test('lockdown only before 1.14', () => {
    expect(secureBootKernelArgs(new Quirks('v1.13.0'))).toEqual(['lockdown=confidentiality'])
    expect(secureBootKernelArgs(new Quirks('v1.14.0'))).toEqual([])
  })
})

const base = (over: Partial<CmdlineInput> & Pick<CmdlineInput, 'platform' | 'arch' | 'version'>): CmdlineInput => ({
  outputKind: 'image',
  secureboot: false,
  ...over,
})

describe('imager-spec §3.5 verified results', () => {
  const TAIL14 = 'slab_nomerge pti=on consoleblank=0 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'
  test.each([
    ['metal amd64 1.7', base({ platform: 'metal', arch: 'amd64', version: 'v1.7.0' }),
      'talos.platform=metal console=ttyS0 console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512'],
    ['metal amd64 1.11', base({ platform: 'metal', arch: 'amd64', version: 'v1.11.0' }),
      'talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1'],
    ['metal amd64 1.13', base({ platform: 'metal', arch: 'amd64', version: 'v1.13.0' }),
      'talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never'],
    ['metal amd64 1.14', base({ platform: 'metal', arch: 'amd64', version: 'v1.14.0' }), `talos.platform=metal console=tty0 ${TAIL14}`],
    ['metal arm64 1.14', base({ platform: 'metal', arch: 'arm64', version: 'v1.14.0' }), `talos.platform=metal console=ttyAMA0 console=tty0 ${TAIL14}`],
    ['metal amd64 ISO 1.14', base({ platform: 'metal', arch: 'amd64', version: 'v1.14.0', outputKind: 'iso' }),
      `talos.platform=metal console=tty0 talos.halt_if_installed=1 ${TAIL14}`],
    ['aws amd64 1.14', base({ platform: 'aws', arch: 'amd64', version: 'v1.14.0' }),
      `talos.platform=aws console=tty1 console=ttyS0 net.ifnames=0 nvme_core.io_timeout=4294967295 ${TAIL14}`],
    ['aws arm64 1.14', base({ platform: 'aws', arch: 'arm64', version: 'v1.14.0' }),
      `talos.platform=aws console=tty1 console=ttyS0 net.ifnames=0 nvme_core.io_timeout=4294967295 ${TAIL14}`],
    ['azure amd64 1.14', base({ platform: 'azure', arch: 'amd64', version: 'v1.14.0' }),
      `talos.platform=azure console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 talos.dashboard.disabled=1 sysctl.kernel.kexec_load_disabled=1 ${TAIL14}`],
    ['azure arm64 1.14', base({ platform: 'azure', arch: 'arm64', version: 'v1.14.0' }),
      `talos.platform=azure console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 talos.dashboard.disabled=1 sysctl.kernel.kexec_load_disabled=1 ${TAIL14}`],
    ['vmware amd64 1.14', base({ platform: 'vmware', arch: 'amd64', version: 'v1.14.0' }),
      `talos.platform=vmware talos.config=guestinfo console=tty0 console=ttyS0 earlyprintk=ttyS0,115200 net.ifnames=0 ${TAIL14}`],
    ['rpi_generic overlay metal arm64 1.14',
      base({ platform: 'metal', arch: 'arm64', version: 'v1.14.0', overlayKernelArgs: ['console=tty0', 'console=ttyAMA0,115200', 'sysctl.kernel.kexec_load_disabled=1', 'talos.dashboard.disabled=1'] }),
      `talos.platform=metal console=tty0 console=ttyAMA0,115200 sysctl.kernel.kexec_load_disabled=1 talos.dashboard.disabled=1 ${TAIL14}`],
    ['metal amd64 1.13 SB ISO', base({ platform: 'metal', arch: 'amd64', version: 'v1.13.0', outputKind: 'iso', secureboot: true }),
      'talos.platform=metal console=tty0 talos.halt_if_installed=1 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never lockdown=confidentiality'],
    ['extra args on metal amd64 1.14',
      base({ platform: 'metal', arch: 'amd64', version: 'v1.14.0', extraKernelArgs: ['console=ttyS0', '-selinux', '-pti=on', 'foo', 'foo=bar'] }),
      'talos.platform=metal console=ttyS0 slab_nomerge consoleblank=0 printk.devkmsg=on module.sig_enforce=1 proc_mem.force_override=never foo foo=bar'],
  ] as const)('%s', (_name, input, expected) => {
    expect(buildCmdline(input)).toBe(expected)
  })
})

describe('factory-spec §6.8 test expectations', () => {
  const B = ' init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on'
  const ge = (v: string, min: string) => compareSemver(parseSemver(v), parseSemver(min)) >= 0
  const I = (v: string) => (ge(v, '1.11.0') ? '' : ' ima_template=ima-ng ima_appraise=fix ima_hash=sha512')
  const S = (v: string) => (ge(v, '1.10.0') ? ' selinux=1' : '')
  const M = (v: string) => (ge(v, '1.12.0') ? ' module.sig_enforce=1' : '')
  const P = (v: string) => (ge(v, '1.13.0') ? ' proc_mem.force_override=never' : '')
  const tail = (v: string) => B + I(v) + S(v) + M(v) + P(v)
  const metalAmd64 = (v: string) => (ge(v, '1.8.0') ? 'talos.platform=metal console=tty0' : 'talos.platform=metal console=ttyS0 console=tty0') + tail(v)
  const versions = ['v1.5.0', 'v1.6.0', 'v1.7.0', 'v1.8.0', 'v1.9.0', 'v1.10.0', 'v1.11.0', 'v1.12.0', 'v1.13.0']

  test.each(versions)('cmdline-metal-amd64, empty schematic @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'cmdline' }))).toBe(metalAmd64(v))
  })

  test.each(versions)('cmdline-aws-arm64, empty schematic @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'aws', arch: 'arm64', version: v, outputKind: 'cmdline' }))).toBe(
      'talos.platform=aws console=tty1 console=ttyS0 net.ifnames=0' + tail(v),
    )
  })

  test.each(versions)('cmdline-metal-amd64, extraArgs schematic @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'cmdline', extraKernelArgs: ['nolapic', 'nomodeset'] }))).toBe(
      metalAmd64(v) + ' nolapic nomodeset',
    )
  })

  test.each(versions)('cmdline-metal-amd64, meta schematic @ %s', (v) => {
    const metaContents = [{ key: 0xa, value: '{"externalIPs":["1.2.3.4"]}' }]
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'cmdline', metaContents }))).toBe(
      metalAmd64(v) + ' talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==',
    )
  })

  test('META is not put on the cmdline of disk images', () => {
    const metaContents = [{ key: 0xa, value: 'x' }]
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: 'v1.11.0', outputKind: 'image', metaContents }))).toBe(metalAmd64('v1.11.0'))
  })

  test.each(versions)('UKI .cmdline of nocloud-amd64-uki.efi @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'nocloud', arch: 'amd64', version: v, outputKind: 'uki' }))).toBe(
      'talos.platform=nocloud console=tty1 console=ttyS0 net.ifnames=0' + tail(v),
    )
  })

  const unified = ['v1.10.0', 'v1.11.0', 'v1.12.0', 'v1.13.0']
  test.each(unified)('UKI of metal-amd64-uki.efi with extraArgs @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'uki', extraKernelArgs: ['nolapic', 'nomodeset'] }))).toBe(
      'talos.platform=metal console=tty0' + tail(v) + ' nolapic nomodeset',
    )
  })

  test.each(unified)('installer UKI metal amd64 @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'installer' }))).toBe(
      'talos.platform=metal console=tty0' + B + I(v) + ' selinux=1' + M(v) + P(v),
    )
  })

  test.each(unified)('installer UKI metal arm64 @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'arm64', version: v, outputKind: 'installer' }))).toBe(
      'talos.platform=metal console=ttyAMA0 console=tty0' + B + I(v) + ' selinux=1' + M(v) + P(v),
    )
  })

  test.each(unified.flatMap((v) => [[v, 'amd64'], [v, 'arm64']]))('aws-installer UKI @ %s %s', (v, arch) => {
    expect(buildCmdline(base({ platform: 'aws', arch, version: v, outputKind: 'installer' }))).toBe(
      'talos.platform=aws console=tty1 console=ttyS0 net.ifnames=0' + B + I(v) + ' selinux=1' + M(v) + P(v),
    )
  })

  test.each(unified)('nocloud-installer-amd64 UKI @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'nocloud', arch: 'amd64', version: v, outputKind: 'installer' }))).toBe(
      'talos.platform=nocloud console=tty1 console=ttyS0 net.ifnames=0' + B + I(v) + ' selinux=1' + M(v) + P(v),
    )
  })

  test.each(['v1.5.0', 'v1.11.0'])('PXE equinixMetal @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'equinixMetal', arch: 'amd64', version: v, outputKind: 'cmdline' }))).toBe(
      'talos.platform=equinixMetal console=ttyS1,115200n8' + tail(v),
    )
  })

  test.each(['v1.5.0', 'v1.11.0'])('PXE metal-amd64-secureboot cmdline ends with lockdown @ %s', (v) => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: v, outputKind: 'cmdline', secureboot: true }))).toBe(
      metalAmd64(v) + ' lockdown=confidentiality',
    )
  })
})

describe('platform handling', () => {
  test('packet is an alias of equinixMetal', () => {
    expect(buildCmdline(base({ platform: 'packet', arch: 'arm64', version: 'v1.11.0' }))).toStartWith('talos.platform=equinixMetal console=ttyAMA0,115200 init_on_alloc=1')
  })

  test('container has no platform args', () => {
    expect(buildCmdline(base({ platform: 'container', arch: 'amd64', version: 'v1.11.0' }))).toStartWith('talos.platform=container init_on_alloc=1')
  })

  test('extra talos.platform overwrites the platform', () => {
    expect(buildCmdline(base({ platform: 'metal', arch: 'amd64', version: 'v1.14.0', extraKernelArgs: ['talos.platform=nocloud'] }))).toStartWith('talos.platform=nocloud console=tty0 slab_nomerge')
  })

  test('unknown platform is a 400 with Talos wording', () => {
    expect(() => buildCmdline(base({ platform: 'foo', arch: 'amd64', version: 'v1.11.0' }))).toThrow(InvalidInputError)
    expect(() => buildCmdline(base({ platform: 'foo', arch: 'amd64', version: 'v1.11.0' }))).toThrow('unknown platform: "foo"')
  })

  test('no trailing newline or double spaces', () => {
    const s = buildCmdline(base({ platform: 'vultr', arch: 'amd64', version: 'v1.11.0', extraKernelArgs: ['  a  ', ''] }))
    expect(s).toBe('talos.platform=vultr net.ifnames=0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 a')
  })
})
