/**
 * The wizard's pure parts: parameters (validation, derived values, version gates), steps and their
 * URLs (deep links, Back), the schematic the choices make (the reference UI's rules), the final
 * page's links for each kind of hardware and version, and HTML escaping.
 */
import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { CLOUD_PLATFORMS, METAL_PLATFORM, type PlatformInfo } from '../../src/talos/platforms.ts'
import { html, raw } from '../../edge/ui/html.ts'
import {
  backUrl,
  carriedPairs,
  currentStep,
  normalizeWizard,
  parseWizardParams,
  stepsFor,
  toPairs,
  urlOf,
  type WizardParams,
} from '../../edge/ui/params.ts'
import { prefillFrom, wizardSchematic, wizardSchematicYaml } from '../../edge/ui/schematic.ts'
import { finalLinks, type FinalLinkInput } from '../../edge/ui/links.ts'
import { llmsText } from '../../edge/ui/llms.ts'
import { formatBytes } from '../../edge/ui/status.ts'

const q = (query: string, allowSecrets = false): WizardParams => normalizeWizard(parseWizardParams(new URLSearchParams(query), { allowSecrets }))
const reason = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError)
    return (err as Error).message
  }
  throw new Error('expected an InvalidInputError')
}
const platform = (name: string): PlatformInfo => CLOUD_PLATFORMS.find((p) => p.name === name)!
const ID = 'c'.repeat(64)

describe('parameters', () => {
  test('the reference names; version without v; first value wins; blanks are absent', () => {
    const p = q('target=metal&version=v1.12.0&arch=amd64&arch=arm64&secureboot=true&extensions=-&extensions=siderolabs/gvisor&cmdline=+a+b+&cmdline-set=true&bootloader=&schematic-id=' + ID)
    expect(p).toMatchObject({ target: 'metal', version: '1.12.0', arch: 'amd64', secureboot: true, extensions: ['-', 'siderolabs/gvisor'], cmdline: 'a b', cmdlineSet: true, schematicId: ID })
    expect(p.bootloader).toBeUndefined()
    expect(p.platform).toBe('metal')
  })

  test('bad values are refused with a one-line reason naming the parameter', () => {
    expect(reason(() => q('target=laptop'))).toBe('invalid wizard parameter target: must be metal, cloud or sbc')
    expect(reason(() => q('target=metal&version=1.12'))).toBe('invalid wizard parameter version: must be a Talos version like 1.12.0')
    expect(reason(() => q('arch=riscv64'))).toBe('invalid wizard parameter arch: must be amd64 or arm64')
    expect(reason(() => q('extensions=<script>'))).toBe('invalid wizard parameter extensions.0: not an extension name')
    expect(reason(() => q('schematic-id=abc'))).toBe('invalid wizard parameter schematic-id: must be 64 lowercase hex characters')
    expect(reason(() => q(`cmdline=${'a'.repeat(8193)}`))).toBe('invalid wizard parameter cmdline: at most 8192 characters')
    expect(reason(() => q(Array.from({ length: 2001 }, () => 'x=1').join('&')))).toBe('too many wizard parameters')
  })

  test('an embedded machine configuration is accepted only from a POST body', () => {
    expect(reason(() => q('embedded-config=machine%3A+%7B%7D'))).toBe('embedded-config is a secret: send it in a POST body, never in a URL')
    expect(q('target=metal&version=1.12.0&embedded-config=machine%3A+%7B%7D', true).embeddedConfig).toBe('machine: {}')
    expect(reason(() => q('target=metal&version=1.11.0&embedded-config=a%3A+b', true))).toBe('an embedded machine configuration needs Talos 1.12.0 or later')
  })

  test('selected- twins are defaults; unknown ones are ignored', () => {
    const p = q('selected-arch=arm64&selected-extensions=a/b&selected-extensions=c/d&selected-nonsense=1')
    expect(p.selected).toEqual({ arch: ['arm64'], extensions: ['a/b', 'c/d'] })
  })
})

describe('derived values and version gates', () => {
  test('SBC: platform metal, arm64, Talos 1.7+, boards by minimum version', () => {
    const p = q('target=sbc&version=1.12.0&board=rpi_generic')
    expect([p.platform, p.arch, p.secureboot]).toEqual(['metal', 'arm64', false])
    expect(reason(() => q('target=sbc&version=1.6.0'))).toBe('single-board computers need Talos 1.7.0 or later')
    expect(reason(() => q('target=sbc&version=1.12.0&board=rpi_5'))).toBe('board rpi_5 needs Talos 1.12.3 or later')
    expect(reason(() => q('target=sbc&version=1.12.0&board=pi'))).toBe('unknown board "pi"')
  })

  test('cloud: a single-architecture platform picks its arch; others keep the choice; minimum versions', () => {
    expect(q('target=cloud&version=1.12.0&platform=hcloud').arch).toBe('amd64')
    expect(q('target=cloud&version=1.12.0&platform=digital-ocean&arch=arm64').arch).toBe('amd64')
    expect(q('target=cloud&version=1.12.0&platform=aws').arch).toBeUndefined()
    expect(reason(() => q('target=cloud&version=1.6.0&platform=akamai'))).toBe('platform akamai needs Talos 1.7.0 or later')
    expect(reason(() => q('target=cloud&version=1.12.0&platform=mainframe'))).toBe('unknown cloud platform "mainframe"')
  })

  test('SecureBoot only from 1.5 on metal and platforms that support it; bootloader choice from 1.12.0-alpha.2, never GRUB with SecureBoot', () => {
    expect(q('target=metal&version=1.12.0&secureboot=true').secureboot).toBe(true)
    expect(q('target=metal&version=1.4.0&secureboot=true').secureboot).toBe(false)
    expect(q('target=cloud&version=1.12.0&platform=aws&secureboot=true').secureboot).toBe(false)
    expect(q('target=cloud&version=1.12.0&platform=azure&secureboot=true').secureboot).toBe(true)
    expect(q('target=metal&version=1.12.0-alpha.2&bootloader=grub').bootloader).toBe('grub')
    expect(q('target=metal&version=1.12.0-alpha.1&bootloader=grub').bootloader).toBeUndefined()
    expect(q('target=metal&version=1.12.0&secureboot=true&bootloader=grub').bootloader).toBeUndefined()
    expect(q('target=metal&version=1.12.0&overlay-options=a%3A+1').overlayOptions).toBe('')
  })
})

describe('steps and their URLs', () => {
  test('each choice moves to the next step; derived ones skip theirs', () => {
    const walk = ['', 'target=metal', 'target=metal&version=1.12.0', 'target=metal&version=1.12.0&arch=amd64', 'target=metal&version=1.12.0&arch=amd64&extensions=-', 'target=metal&version=1.12.0&arch=amd64&extensions=-&cmdline-set=true']
    expect(walk.map((w) => currentStep(q(w)))).toEqual(['start', 'version', 'arch', 'extensions', 'cmdline', 'final'])
    expect(stepsFor(q('target=sbc'))).toEqual(['start', 'version', 'sbc', 'extensions', 'cmdline', 'final'])
    expect(stepsFor(q('target=cloud&version=1.12.0&platform=hcloud'))).toEqual(['start', 'version', 'cloud', 'extensions', 'cmdline', 'final'])
    expect(stepsFor(q('target=cloud&version=1.12.0&platform=aws'))).toEqual(['start', 'version', 'cloud', 'arch', 'extensions', 'cmdline', 'final'])
    expect(currentStep(q('target=metal&version=1.12.0&arch=amd64&extensions=-&filter=1'))).toBe('extensions')
  })

  test('a step URL parses back to the same choices (a deep link re-opens the step)', () => {
    const p = q('target=sbc&version=1.12.0&board=rpi_generic&extensions=-&extensions=siderolabs/gvisor&cmdline=a+b&overlay-options=x%3A+1&selected-version=1.10.7')
    const again = q(urlOf(toPairs(p)).slice(2))
    expect(again).toEqual(p)
    expect(urlOf(toPairs(p))).toBe('/?target=sbc&version=1.12.0&board=rpi_generic&arch=arm64&extensions=-&extensions=siderolabs%2Fgvisor&cmdline=a+b&overlay-options=x%3A+1&selected-version=1.10.7')
  })

  test('Back undoes the previous choice and remembers it', () => {
    expect(backUrl(q(''), 'start')).toBeNull()
    expect(backUrl(q('target=metal'), 'version')).toBe('/?selected-target=metal')
    expect(backUrl(q('target=metal&version=1.12.0&arch=arm64&secureboot=true'), 'extensions')).toBe('/?target=metal&version=1.12.0&selected-arch=arm64&selected-secureboot=true')
    // the arch of a single-arch platform was never a choice: Back goes to the platform
    expect(backUrl(q('target=cloud&version=1.12.0&platform=hcloud'), 'extensions')).toBe('/?target=cloud&version=1.12.0&selected-platform=hcloud')
    // an unchecked SecureBoot box replaces a remembered checked one
    expect(backUrl(q('target=metal&version=1.12.0&arch=amd64&selected-secureboot=true'), 'extensions')).toBe('/?target=metal&version=1.12.0&selected-arch=amd64')
    const final = q(`target=metal&version=1.12.0&arch=amd64&extensions=-&cmdline=x&cmdline-set=true&bootloader=sd-boot&schematic-id=${ID}`)
    expect(backUrl(final, 'final')).toBe(`/?target=metal&version=1.12.0&arch=amd64&extensions=-&schematic-id=${ID}&selected-cmdline=x&selected-bootloader=sd-boot`)
  })

  test('a step form carries the earlier choices, not its own', () => {
    const p = q(`target=metal&version=1.12.0&arch=amd64&selected-arch=arm64&selected-cmdline=y&schematic-id=${ID}`)
    expect(carriedPairs(p, 'arch')).toEqual([['target', 'metal'], ['version', '1.12.0'], ['schematic-id', ID], ['selected-cmdline', 'y']])
  })
})

describe('the schematic the choices make', () => {
  const base = 'target=metal&version=1.12.0&arch=amd64&cmdline-set=true'
  test('kernel args split on single spaces, extensions sorted without the placeholder, bootloader unless auto', () => {
    expect(wizardSchematic(q(`${base}&extensions=-&extensions=siderolabs/zfs&extensions=siderolabs/amd-ucode&cmdline=a++b&bootloader=dual-boot`))).toEqual({
      customization: { extraKernelArgs: ['a', '', 'b'], systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/zfs'] }, bootloader: 'dual-boot' },
    })
    expect(wizardSchematicYaml(q(`${base}&extensions=-&bootloader=auto`))).toBe('customization: {}\n')
  })

  test('an SBC gets its board overlay with the options YAML; other hardware never does', () => {
    const s = wizardSchematic(q('target=sbc&version=1.12.0&board=nanopi_r4s&extensions=-&cmdline-set=true&overlay-options=configTxt%3A+%22x%22%0Acount%3A+2'))
    expect(s.overlay).toEqual({ image: 'siderolabs/sbc-rockchip', name: 'nanopi-r4s', options: { configTxt: 'x', count: 2 } })
    expect(wizardSchematicYaml(q('target=sbc&version=1.12.0&board=rpi_generic&extensions=-&cmdline-set=true'))).toBe(
      'overlay:\n    image: siderolabs/sbc-raspberrypi\n    name: rpi_generic\ncustomization: {}\n',
    )
    expect(reason(() => wizardSchematic(q('target=sbc&version=1.12.0&board=rpi_generic&overlay-options=-+a')))).toBe('overlay-options must be a YAML mapping of option names to values')
  })

  // (how quickly is the parser's business: its budgets are tested and benchmarked in test/security
  // and test/bench/hostile-bodies.ts; no wall-clock assertion here)
  test('hostile overlay options are refused by the bounded YAML parser', () => {
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]', 'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]', 'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]'].join('\n')
    for (const text of [bomb, `deep: ${'['.repeat(5000)}${']'.repeat(5000)}`]) {
      const p = q(`target=sbc&version=1.12.0&board=rpi_generic&overlay-options=${encodeURIComponent(text)}`)
      expect(() => wizardSchematic(p)).toThrow(InvalidInputError)
    }
  })

  test('the embedded machine configuration, and a stored schematic back into defaults', () => {
    const p = q(`${base}&extensions=-&extensions=siderolabs/gvisor&cmdline=a+b&bootloader=sd-boot&embedded-config=machine%3A%0A++type%3A+worker%0A`, true)
    const s = wizardSchematic(p)
    expect(s.customization.embeddedMachineConfiguration).toBe('machine:\n  type: worker\n')
    expect(prefillFrom(s)).toEqual({ target: undefined, board: undefined, extensions: ['siderolabs/gvisor'], cmdline: 'a b', bootloader: 'sd-boot', overlayOptions: '', embeddedConfig: 'machine:\n  type: worker\n' })
    const sbc = wizardSchematic(q('target=sbc&version=1.12.0&board=rpi_generic&overlay-options=a%3A+1'))
    expect(prefillFrom(sbc)).toMatchObject({ target: 'sbc', board: 'rpi_generic', overlayOptions: 'a: 1' })
  })
})

describe('final page links', () => {
  const input = (over: Partial<FinalLinkInput>): FinalLinkInput => ({
    schematicId: ID,
    version: '1.12.0',
    target: 'metal',
    platform: METAL_PLATFORM,
    arch: 'amd64',
    secureboot: false,
    externalUrl: 'https://factory.example/',
    externalPxeUrl: 'http://10.0.0.1:8080/',
    talosctlFiles: [],
    ...over,
  })
  const files = (l: ReturnType<typeof finalLinks>) => l.boot.flatMap((b) => b.links.map((a) => a.file))

  test('metal: ISO, raw.zst and qcow2 disk images, PXE on the PXE URL, the boot assets, the installer', () => {
    const l = finalLinks(input({ talosctlFiles: ['talosctl-linux-amd64'] }))
    expect(files(l)).toEqual(['metal-amd64.iso', 'metal-amd64.raw.zst', 'metal-amd64.qcow2'])
    expect(l.boot.find((b) => b.method === 'pxe')?.pxeUrl).toBe(`http://10.0.0.1:8080/pxe/${ID}/v1.12.0/metal-amd64`)
    expect(l.extra.map((a) => [a.file, a.kind, a.built])).toEqual([
      ['kernel-amd64', 'kernel', true],
      ['cmdline-metal-amd64', 'cmdline', true],
      ['initramfs-amd64.xz', 'initramfs', true],
      ['metal-amd64-uki.efi', 'uki', true],
    ])
    const initramfs = l.extra[2]!
    expect(initramfs.url).toBe(`https://factory.example/image/${ID}/v1.12.0/initramfs-amd64.xz`)
    expect(initramfs.checksumUrl).toBe(`${initramfs.url}.sha256`)
    expect(initramfs.progressPath).toBe(`/progress/${ID}/v1.12.0/initramfs-amd64.xz`)
    expect(l.installerImage).toBe(`factory.example/metal-installer/${ID}:v1.12.0`)
    expect(l.upgradeCommand).toBe(`talosctl upgrade --image factory.example/metal-installer/${ID}:v1.12.0`)
    expect(l.talosctl).toEqual([{ name: 'talosctl-linux-amd64', url: 'https://factory.example/talosctl/v1.12.0/talosctl-linux-amd64' }])
    expect(l.schematicUrl).toBe(`https://factory.example/schematics/${ID}`)
  })

  test('SecureBoot: signed media and only the SecureBoot UKI; old versions: no UKI, the legacy installer name', () => {
    const sb = finalLinks(input({ secureboot: true, version: '1.9.5' }))
    expect(files(sb)).toEqual(['metal-amd64-secureboot.iso', 'metal-amd64-secureboot.raw.zst', 'metal-amd64-secureboot.qcow2'])
    expect(sb.extra.map((a) => a.file)).toEqual(['metal-amd64-secureboot-uki.efi'])
    expect(sb.installerImage).toBe(`factory.example/installer-secureboot/${ID}:v1.9.5`)
    const old = finalLinks(input({ version: '1.4.8' }))
    expect(old.extra.map((a) => a.file)).toEqual(['kernel-amd64', 'cmdline-metal-amd64', 'initramfs-amd64.xz'])
    expect(old.installerImage).toBe(`factory.example/installer/${ID}:v1.4.8`)
  })

  test('cloud platforms by their boot methods and disk formats; SBCs: one arm64 disk image', () => {
    const cloud = (name: string, arch: 'amd64' | 'arm64' = 'amd64') => finalLinks(input({ target: 'cloud', platform: platform(name), arch }))
    expect(files(cloud('aws', 'arm64'))).toEqual(['aws-arm64.raw.xz'])
    expect(files(cloud('gcp'))).toEqual(['gcp-amd64.raw.tar.gz'])
    expect(files(cloud('vmware'))).toEqual(['vmware-amd64.ova', 'vmware-amd64.iso'])
    expect(cloud('equinixMetal').boot.map((b) => b.pxeUrl)).toEqual([`http://10.0.0.1:8080/pxe/${ID}/v1.12.0/equinixMetal-amd64`])
    expect(cloud('aws').extra).toEqual([])
    expect(cloud('azure').installerImage).toBe(`factory.example/azure-installer/${ID}:v1.12.0`)
    const sbc = finalLinks(input({ target: 'sbc', arch: 'arm64' }))
    expect(files(sbc)).toEqual(['metal-arm64.raw.xz'])
    expect(sbc.installerImage).toBe(`factory.example/metal-installer/${ID}:v1.12.0`)
  })

  test('an external URL with a path prefix keeps it; the installer names the host', () => {
    const l = finalLinks(input({ externalUrl: 'https://example.org:8443/factory/', externalPxeUrl: 'https://example.org:8443/factory/' }))
    expect(l.extra[0]!.url).toBe(`https://example.org:8443/factory/image/${ID}/v1.12.0/kernel-amd64`)
    expect(l.installerImage).toBe(`example.org:8443/metal-installer/${ID}:v1.12.0`)
  })
})

describe('odds and ends', () => {
  test('HTML templates escape every value unless it is our own markup', () => {
    const evil = `<script>alert("x")</script>' &`
    expect(html`<p title="${evil}">${evil}${raw('<br>')}${[1, html`<b>${'<'}</b>`]}${null}${false}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; &amp;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; &amp;<br>1<b>&lt;</b></p>',
    )
  })

  test('llms.txt names this factory\'s URLs', () => {
    const text = llmsText('https://factory.example/', 'http://10.0.0.1/')
    expect(text).toContain('POST its YAML (or JSON) to https://factory.example/schematics')
    expect(text).toContain('http://10.0.0.1/pxe/<id>/<version>/<platform>-<arch>')
    expect(text).toContain('factory.example/<platform>-installer/<id>:<version>')
  })

  test('sizes in words', () => {
    expect([0, 1023, 1536, 20 * 1024 ** 3].map(formatBytes)).toEqual(['0 bytes', '1023 bytes', '1.5 KiB', '20 GiB'])
  })
})
