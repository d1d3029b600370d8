/**
 * Canonical emitter: every vector of factory-spec §4.6 (struct → canonical bytes → ID), the quoting
 * rules of §4.4 rule 7, literal block scalars, overlay option ordering, free-form values, and
 * parse(emit(x)) round trips.
 */
import { describe, expect, test } from 'bun:test'
import { emitCanonical, emitYamlValue, parseSchematic, schematicId } from '../../src/schematic/index.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp } from '../../src/schematic/types.ts'
import type { Schematic, YamlValue } from '../../src/schematic/types.ts'

const EMPTY_ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

const args = (...a: string[]): Schematic => ({ customization: { extraKernelArgs: a } })
const exts = (...e: string[]): Schematic => ({ customization: { systemExtensions: { officialExtensions: e } } })
const emc = (text: string): Schematic => ({ customization: { embeddedMachineConfiguration: text } })
const RPI = { image: 'siderolabs/sbc-raspberrypi', name: 'rpi_generic' }

interface Vector {
  name: string
  schematic: Schematic
  canonical?: string
  id: string
}

/** V1–V10 (§4.6). */
const MAIN_VECTORS: Vector[] = [
  { name: 'V1 empty', schematic: { customization: {} }, canonical: 'customization: {}\n', id: EMPTY_ID },
  {
    name: 'V2 kernel args',
    schematic: args('noapic', 'nolapic'),
    canonical: 'customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n',
    id: '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c',
  },
  {
    name: 'V3 meta',
    schematic: { customization: { meta: [{ key: 10, value: 'foo' }] } },
    canonical: 'customization:\n    meta:\n        - key: 10\n          value: foo\n',
    id: 'd308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f',
  },
  {
    name: 'V4 secureboot well-known certs',
    schematic: { customization: { secureboot: { includeWellKnownCertificates: true } } },
    canonical: 'customization:\n    secureboot:\n        includeWellKnownCertificates: true\n',
    id: 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6',
  },
  {
    name: 'V5 4k sectors',
    schematic: { customization: { diskImage: { sectorSize: 4096 } } },
    canonical: 'customization:\n    diskImage:\n        sectorSize: 4096\n',
    id: '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea',
  },
  {
    name: 'V6 overlay',
    schematic: { overlay: RPI, customization: {} },
    canonical: 'overlay:\n    image: siderolabs/sbc-raspberrypi\n    name: rpi_generic\ncustomization: {}\n',
    id: 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9',
  },
  {
    name: 'V7 extensions + args + meta',
    schematic: {
      customization: {
        extraKernelArgs: ['noapic', 'nolapic'],
        meta: [{ key: 0xa, value: 'foo' }],
        systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/intel-ucode'] },
      },
    },
    canonical:
      'customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n    meta:\n        - key: 10\n          value: foo\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/amd-ucode\n            - siderolabs/intel-ucode\n',
    id: '6ba13d510dcc57f233b9b498d34a3c919c1abdd5675b46ad53cf4f2e66362f82',
  },
  {
    name: 'V8 overlay + args + extensions',
    schematic: {
      overlay: { name: 'rpi_generic', image: 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0' },
      customization: {
        extraKernelArgs: ['noapic', 'nolapic'],
        systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/intel-ucode'] },
      },
    },
    canonical:
      'overlay:\n    image: ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0\n    name: rpi_generic\ncustomization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/amd-ucode\n            - siderolabs/intel-ucode\n',
    id: '1da25204d18e6db95cb65ce2e38424b2ad94b2519a53aef34e45f07cc73ca5e8',
  },
  {
    name: 'V9 extension order kept',
    schematic: exts(
      'siderolabs/nvidia-container-toolkit',
      'siderolabs/nvidia-open-gpu-kernel-modules',
      'siderolabs/nonfree-kmod-nvidia',
      'siderolabs/nvidia-fabricmanager',
      'siderolabs/i915-ucode',
      'siderolabs/amdgpu-firmware',
    ),
    canonical:
      'customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/nvidia-container-toolkit\n            - siderolabs/nvidia-open-gpu-kernel-modules\n            - siderolabs/nonfree-kmod-nvidia\n            - siderolabs/nvidia-fabricmanager\n            - siderolabs/i915-ucode\n            - siderolabs/amdgpu-firmware\n',
    id: '42c5a897579913a97ad7edc56c0d858bc4dd8639951e02b084edbb2e190a7898',
  },
  {
    name: 'V10 embedded config, no trailing newline',
    schematic: emc('apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: worker-33'),
    canonical: 'customization:\n    embeddedMachineConfiguration: |-\n        apiVersion: v1alpha1\n        kind: HostnameConfig\n        hostname: worker-33\n',
    id: '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c',
  },
]

/** Integration-suite schematics (§4.6 "derived vectors"). */
const INTEGRATION_VECTORS: Vector[] = [
  { name: 'emptySchematicID', schematic: { customization: {} }, id: EMPTY_ID },
  {
    name: 'extraArgsSchematicID',
    schematic: args('nolapic', 'nomodeset'),
    canonical: 'customization:\n    extraKernelArgs:\n        - nolapic\n        - nomodeset\n',
    id: 'e0fb1129bbbdfb5d002e94af4cdce712a8370e850950a33a242d4c3f178c532d',
  },
  {
    name: 'systemExtensionsSchematicID',
    schematic: exts('siderolabs/amd-ucode', 'siderolabs/gvisor', 'siderolabs/gasket-driver'),
    canonical:
      'customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/amd-ucode\n            - siderolabs/gvisor\n            - siderolabs/gasket-driver\n',
    id: '51ff3e49313773332729a5c04e57af0dbe2e6d3f65ff638e6d4c3a05065fefff',
  },
  {
    name: 'metaSchematicID',
    schematic: { customization: { meta: [{ key: 0xa, value: '{"externalIPs":["1.2.3.4"]}' }] } },
    canonical: 'customization:\n    meta:\n        - key: 10\n          value: \'{"externalIPs":["1.2.3.4"]}\'\n',
    id: 'fe866116408a5a13dab7d5003eb57a00954ea81ebeec3fbbcd1a6d4462a00036',
  },
  { name: 'rpiGenericOverlaySchematicID', schematic: { overlay: RPI, customization: {} }, id: 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9' },
  {
    name: 'securebootWellKnownSchematicID',
    schematic: { customization: { secureboot: { includeWellKnownCertificates: true } } },
    id: 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6',
  },
  {
    name: 'grubBootloaderOverrideSchematicID',
    schematic: { customization: { bootloader: 'grub' } },
    canonical: 'customization:\n    bootloader: grub\n',
    id: '39d496b2cbdb6265d3b714514c5334bf010f1b4d31b23b9e38c80fb2f3ad7ecb',
  },
  {
    name: 'sdBootBootloaderOverrideSchematicID',
    schematic: { customization: { bootloader: 'sd-boot' } },
    canonical: 'customization:\n    bootloader: sd-boot\n',
    id: '9ed5fecdacb36b5c5427b87d409f1065cfb2df69b0f71c58b868d9d466d8dab3',
  },
  {
    name: 'embeddedConfigSchematicID',
    schematic: emc('apiVersion: v1alpha1/nkind: HostnameConfig/nhostname: my-custom-hostname/nauto: off'),
    canonical: "customization:\n    embeddedMachineConfiguration: 'apiVersion: v1alpha1/nkind: HostnameConfig/nhostname: my-custom-hostname/nauto: off'\n",
    id: '79312a00a1ccfee2c4ecad20fcb972ef75fce4e62053384d97885de26852c413',
  },
  {
    name: 'diskImage4kSectorSchematicID',
    schematic: { customization: { diskImage: { sectorSize: 4096 } } },
    id: '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea',
  },
  {
    name: 'extraExtensionsSchematicID',
    schematic: exts('extension-testing/my-extension'),
    canonical: 'customization:\n    systemExtensions:\n        officialExtensions:\n            - extension-testing/my-extension\n',
    id: '9414259a4d71e1c9ab92bfaf673f83ac85afe39839ed91e28ca6e1177f576437',
  },
]

const DOCS_EMC =
  'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: my-custom-hostname\nauto: off\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote-log\nurl: tcp://10.0.0.50:5044/\n'

/** "Additional verified vectors" (§4.6). */
const ADDITIONAL_VECTORS: Vector[] = [
  { name: 'vga=791 (docs example)', schematic: args('vga=791'), id: 'eea1f9534c46d95c4715a2f13d17eacb927c13a42ef087c79b22c3bd0c49d073' },
  { name: 'console=ttyS0', schematic: args('console=ttyS0'), id: 'ab1024449cff00f2e27caee13298635e8fd178c6079d4de34a9370a55a54b938' },
  { name: 'amd-ucode', schematic: exts('siderolabs/amd-ucode'), id: '96f8c146a67c80daad900d3fc1a6976fe11062321eee9ab6ae2a6aea88b2d26e' },
  { name: 'amd-ucode, gvisor', schematic: exts('siderolabs/amd-ucode', 'siderolabs/gvisor'), id: 'ed510afbbd542b252bf618c09ac0d3f4ad8711c6ce752ebafa91c0779836a5c0' },
  { name: 'gvisor, amd-ucode (order matters)', schematic: exts('siderolabs/gvisor', 'siderolabs/amd-ucode'), id: 'a993cf18ef6a65e3fc6d2f651c0363981b6b2e823829ad95a2557cfc97ca6595' },
  { name: 'args a', schematic: args('a'), id: 'b768f3ce41d4c6a93b0b20f96413eb41e9ba05148ddc4bde45beed428ce27cba' },
  { name: 'args a, a (duplicates kept)', schematic: args('a', 'a'), id: 'a0e3ad7b5b909025fac10d825b3558046d23f09be4ac8fd5b77972b969e1dcbc' },
  {
    name: 'args "1", "true"',
    schematic: args('1', 'true'),
    canonical: 'customization:\n    extraKernelArgs:\n        - "1"\n        - "true"\n',
    id: 'be40de6c0fe4f5d7ad57d5066136a1a11c5fdd415b3c31c79b2e385a45d0fbd3',
  },
  {
    name: 'meta key 0, empty value',
    schematic: { customization: { meta: [{ key: 0, value: '' }] } },
    canonical: 'customization:\n    meta:\n        - key: 0\n          value: ""\n',
    id: '91e6a29add7dfa6f7cb57843fbdccccbba2105910982ddac0a48733a2552d9b7',
  },
  { name: 'meta key 10 value x', schematic: { customization: { meta: [{ key: 10, value: 'x' }] } }, id: 'ab79d5ec02d6e5ff5f458d535dc7395bf3f889205b1c1f69b2fe5151e19af367' },
  {
    name: 'secureboot force + well-known',
    schematic: { customization: { secureboot: { enrollKeys: 'force', includeWellKnownCertificates: true } } },
    id: '51e6baa0e88e8c3517231638007ba433f3fdde58a21c303221928f4cd7796036',
  },
  { name: 'secureboot bogus enrollKeys', schematic: { customization: { secureboot: { enrollKeys: 'bogus' } } }, id: 'ba69434bb339f6da6b0611e172d3f95d01af1ea07611bb99e98807059591af7f' },
  {
    name: 'owner alice only',
    schematic: { owner: 'alice', customization: {} },
    canonical: 'owner: alice\ncustomization: {}\n',
    id: '325e789382e85e76ab77e38cb320a816e2c9550cb5afe960b21f75e06605e2e9',
  },
  {
    name: 'owner alice + args',
    schematic: { owner: 'alice', customization: { extraKernelArgs: ['nolapic', 'nomodeset'] } },
    id: 'a53fe35a01aeaa7b5daec5c5ba0e4a596da34588ae94735983329082c24cb722',
  },
  {
    name: 'owner alice + extensions',
    schematic: { owner: 'alice', customization: { systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/gvisor', 'siderolabs/gasket-driver'] } } },
    id: '798c10c143861560faf62d99088631af78f90441134e919fbe8d442c69340d19',
  },
  { name: 'owner alice + rpi overlay', schematic: { owner: 'alice', overlay: RPI, customization: {} }, id: '588ea1d76de80c5a660802685668540aa57365580ca3bc2e0c082bc6ecff1092' },
  {
    name: 'overlay image only keeps name: ""',
    schematic: { overlay: { image: 'x', name: '' }, customization: {} },
    canonical: 'overlay:\n    image: x\n    name: ""\ncustomization: {}\n',
    id: 'ade3dcdcfc54bd1df38ee0f30d2b3fb870d902377a089410ce3355ec8f1d4b7c',
  },
  { name: 'embedded config docs example (|)', schematic: emc(DOCS_EMC), id: '818f3b8dff2f4109953a5ff4d461132fac6c5503686f0c102c732a28ab6b10db' },
  {
    name: 'embedded config a\\nb (|-)',
    schematic: emc('a\nb'),
    canonical: 'customization:\n    embeddedMachineConfiguration: |-\n        a\n        b\n',
    id: 'b3d749986d978df115808ea751977606f3c8d8ac89d1d9cce8aea5d6de001b12',
  },
  {
    name: 'embedded config a\\nb\\n\\n (|+)',
    schematic: emc('a\nb\n\n'),
    canonical: 'customization:\n    embeddedMachineConfiguration: |+\n        a\n        b\n\n',
    id: '030333c36808103ed922df5c10faaabbd50fa775fc8b00a9ead63ef380bd6755',
  },
  {
    name: 'embedded config with leading spaces (|4)',
    schematic: emc('  indented\nb\n'),
    canonical: 'customization:\n    embeddedMachineConfiguration: |4\n          indented\n        b\n',
    id: 'ccc4d9a9f365e0d55e04f4c1345c82b1dbb7c69d24d08df37e9435adafc3d1c6',
  },
  {
    name: 'embedded config with trailing spaces (double-quoted)',
    schematic: emc('trailing   \nb\n'),
    canonical: 'customization:\n    embeddedMachineConfiguration: "trailing   \\nb\\n"\n',
    id: 'a91c24fcf57944f36d12e8dbbcf9e56c690eb68df197c70350fa7212c95db4aa',
  },
  {
    name: 'embedded config \\n (double-quoted)',
    schematic: emc('\n'),
    canonical: 'customization:\n    embeddedMachineConfiguration: "\\n"\n',
    id: '17e8589864a1453a67091723224a5497e6cf17cdcd5c746ba117d86e2a2411ac',
  },
  {
    name: 'overlay options (natural key order, nested values)',
    schematic: {
      overlay: {
        ...RPI,
        options: { data: 'mydata', b: 1, a: [1, 'x', true], n: { z: null, y: 1.5 }, configTxtAppend: 'dtoverlay=vc4-kms-v3d\n' },
      },
      customization: {},
    },
    canonical:
      "overlay:\n    image: siderolabs/sbc-raspberrypi\n    name: rpi_generic\n    options:\n        a:\n            - 1\n            - x\n            - true\n        b: 1\n        configTxtAppend: |\n            dtoverlay=vc4-kms-v3d\n        data: mydata\n        'n':\n            'y': 1.5\n            z: null\ncustomization: {}\n",
    id: 'a0fe309030c1b75b62398dba055521264151c73a9a178737a163bfcb73ea5fd4',
  },
  {
    name: "overlay options multi-line value, name 'y'",
    schematic: { overlay: { image: 'x', name: 'y', options: { k: 'multi\nline' } }, customization: {} },
    canonical: "overlay:\n    image: x\n    name: 'y'\n    options:\n        k: |-\n            multi\n            line\ncustomization: {}\n",
    id: 'f031badecc4afe2a07ff999632b7ab18d792cd405c4c64f70727c71a21e119c7',
  },
]

const EVERYTHING_CANONICAL = `owner: bob
overlay:
    image: x
    name: 'y'
customization:
    embeddedMachineConfiguration: x
    extraKernelArgs:
        - a
    meta:
        - key: 1
          value: v
    systemExtensions:
        officialExtensions:
            - e
    bootloader: dual-boot
    secureboot:
        enrollKeys: 'off'
        includeWellKnownCertificates: true
    diskImage:
        sectorSize: 4096
`

const EVERYTHING: Vector = {
  name: 'everything (owner is Enterprise-only, but it hashes)',
  schematic: {
    owner: 'bob',
    overlay: { image: 'x', name: 'y' },
    customization: {
      embeddedMachineConfiguration: 'x',
      extraKernelArgs: ['a'],
      meta: [{ key: 1, value: 'v' }],
      systemExtensions: { officialExtensions: ['e'] },
      bootloader: 'dual-boot',
      secureboot: { enrollKeys: 'off', includeWellKnownCertificates: true },
      diskImage: { sectorSize: 4096 },
    },
  },
  canonical: EVERYTHING_CANONICAL,
  id: '2deb3b94f9203408ab8e95a29f11fb62346a6d42fddedda6309b7cf25f1a5c59',
}

describe('canonical emitter: §4.6 vectors', () => {
  for (const [group, vectors] of [
    ['V1–V10', MAIN_VECTORS],
    ['integration', INTEGRATION_VECTORS],
    ['additional', ADDITIONAL_VECTORS],
    ['everything', [EVERYTHING]],
  ] as const) {
    describe(group, () => {
      test.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
        const canonical = emitCanonical(v.schematic)
        if (v.canonical !== undefined) expect(canonical).toBe(v.canonical)
        expect(schematicId(canonical)).toBe(v.id)
      })
    })
  }
})

describe('canonical emitter: omitempty and layout rules', () => {
  test('empty customization is written as a flow mapping', () => {
    expect(emitCanonical({ customization: {} })).toBe('customization: {}\n')
  })

  test('empty / zero fields are omitted', () => {
    const s: Schematic = {
      owner: '',
      overlay: { image: '', name: '', options: {} },
      customization: {
        embeddedMachineConfiguration: '',
        extraKernelArgs: [],
        meta: [],
        systemExtensions: { officialExtensions: [] },
        bootloader: 'none',
        secureboot: { enrollKeys: '', includeWellKnownCertificates: false },
        diskImage: { sectorSize: 0 },
      },
    }
    expect(emitCanonical(s)).toBe('customization: {}\n')
  })

  test('overlay with only options keeps empty image and name', () => {
    expect(emitCanonical({ overlay: { image: '', name: '', options: { a: 'b' } }, customization: {} })).toBe(
      'overlay:\n    image: ""\n    name: ""\n    options:\n        a: b\ncustomization: {}\n',
    )
  })

  test('meta value is always written, key in decimal', () => {
    expect(emitCanonical({ customization: { meta: [{ key: 255, value: '' }] } })).toBe('customization:\n    meta:\n        - key: 255\n          value: ""\n')
  })

  test('out-of-range numbers are refused', () => {
    expect(() => emitCanonical({ customization: { meta: [{ key: 256, value: '' }] } })).toThrow()
    expect(() => emitCanonical({ customization: { meta: [{ key: 1.5, value: '' }] } })).toThrow()
    expect(() => emitCanonical({ customization: { diskImage: { sectorSize: -1 } } })).toThrow()
  })

  test('output ends with exactly one newline and has no document marker', () => {
    for (const v of [...MAIN_VECTORS, ...ADDITIONAL_VECTORS]) {
      const c = emitCanonical(v.schematic)
      expect(c.startsWith('---')).toBe(false)
      if (!c.endsWith('\n\n')) expect(c.endsWith('\n')).toBe(true)
    }
  })
})

/** §4.4 rule 7 quoting table (the "quoting vector"), as a single kernel arg each. */
const QUOTING: [string, string][] = [
  ['console=ttyS0,115200', 'console=ttyS0,115200'],
  ['talos.platform=metal', 'talos.platform=metal'],
  ['ip=dhcp', 'ip=dhcp'],
  ['-foo', '-foo'],
  ['foo bar', 'foo bar'],
  [' leading', "' leading'"],
  ['trailing ', "'trailing '"],
  ['true', '"true"'],
  ['false', '"false"'],
  ['True', '"True"'],
  ['yes', "'yes'"],
  ['no', "'no'"],
  ['on', "'on'"],
  ['off', "'off'"],
  ['y', "'y'"],
  ['n', "'n'"],
  ['Y', "'Y'"],
  ['YES', "'YES'"],
  ['Off', "'Off'"],
  ['null', '"null"'],
  ['~', '"~"'],
  ['Null', '"Null"'],
  ['123', '"123"'],
  ['0x1f', '"0x1f"'],
  ['1.5', '"1.5"'],
  ['1e3', '"1e3"'],
  ['.inf', '".inf"'],
  ['1:20', "'1:20'"],
  ['<<', "'<<'"],
  ['#comment', "'#comment'"],
  ['a #b', "'a #b'"],
  ['a# b', 'a# b'],
  ['key: value', "'key: value'"],
  ['key:value', 'key:value'],
  ['*alias', "'*alias'"],
  ['&anchor', "'&anchor'"],
  ['!tag', "'!tag'"],
  ['%pct', "'%pct'"],
  ['@at', "'@at'"],
  ['`tick', "'`tick'"],
  [',comma', "',comma'"],
  ['[bracket', "'[bracket'"],
  [']close', "']close'"],
  ['{brace', "'{brace'"],
  ['}close', "'}close'"],
  ['|pipe', "'|pipe'"],
  ['>gt', "'>gt'"],
  ["'single", "'''single'"],
  ['"double', '\'"double\''],
  ['?q', '?q'],
  ['? q', "'? q'"],
  ['- dash', "'- dash'"],
  ['-', "'-'"],
  [':colon', ':colon'],
  ['a:', "'a:'"],
  ['a: ', "'a: '"],
  ['é unicode', 'é unicode'],
  ['2024-01-01', '"2024-01-01"'],
  ['=', '='],
  ['foo=bar baz', 'foo=bar baz'],
  ["a'b", "a'b"],
  ['a"b', 'a"b'],
  ['tab\tx', '"tab\\tx"'],
  // beyond the spec table: further cases of the same rules
  ['', '""'],
  [' ', "' '"],
  ['---', "'---'"],
  ['...', "'...'"],
  ['--x', '--x'],
  ['-1', '"-1"'],
  ['+1', '"+1"'],
  ['-0', '"-0"'],
  ['1_000', '"1_000"'],
  ['0o17', '"0o17"'],
  ['0b101', '"0b101"'],
  ['012', '"012"'],
  ['08', '"08"'],
  ['1e400', '1e400'],
  ['.5', '".5"'],
  ['.', '.'],
  ['.nan', '".nan"'],
  ['-.inf', '"-.inf"'],
  ['+.inf', '"+.inf"'],
  ['NULL', '"NULL"'],
  ['TRUE', '"TRUE"'],
  ['tRUE', 'tRUE'],
  ['yEs', 'yEs'],
  ['190:20:30', "'190:20:30'"],
  ['1:2:3', "'1:2:3'"],
  ['1:60', '1:60'],
  ['2001-12-14t21:59:43.10-05:00', '"2001-12-14t21:59:43.10-05:00"'],
  ['2001-12-14 21:59:43.10', '"2001-12-14 21:59:43.10"'],
  ['2001-12-14T21:59:43Z', '"2001-12-14T21:59:43Z"'],
  ['2001-02-30', '2001-02-30'],
  ['2001-13-01', '2001-13-01'],
  ['<', '<'],
  ['a,b', 'a,b'],
  ['a[0]', 'a[0]'],
  ['{"externalIPs":["1.2.3.4"]}', '\'{"externalIPs":["1.2.3.4"]}\''],
  ['>= 1.0.0', "'>= 1.0.0'"],
  ['a\u00a0b', 'a\u00a0b'],
  ['nul\u0000x', '"nul\\0x"'],
  ['bell\u0007', '"bell\\a"'],
  ['esc\u001b', '"esc\\e"'],
  ['del\u007f', '"del\\x7F"'],
  ['c1\u0085', '"c1\\N"'],
  ['cr\r', '"cr\\r"'],
  ['bom\ufeff', '"bom\\uFEFF"'],
  ['emoji 😀', '"emoji \\U0001F600"'],
  ['quote"and\\back', 'quote"and\\back'],
  ["it's", "it's"],
  ['#', "'#'"],
  ['a #', "'a #'"],
]

describe('canonical emitter: quoting rules (§4.4 rule 7)', () => {
  test.each(QUOTING)('%p', (input, expected) => {
    expect(emitCanonical(args(input))).toBe(`customization:\n    extraKernelArgs:\n        - ${expected}\n`)
  })

  test('a Unicode line separator breaks a single-quoted line (written raw, next line indented)', () => {
    expect(emitCanonical(args('ls\u2028x'))).toBe("customization:\n    extraKernelArgs:\n        - 'ls\u2028          x'\n")
  })

  test('the same rules apply in mapping values (name: y)', () => {
    expect(emitCanonical({ overlay: { image: 'x', name: 'y' }, customization: {} })).toBe("overlay:\n    image: x\n    name: 'y'\ncustomization: {}\n")
  })

  test('quoting table parses back to the same strings', () => {
    const inputs = QUOTING.map(([i]) => i)
    const s = parseSchematic(emitCanonical(args(...inputs)))
    expect(s.customization.extraKernelArgs).toEqual(inputs)
  })
})

describe('canonical emitter: block scalars', () => {
  const cases: [string, string, string][] = [
    ['clip (|)', 'a\nb\n', '|\n        a\n        b'],
    ['strip (|-)', 'a\nb', '|-\n        a\n        b'],
    ['keep (|+)', 'a\n\n', '|+\n        a\n'],
    ['indentation indicator (|4-)', ' x\ny', '|4-\n         x\n        y'],
    ['leading empty line', '\na', '|-\n\n        a'],
    ['inner blank lines kept', 'a\n\n\nb', '|-\n        a\n\n\n        b'],
    ['space before newline → double quoted', 'a \nb', '"a \\nb"'],
    ['newline before space is fine', 'a\n b', '|-\n        a\n         b'],
    ['whitespace only → double quoted', ' \n ', '" \\n "'],
    ['tab-led line stays literal', '\tx\ny', '|-\n        \tx\n        y'],
    ['control character → double quoted', 'a\u0001\nb', '"a\\x01\\nb"'],
    ['CRLF → double quoted', 'a\r\nb', '"a\\r\\nb"'],
    ['two newlines only → double quoted', '\n\n', '"\\n\\n"'],
  ]
  test.each(cases)('%s', (_name, value, expected) => {
    expect(emitCanonical(emc(value))).toBe(`customization:\n    embeddedMachineConfiguration: ${expected}\n`)
  })

  test('literal inside a sequence item is indented two past the dash', () => {
    expect(emitCanonical(args('a\nb'))).toBe('customization:\n    extraKernelArgs:\n        - |-\n          a\n          b\n')
  })
})

describe('free-form values (overlay options)', () => {
  const opt = (options: Record<string, YamlValue>): string => {
    const c = emitCanonical({ overlay: { image: 'i', name: 'o', options }, customization: {} })
    const head = 'overlay:\n    image: i\n    name: o\n    options:\n'
    expect(c.startsWith(head)).toBe(true)
    return c.slice(head.length, c.length - 'customization: {}\n'.length)
  }

  test('natural key order: digits numerically, _ before digits before letters', () => {
    const out = opt({ b: 1, a: 1, A: 1, '10': 1, '9': 1, _u: 1, a10: 1, a9: 1, a09: 1, 'a-1': 1, aB: 1, ab: 1 })
    const keys = out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0])
    expect(keys).toEqual(['_u', '"9"', '"10"', 'A', 'a', 'a-1', 'a9', 'a09', 'a10', 'aB', 'ab', 'b'])
  })

  test('numbers: ints decimal, floats in Go %g form', () => {
    expect(opt({ i: 1, big: 12345678901234567890n, neg: -5, f: 1.5, fi: new YamlFloat(1), fm: new YamlFloat(1e6), small: 0.00001, nz: new YamlFloat(-0) })).toBe(
      '        big: 12345678901234567890\n        f: 1.5\n        fi: 1\n        fm: 1e+06\n        i: 1\n        neg: -5\n        nz: -0\n        small: 1e-05\n',
    )
    expect(opt({ inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY, nan: Number.NaN, p: 123456.5, q: 0.0001, r: 1e21 })).toBe(
      '        inf: .inf\n        nan: .nan\n        ninf: -.inf\n        p: 123456.5\n        q: 0.0001\n        r: 1e+21\n',
    )
  })

  test('null, bools, timestamps, empty collections', () => {
    expect(opt({ n: null, t: true, f: false, ts: new YamlTimestamp('2024-01-01T00:00:00Z'), e: [], m: {} })).toBe(
      "        e: []\n        f: false\n        m: {}\n        'n': null\n        t: true\n        ts: 2024-01-01T00:00:00Z\n",
    )
  })

  test('nested sequences and mappings', () => {
    expect(opt({ s: [[1, 2], { a: 'b', c: ['d'] }, []] })).toBe(
      '        s:\n            - - 1\n              - 2\n            - a: b\n              c:\n                - d\n            - []\n',
    )
  })

  test('non-string keys keep their type and sort by kind', () => {
    const m = new YamlAnyMap([
      ['b', 1],
      [2, 'two'],
      [true, 't'],
      [1, 'one'],
      [new YamlFloat(1.5), 'f'],
      [null, 'nil'],
    ])
    // true and 1 compare equal as numbers; then bool sorts before int
    expect(opt({ m })).toBe('        m:\n            true: t\n            1: one\n            1.5: f\n            2: two\n            null: nil\n            b: 1\n')
  })

  test('long and multi-line keys become complex (?) keys', () => {
    const long = 'k'.repeat(129)
    expect(opt({ [long]: 'v' })).toBe(`        ? ${long}\n        : v\n`)
    expect(opt({ ['k'.repeat(128)]: 'v' })).toBe(`        ${'k'.repeat(128)}: v\n`)
    expect(opt({ 'a\nb': 'v' })).toBe('        ? |-\n            a\n            b\n        : v\n')
    expect(opt({ '': 'v' })).toBe('        "": v\n')
  })

  test('emitYamlValue marshals a whole document', () => {
    expect(emitYamlValue({ b: [1, 'x'], a: null })).toBe('a: null\nb:\n    - 1\n    - x\n')
    expect(emitYamlValue([])).toBe('[]\n')
    expect(emitYamlValue('yes')).toBe("'yes'\n")
    expect(emitYamlValue('a\nb')).toBe('|-\n    a\n    b\n')
  })
})

describe('round trip: parse(emit(x)) re-emits identically', () => {
  const all = [...MAIN_VECTORS, ...INTEGRATION_VECTORS, ...ADDITIONAL_VECTORS, EVERYTHING]
  test.each(all.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const canonical = emitCanonical(v.schematic)
    expect(emitCanonical(parseSchematic(canonical))).toBe(canonical)
  })

  test('quoting table and tricky values', () => {
    const s: Schematic = {
      overlay: {
        image: 'ghcr.io/x:v1',
        name: 'on',
        options: {
          str: '0x1f',
          multi: 'l1\n  l2\n',
          ts: new YamlTimestamp('2001-12-14T21:59:43.1-05:00'),
          list: [null, '', 'null', new YamlFloat(2), 2, 2.5, false, 'false'],
          nested: { '1': 'one', deep: { x: ['  y  '] } },
        },
      },
      customization: {
        embeddedMachineConfiguration: DOCS_EMC,
        extraKernelArgs: QUOTING.map(([i]) => i),
        meta: [
          { key: 0, value: '~' },
          { key: 255, value: 'a\nb' },
        ],
      },
    }
    const canonical = emitCanonical(s)
    const again = emitCanonical(parseSchematic(canonical))
    expect(again).toBe(canonical)
  })
})
