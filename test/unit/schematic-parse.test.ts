/**
 * Strict schematic parsing (factory-spec §4.2–4.3): input forms of every §4.6 vector, YAML 1.1
 * scalar rules, exact error texts, limits (depth, aliases), validation and canonicalize().
 */
import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { canonicalize, emitCanonical, parseSchematic, parseYamlValue, schematicId, validateSchematic } from '../../src/schematic/index.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp } from '../../src/schematic/types.ts'
import type { Schematic } from '../../src/schematic/types.ts'

const EMPTY_ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

/** ID of a body, bypassing validation (owner vectors hash too). */
const idOf = (body: string): string => schematicId(emitCanonical(parseSchematic(body)))

/** The InvalidInputError message a body is rejected with. */
function errorOf(body: string | Uint8Array): string {
  try {
    parseSchematic(body)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError)
    const msg = (err as InvalidInputError).message
    expect(msg).not.toContain('\n')
    expect((err as InvalidInputError).status).toBe(400)
    return msg
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`)
}

const construct = (...errors: string[]): string => `yaml: construct errors: ${errors.join('; ')}`

describe('inputs that normalise to the empty schematic (V1)', () => {
  const inputs = [
    '{}',
    'customization: {}',
    'customization: {"extraKernelArgs": []}',
    'customization: null',
    'customization:',
    'customization: ~',
    'overlay: {image: "", name: "", options: {}}',
    'customization: {diskImage: {sectorSize: 0}}',
    'customization: {bootloader: none}',
    'customization: {bootloader: NONE}',
    'customization: {secureboot: {includeWellKnownCertificates: false, enrollKeys: ""}}',
    'customization: {systemExtensions: {}}',
    'customization: {systemExtensions: {officialExtensions: null}}',
    'customization: {meta: []}',
    'overlay: null',
    'overlay: {}',
    '---\n',
    '--- ~\n',
    'null',
    '{"customization": {}}',
    '# comment\n{}\n',
  ]
  test.each(inputs)('%p', (input) => {
    expect(emitCanonical(parseSchematic(input))).toBe('customization: {}\n')
    expect(canonicalize(input).id).toBe(EMPTY_ID)
  })

  test('empty struct', () => {
    expect(schematicId(emitCanonical({ customization: {} }))).toBe(EMPTY_ID)
  })
})

const RPI_YAML = 'overlay:\n  name: rpi_generic\n  image: siderolabs/sbc-raspberrypi\n'
const DOCS_EMC_YAML = `customization:
  embeddedMachineConfiguration: |
    apiVersion: v1alpha1
    kind: HostnameConfig
    hostname: my-custom-hostname
    auto: off
    ---
    apiVersion: v1alpha1
    kind: KmsgLogConfig
    name: remote-log
    url: tcp://10.0.0.50:5044/
`

/** Input forms of the §4.6 vectors (YAML and JSON), with the IDs they must produce. */
const PARSE_VECTORS: [string, string, string][] = [
  ['V2 JSON', '{"customization": {"extraKernelArgs": ["noapic", "nolapic"]}}', '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'],
  ['V2 JSON with systemExtensions {}', '{"customization": {"extraKernelArgs": ["noapic", "nolapic"], "systemExtensions": {}}}', '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'],
  ['V2 docs request', 'customization: {"extraKernelArgs": ["noapic", "nolapic"]}', '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'],
  ['V2 block YAML', 'customization:\n  extraKernelArgs:\n    - noapic\n    - nolapic\n', '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'],
  ['V3 JSON', '{"customization": {"meta": [{"key": 10, "value": "foo"}], "extraKernelArgs": [], "systemExtensions": {}}}', 'd308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f'],
  ['V3 key 0x0a', 'customization:\n  meta:\n    - key: 0x0a\n      value: foo\n', 'd308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f'],
  ['V4 JSON', '{"customization":{"secureboot": {"includeWellKnownCertificates": true}}}', 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6'],
  ['V4 YAML 1.1 yes', 'customization: {secureboot: {includeWellKnownCertificates: yes}}', 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6'],
  ['V5', 'customization:\n  diskImage:\n    sectorSize: 4096\n', '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea'],
  ['V5 hex', 'customization: {diskImage: {sectorSize: 0x1000}}', '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea'],
  ['V5 octal', 'customization: {diskImage: {sectorSize: 010000}}', '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea'],
  ['V6 JSON', '{"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}}', 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9'],
  ['V6 JSON with customization', '{"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}, "customization": {}}', 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9'],
  [
    'V7',
    'customization:\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/intel-ucode]\n  extraKernelArgs: [noapic, nolapic]\n  meta:\n    - {key: 0xa, value: foo}\n',
    '6ba13d510dcc57f233b9b498d34a3c919c1abdd5675b46ad53cf4f2e66362f82',
  ],
  [
    'V8',
    'overlay:\n  name: rpi_generic\n  image: ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0\ncustomization:\n  extraKernelArgs: [noapic, nolapic]\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/amd-ucode\n      - siderolabs/intel-ucode\n',
    '1da25204d18e6db95cb65ce2e38424b2ad94b2519a53aef34e45f07cc73ca5e8',
  ],
  [
    'V9',
    'customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/nvidia-container-toolkit\n      - siderolabs/nvidia-open-gpu-kernel-modules\n      - siderolabs/nonfree-kmod-nvidia\n      - siderolabs/nvidia-fabricmanager\n      - siderolabs/i915-ucode\n      - siderolabs/amdgpu-firmware\n',
    '42c5a897579913a97ad7edc56c0d858bc4dd8639951e02b084edbb2e190a7898',
  ],
  [
    'V10 block literal input',
    'customization:\n  embeddedMachineConfiguration: |-\n    apiVersion: v1alpha1\n    kind: HostnameConfig\n    hostname: worker-33\n',
    '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c',
  ],
  [
    'V10 double-quoted input',
    'customization: {embeddedMachineConfiguration: "apiVersion: v1alpha1\\nkind: HostnameConfig\\nhostname: worker-33"}',
    '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c',
  ],
  ['extraArgsSchematicID', 'customization:\n  extraKernelArgs: [nolapic, nomodeset]\n', 'e0fb1129bbbdfb5d002e94af4cdce712a8370e850950a33a242d4c3f178c532d'],
  [
    'systemExtensionsSchematicID',
    'customization:\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/gvisor, siderolabs/gasket-driver]\n',
    '51ff3e49313773332729a5c04e57af0dbe2e6d3f65ff638e6d4c3a05065fefff',
  ],
  ['metaSchematicID', `customization:\n  meta:\n    - key: 0xa\n      value: '{"externalIPs":["1.2.3.4"]}'\n`, 'fe866116408a5a13dab7d5003eb57a00954ea81ebeec3fbbcd1a6d4462a00036'],
  ['rpiGenericOverlaySchematicID', RPI_YAML, 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9'],
  ['grubBootloaderOverrideSchematicID', 'customization:\n  bootloader: grub\n', '39d496b2cbdb6265d3b714514c5334bf010f1b4d31b23b9e38c80fb2f3ad7ecb'],
  ['bootloader is case-insensitive', 'customization:\n  bootloader: GRUB\n', '39d496b2cbdb6265d3b714514c5334bf010f1b4d31b23b9e38c80fb2f3ad7ecb'],
  ['sdBootBootloaderOverrideSchematicID', 'customization:\n  bootloader: SD-Boot\n', '9ed5fecdacb36b5c5427b87d409f1065cfb2df69b0f71c58b868d9d466d8dab3'],
  [
    'embeddedConfigSchematicID',
    'customization:\n  embeddedMachineConfiguration: "apiVersion: v1alpha1/nkind: HostnameConfig/nhostname: my-custom-hostname/nauto: off"\n',
    '79312a00a1ccfee2c4ecad20fcb972ef75fce4e62053384d97885de26852c413',
  ],
  ['extraExtensionsSchematicID', 'customization:\n  systemExtensions:\n    officialExtensions:\n      - extension-testing/my-extension\n', '9414259a4d71e1c9ab92bfaf673f83ac85afe39839ed91e28ca6e1177f576437'],
  ['vga=791', 'customization: {extraKernelArgs: [vga=791]}', 'eea1f9534c46d95c4715a2f13d17eacb927c13a42ef087c79b22c3bd0c49d073'],
  ['console=ttyS0', 'customization: {extraKernelArgs: [console=ttyS0]}', 'ab1024449cff00f2e27caee13298635e8fd178c6079d4de34a9370a55a54b938'],
  ['amd-ucode', 'customization: {systemExtensions: {officialExtensions: [siderolabs/amd-ucode]}}', '96f8c146a67c80daad900d3fc1a6976fe11062321eee9ab6ae2a6aea88b2d26e'],
  ['amd-ucode, gvisor', 'customization: {systemExtensions: {officialExtensions: [siderolabs/amd-ucode, siderolabs/gvisor]}}', 'ed510afbbd542b252bf618c09ac0d3f4ad8711c6ce752ebafa91c0779836a5c0'],
  ['gvisor, amd-ucode', 'customization: {systemExtensions: {officialExtensions: [siderolabs/gvisor, siderolabs/amd-ucode]}}', 'a993cf18ef6a65e3fc6d2f651c0363981b6b2e823829ad95a2557cfc97ca6595'],
  ['args a', 'customization: {extraKernelArgs: [a]}', 'b768f3ce41d4c6a93b0b20f96413eb41e9ba05148ddc4bde45beed428ce27cba'],
  ['args a + trailing second document', 'customization: {extraKernelArgs: [a]}\n---\ncustomization: {extraKernelArgs: [b]}\n', 'b768f3ce41d4c6a93b0b20f96413eb41e9ba05148ddc4bde45beed428ce27cba'],
  ['args a + invalid second document', 'customization: {extraKernelArgs: [a]}\n---\nunknown: [\n', 'b768f3ce41d4c6a93b0b20f96413eb41e9ba05148ddc4bde45beed428ce27cba'],
  ['args a, a', 'customization: {extraKernelArgs: [a, a]}', 'a0e3ad7b5b909025fac10d825b3558046d23f09be4ac8fd5b77972b969e1dcbc'],
  ['args [1, true] coerced to strings', 'customization: {extraKernelArgs: [1, true]}', 'be40de6c0fe4f5d7ad57d5066136a1a11c5fdd415b3c31c79b2e385a45d0fbd3'],
  ['meta key 0 value ""', 'customization: {meta: [{key: 0, value: ""}]}', '91e6a29add7dfa6f7cb57843fbdccccbba2105910982ddac0a48733a2552d9b7'],
  ['meta key 0, value missing', 'customization: {meta: [{key: 0}]}', '91e6a29add7dfa6f7cb57843fbdccccbba2105910982ddac0a48733a2552d9b7'],
  ['meta key 10 value x', 'customization: {meta: [{key: 10, value: x}]}', 'ab79d5ec02d6e5ff5f458d535dc7395bf3f889205b1c1f69b2fe5151e19af367'],
  ['secureboot force', 'customization: {secureboot: {enrollKeys: force, includeWellKnownCertificates: true}}', '51e6baa0e88e8c3517231638007ba433f3fdde58a21c303221928f4cd7796036'],
  ['secureboot bogus', 'customization: {secureboot: {enrollKeys: bogus}}', 'ba69434bb339f6da6b0611e172d3f95d01af1ea07611bb99e98807059591af7f'],
  ['owner alice', 'owner: alice\n', '325e789382e85e76ab77e38cb320a816e2c9550cb5afe960b21f75e06605e2e9'],
  ['owner alice + args', 'owner: alice\ncustomization: {extraKernelArgs: [nolapic, nomodeset]}\n', 'a53fe35a01aeaa7b5daec5c5ba0e4a596da34588ae94735983329082c24cb722'],
  [
    'owner alice + extensions',
    'owner: alice\ncustomization: {systemExtensions: {officialExtensions: [siderolabs/amd-ucode, siderolabs/gvisor, siderolabs/gasket-driver]}}\n',
    '798c10c143861560faf62d99088631af78f90441134e919fbe8d442c69340d19',
  ],
  ['owner alice + rpi overlay', 'owner: alice\n' + RPI_YAML, '588ea1d76de80c5a660802685668540aa57365580ca3bc2e0c082bc6ecff1092'],
  ['overlay image only', 'overlay: {image: x, name: ""}', 'ade3dcdcfc54bd1df38ee0f30d2b3fb870d902377a089410ce3355ec8f1d4b7c'],
  ['overlay image only, name missing', 'overlay: {image: x}', 'ade3dcdcfc54bd1df38ee0f30d2b3fb870d902377a089410ce3355ec8f1d4b7c'],
  ['embedded config docs example', DOCS_EMC_YAML, '818f3b8dff2f4109953a5ff4d461132fac6c5503686f0c102c732a28ab6b10db'],
  ['embedded config a\\nb', 'customization: {embeddedMachineConfiguration: "a\\nb"}', 'b3d749986d978df115808ea751977606f3c8d8ac89d1d9cce8aea5d6de001b12'],
  ['embedded config a\\nb\\n\\n', 'customization:\n  embeddedMachineConfiguration: |+\n    a\n    b\n\n', '030333c36808103ed922df5c10faaabbd50fa775fc8b00a9ead63ef380bd6755'],
  ['embedded config leading spaces', 'customization:\n  embeddedMachineConfiguration: |2\n      indented\n    b\n', 'ccc4d9a9f365e0d55e04f4c1345c82b1dbb7c69d24d08df37e9435adafc3d1c6'],
  ['embedded config trailing spaces', 'customization: {embeddedMachineConfiguration: "trailing   \\nb\\n"}', 'a91c24fcf57944f36d12e8dbbcf9e56c690eb68df197c70350fa7212c95db4aa'],
  ['embedded config newline only', 'customization: {embeddedMachineConfiguration: "\\n"}', '17e8589864a1453a67091723224a5497e6cf17cdcd5c746ba117d86e2a2411ac'],
  [
    'overlay options',
    'overlay:\n  name: rpi_generic\n  image: siderolabs/sbc-raspberrypi\n  options:\n    data: mydata\n    b: 1\n    a: [1, "x", true]\n    n: {z: null, y: 1.5}\n    configTxtAppend: "dtoverlay=vc4-kms-v3d\\n"\n',
    'a0fe309030c1b75b62398dba055521264151c73a9a178737a163bfcb73ea5fd4',
  ],
  ['overlay options multi-line', 'overlay: {image: x, name: y, options: {k: "multi\\nline"}}', 'f031badecc4afe2a07ff999632b7ab18d792cd405c4c64f70727c71a21e119c7'],
  [
    'everything',
    `owner: bob
overlay: {image: x, name: y}
customization:
  diskImage: {sectorSize: 4096}
  secureboot: {includeWellKnownCertificates: true, enrollKeys: "off"}
  bootloader: dual-boot
  systemExtensions: {officialExtensions: [e]}
  meta: [{value: v, key: 1}]
  extraKernelArgs: [a]
  embeddedMachineConfiguration: x
`,
    '2deb3b94f9203408ab8e95a29f11fb62346a6d42fddedda6309b7cf25f1a5c59',
  ],
]

describe('§4.6 vectors from YAML / JSON input', () => {
  test.each(PARSE_VECTORS)('%s', (_name, body, id) => {
    expect(idOf(body)).toBe(id)
  })

  test('the same bodies as bytes', () => {
    for (const [, body, id] of PARSE_VECTORS) expect(schematicId(emitCanonical(parseSchematic(new TextEncoder().encode(body))))).toBe(id)
  })

  test('everything vector: canonicalize rejects the owner, but the ID is the reference one', () => {
    const body = PARSE_VECTORS.find(([n]) => n === 'everything')?.[1] ?? ''
    expect(() => canonicalize(body)).toThrow('owner field is only supported in Enterprise edition')
  })
})

describe('exact error texts (§3.1, §4.2)', () => {
  const cases: [string, string, string][] = [
    ['unknown top-level key', 'something:', construct('line 1: field something not found in type schematic.Schematic')],
    ['unknown key with value', 'customization: {}\nsomething: 1\n', construct('line 2: field something not found in type schematic.Schematic')],
    ['unknown overlay key', 'overlay:\n  foo: bar\n', construct('line 2: field foo not found in type schematic.Overlay')],
    ['unknown customization key', 'customization:\n  extraKernelArg: [a]\n', construct('line 2: field extraKernelArg not found in type schematic.Customization')],
    ['unknown meta key', 'customization:\n  meta:\n    - key: 1\n      val: x\n', construct('line 4: field val not found in type schematic.MetaValue')],
    ['unknown systemExtensions key', 'customization:\n  systemExtensions:\n    extensions: [a]\n', construct('line 3: field extensions not found in type schematic.SystemExtensions')],
    ['unknown secureboot key', 'customization:\n  secureboot:\n    keys: x\n', construct('line 3: field keys not found in type schematic.SecureBootCustomization')],
    ['unknown diskImage key', 'customization:\n  diskImage:\n    size: 1\n', construct('line 3: field size not found in type schematic.DiskImageCustomization')],
    ['keys are case-sensitive', 'Customization: {}\n', construct('line 1: field Customization not found in type schematic.Schematic')],
    [
      'several errors joined with "; "',
      'customization:\n  foo: 1\n  bar: 2\nbaz: 3\n',
      construct('line 2: field foo not found in type schematic.Customization', 'line 3: field bar not found in type schematic.Customization', 'line 4: field baz not found in type schematic.Schematic'),
    ],
    ['empty body', '', 'EOF'],
    ['whitespace only', '   \n\n', 'EOF'],
    ['comment only', '# nothing here\n', 'EOF'],
    ['sequence document', '[]', construct('line 1: cannot construct !!seq into schematic.Schematic')],
    ['block sequence document', '- a\n- b\n', construct('line 1: cannot construct !!seq into schematic.Schematic')],
    ['scalar document', 'hello', construct('line 1: cannot construct !!str `hello` into schematic.Schematic')],
    ['integer document', '42', construct('line 1: cannot construct !!int `42` into schematic.Schematic')],
    ['string for a list', 'customization:\n  extraKernelArgs: single\n', construct('line 2: cannot construct !!str `single` into []string')],
    ['quoted string for a list', 'customization: {extraKernelArgs: "x"}', construct('line 1: cannot construct !!str `x` into []string')],
    ['long value abbreviated', 'customization: {extraKernelArgs: abcdefghijklmnop}', construct('line 1: cannot construct !!str `abcdefg...` into []string')],
    ['map for a list', 'customization:\n  extraKernelArgs:\n    a: b\n', construct('line 3: cannot construct !!map into []string')],
    ['list for a string', 'customization:\n  embeddedMachineConfiguration: [a]\n', construct('line 2: cannot construct !!seq into string')],
    ['map for a string item', 'customization: {extraKernelArgs: [{a: b}]}', construct('line 1: cannot construct !!map into string')],
    ['list for a struct', 'customization: [a]', construct('line 1: cannot construct !!seq into schematic.Customization')],
    ['string for a struct', 'overlay: rpi', construct('line 1: cannot construct !!str `rpi` into schematic.Overlay')],
    ['string for options', 'overlay: {image: x, name: y, options: abc}', construct('line 1: cannot construct !!str `abc` into map[string]interface {}')],
    ['meta key 256', 'customization:\n  meta:\n    - key: 256\n      value: x\n', construct('line 3: cannot construct !!int `256` into uint8')],
    ['meta key -1', 'customization: {meta: [{key: -1, value: x}]}', construct('line 1: cannot construct !!int `-1` into uint8')],
    ['meta key 0x100', 'customization: {meta: [{key: 0x100, value: x}]}', construct('line 1: cannot construct !!int `0x100` into uint8')],
    ['meta key quoted', 'customization: {meta: [{key: "10", value: x}]}', construct('line 1: cannot construct !!str `10` into uint8')],
    ['meta key fractional', 'customization: {meta: [{key: 1.5, value: x}]}', construct('line 1: cannot construct !!float `1.5` into uint8')],
    ['meta key bool', 'customization: {meta: [{key: true, value: x}]}', construct('line 1: cannot construct !!bool `true` into uint8')],
    ['meta key 08 (not octal) is a float 8', 'customization: {meta: [{key: 08, value: x}, {key: 256.0, value: y}]}', construct('line 1: cannot construct !!float `256.0` into uint8')],
    ['negative sector size', 'customization: {diskImage: {sectorSize: -1}}', construct('line 1: cannot construct !!int `-1` into uint')],
    ['sector size string', 'customization: {diskImage: {sectorSize: big}}', construct('line 1: cannot construct !!str `big` into uint')],
    ['quoted "true" into bool', 'customization: {secureboot: {includeWellKnownCertificates: "true"}}', construct('line 1: cannot construct !!str `true` into bool')],
    ['int into bool', 'customization: {secureboot: {includeWellKnownCertificates: 1}}', construct('line 1: cannot construct !!int `1` into bool')],
    ['bootloader auto', 'customization:\n  bootloader: auto\n', construct('line 2: auto does not belong to BootloaderKind values')],
    ['bootloader other', 'customization: {bootloader: uboot}', construct('line 1: uboot does not belong to BootloaderKind values')],
    ['bootloader empty string', 'customization: {bootloader: ""}', construct('line 1:  does not belong to BootloaderKind values')],
    ['bootloader number', 'customization: {bootloader: 1}', construct('line 1: 1 does not belong to BootloaderKind values')],
    ['bootloader list', 'customization: {bootloader: [grub]}', construct('line 1: cannot construct !!seq into imageropts.BootloaderKind (TextUnmarshaler)')],
    ['duplicate key', 'customization: {}\ncustomization: {}\n', construct('line 2: mapping key "customization" already defined at line 1')],
    ['duplicate nested key', 'customization:\n  extraKernelArgs: [a]\n  extraKernelArgs: [b]\n', construct('line 3: mapping key "extraKernelArgs" already defined at line 2')],
    ['duplicate key, quoted spelling', 'owner: a\n"owner": b\n', construct('line 2: mapping key "owner" already defined at line 1')],
    ['duplicate option keys', 'overlay: {image: x, name: y, options: {a: 1, a: 2}}', construct('line 1: mapping key "a" already defined at line 1')],
    [
      'three duplicates',
      'a: 1\na: 2\na: 3\n',
      construct('line 2: mapping key "a" already defined at line 1', 'line 3: mapping key "a" already defined at line 1', 'line 3: mapping key "a" already defined at line 2'),
    ],
    ['timestamp into a string', 'customization: {extraKernelArgs: [2024-01-01]}', construct('line 1: cannot construct !!timestamp `2024-01-01` into string')],
    ['custom tag into a number', 'customization: {meta: [{key: !foo 1}]}', construct('line 1: cannot construct !foo `1` into uint8')],
    ['explicit tag mismatch', 'customization: {extraKernelArgs: [!!int abc]}', 'go-yaml load error in resolver at <unknown position>: cannot construct !!str `abc` as a !!int'],
    ['unknown anchor', 'customization: {extraKernelArgs: *nope}', "go-yaml load error in composer at L1.C34: unknown anchor 'nope' referenced"],
    ['anchor containing itself', 'overlay:\n  options: &a\n    b: *a\n', "go-yaml load error in composer at L3.C8: anchor 'a' value contains itself"],
    ['invalid base64', 'owner: !!binary ==', 'go-yaml load error in constructor at L1.C8: !!binary value contains invalid base64 data'],
    ['bad merge value', 'customization:\n  <<: [a]\n', 'go-yaml load error in constructor at L2.C8: map merge requires map or sequence of maps as the value'],
    ['control character in input', 'owner: a\u0001b\n', 'go-yaml load error in reader at <unknown position>: control characters are not allowed (value: 1)'],
    ['surrogate escape', 'owner: "\\ud800"\n', 'go-yaml load error in scanner at L1.C8: found invalid Unicode character escape code'],
    ['surrogate pair escapes (JSON style)', '{"owner": "\\ud83d\\ude00"}', 'go-yaml load error in scanner at L1.C11: found invalid Unicode character escape code'],
    // found by test/security/fuzz.test.ts: the reference quotes values with their line breaks, which
    // would cut a one-line reason short; they are escaped
    ['line break in a quoted value', '"a\\nb"', construct('line 1: cannot construct !!str `a\\nb` into schematic.Schematic')],
    ['line break in an unknown key', '{"a\\r\\nb": 1, "c\\rd": 2, "e\\u2028f": 3}', construct('line 1: field a\\r\\nb not found in type schematic.Schematic', 'line 1: field c\\rd not found in type schematic.Schematic', 'line 1: field e\u2028f not found in type schematic.Schematic')],
    ['line break in an explicitly tagged value', 'owner: !!int "1\\n2"', 'go-yaml load error in resolver at <unknown position>: cannot construct !!str `1\\n2` as a !!int'],
  ]
  test.each(cases)('%s', (_name, body, message) => {
    expect(errorOf(body)).toBe(message)
  })

  test('syntax errors are one-line 400s', () => {
    for (const body of ['a: b: c', 'customization: [', '{"customization": {', 'key: "unterminated', '\tcustomization: {}', 'a:\n  - b\n c: d']) {
      expect(errorOf(body)).toMatch(/^go-yaml load error in parser at /)
    }
  })

  test('invalid UTF-8 bytes', () => {
    expect(errorOf(new Uint8Array([0x6f, 0x77, 0x6e, 0x65, 0x72, 0x3a, 0x20, 0xff]))).toContain('invalid UTF-8')
  })

  test('a very long list of errors is capped', () => {
    const body = Array.from({ length: 500 }, (_, i) => `k${i}: 1`).join('\n')
    const msg = errorOf(body)
    expect(msg.startsWith(construct('line 1: field k0 not found in type schematic.Schematic; '))).toBe(true)
    expect(msg.split('; ').length).toBeLessThan(500)
  })
})

describe('limits', () => {
  test('deep nesting is rejected, not a crash', () => {
    for (const depth of [2_000, 20_000, 200_000]) {
      const flow = `overlay: {image: x, name: y, options: {a: ${'['.repeat(depth)}${']'.repeat(depth)}}}`
      expect(errorOf(flow)).toMatch(/depth|stack/i)
    }
    const block = 'overlay:\n  options:\n' + Array.from({ length: 3000 }, (_, i) => `${' '.repeat(4 + i * 2)}k:`).join('\n') + ' 1\n'
    expect(errorOf(block)).toMatch(/depth|stack/i)
  })

  test('moderate nesting is fine', () => {
    const s = parseSchematic(`overlay: {image: x, name: y, options: {a: ${'['.repeat(100)}1${']'.repeat(100)}}}`)
    let v: unknown = s.overlay?.options?.a
    for (let i = 0; i < 100; i++) v = (v as unknown[])[0]
    expect(v).toBe(1)
  })

  test('alias expansion bombs are stopped', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    const names = 'bcdefghijklmnop'
    for (let i = 0; i < names.length; i++) {
      const prev = i === 0 ? 'a' : names[i - 1]
      lines.push(`${names[i]}: &${names[i]} [${Array(10).fill(`*${prev}`).join(', ')}]`)
    }
    const body = `overlay:\n  image: x\n  name: y\n  options:\n${lines.map((l) => '    ' + l).join('\n')}\n`
    const t = performance.now()
    expect(errorOf(body)).toContain('excessive aliasing')
    expect(performance.now() - t).toBeLessThan(5_000)
  })

  test('a few aliases are resolved', () => {
    const s = parseSchematic('customization:\n  extraKernelArgs: [&c console=ttyS0, *c]\n  systemExtensions: {officialExtensions: &e [siderolabs/gvisor]}\noverlay: {image: x, name: y, options: {list: *e}}\n')
    expect(s.customization.extraKernelArgs).toEqual(['console=ttyS0', 'console=ttyS0'])
    expect(s.overlay?.options?.list).toEqual(['siderolabs/gvisor'])
  })
})

describe('YAML 1.1 scalar rules', () => {
  test.each([
    ['10', 10],
    ['0xa', 10],
    ['0XA', 10],
    ['012', 10],
    ['0o12', 10],
    ['0b1010', 10],
    ['+10', 10],
    ['1_0', 10],
    ['10.0', 10],
    ['1e1', 10],
    ['08', 8],
    ['0', 0],
    ['-0', 0],
    ['255', 255],
    ['!!int "10"', 10],
  ] as const)('meta key %p → %p', (text, key) => {
    expect(parseSchematic(`customization: {meta: [{key: ${text}, value: v}]}`).customization.meta).toEqual([{ key, value: 'v' }])
  })

  test.each(['yes', 'Yes', 'YES', 'on', 'On', 'ON', 'y', 'Y', 'true', 'True', 'TRUE', "'yes'", '"on"', '!!bool true'])('bool %p is true', (text) => {
    expect(parseSchematic(`customization: {secureboot: {includeWellKnownCertificates: ${text}}}`).customization.secureboot).toEqual({ includeWellKnownCertificates: true })
  })

  test.each(['no', 'No', 'NO', 'off', 'Off', 'OFF', 'n', 'N', 'false', 'False', 'FALSE', '~', 'null', ''])('bool %p is false (omitted)', (text) => {
    expect(parseSchematic(`customization: {secureboot: {includeWellKnownCertificates: ${text}}}`).customization.secureboot).toBeUndefined()
  })

  test.each(['yEs', 'tRUE', '"false"', '0', '1'])('bool %p is rejected', (text) => {
    expect(errorOf(`customization: {secureboot: {includeWellKnownCertificates: ${text}}}`)).toContain('into bool')
  })

  test('string fields keep the source text of plain scalars', () => {
    const s = parseSchematic('customization: {extraKernelArgs: [1, true, 0x1f, 1.50, -0, 1_000, .5, .inf, yes, "quoted", \'single\', !!str 5, 0o17, 1e3, +1]}')
    expect(s.customization.extraKernelArgs).toEqual(['1', 'true', '0x1f', '1.50', '-0', '1_000', '.5', '.inf', 'yes', 'quoted', 'single', '5', '0o17', '1e3', '+1'])
    expect(emitCanonical(s)).toBe(
      'customization:\n    extraKernelArgs:\n        - "1"\n        - "true"\n        - "0x1f"\n        - "1.50"\n        - "-0"\n        - "1_000"\n        - ".5"\n        - ".inf"\n        - \'yes\'\n        - quoted\n        - single\n        - "5"\n        - "0o17"\n        - "1e3"\n        - "+1"\n',
    )
  })

  test('scalar fields keep the source text too', () => {
    expect(parseSchematic('owner: 0x10\noverlay: {image: 1.0, name: true}').overlay).toEqual({ image: '1.0', name: 'true' })
    expect(parseSchematic('owner: 0x10').owner).toBe('0x10')
  })

  test('null items are dropped from lists, empty strings kept', () => {
    expect(parseSchematic('customization: {extraKernelArgs: [a, null, ~, "", b, <<, !foo c]}').customization.extraKernelArgs).toEqual(['a', '', 'b', '<<', 'c'])
    expect(emitCanonical(parseSchematic('customization: {extraKernelArgs: [<<]}'))).toBe("customization:\n    extraKernelArgs:\n        - '<<'\n")
    expect(parseSchematic('customization: {meta: [null, {key: 1, value: v}]}').customization.meta).toEqual([{ key: 1, value: 'v' }])
  })

  test('null leaves string fields empty', () => {
    expect(parseSchematic('customization: {embeddedMachineConfiguration: null}\noverlay: {image: ~, name: x}').overlay).toEqual({ image: '', name: 'x' })
  })

  test('multi-line plain and folded scalars', () => {
    expect(parseSchematic('owner: a\n  b\n').owner).toBe('a b')
    expect(parseSchematic('customization:\n  embeddedMachineConfiguration: >\n    a\n    b\n').customization.embeddedMachineConfiguration).toBe('a b\n')
  })

  test('CRLF line endings and a byte-order mark', () => {
    expect(idOf('\ufeffcustomization:\r\n  extraKernelArgs:\r\n    - noapic\r\n    - nolapic\r\n')).toBe('9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c')
  })

  test('escapes', () => {
    expect(parseSchematic('owner: "\\x41\\u00e9\\U0001F600\\t\\\\u0041"').owner).toBe('A\u00e9\u{1F600}\t\\u0041')
  })

  test('!!binary is decoded', () => {
    expect(parseSchematic('owner: !!binary YWxpY2U=').owner).toBe('alice')
  })

  test('merge keys: explicit keys win, earlier merges win over later ones', () => {
    const s = parseSchematic('customization:\n  <<: [{extraKernelArgs: [x], bootloader: grub}, {bootloader: sd-boot, meta: [{key: 1, value: v}]}]\n  extraKernelArgs: [y]\n')
    expect(s.customization).toEqual({ extraKernelArgs: ['y'], meta: [{ key: 1, value: 'v' }], bootloader: 'grub' })
    expect(errorOf('customization:\n  <<: {nope: 1}\n')).toBe(construct('line 2: field nope not found in type schematic.Customization'))
  })
})

describe('overlay options are free-form and keep their YAML types', () => {
  const options = (yaml: string): Record<string, unknown> => parseSchematic(`overlay:\n  image: x\n  name: y\n  options:\n${yaml}`).overlay?.options ?? {}

  test('scalars', () => {
    const o = options(
      '    i: 1\n    h: 0x10\n    big: 18446744073709551615\n    f: 1.5\n    fi: 1.0\n    e: 1e6\n    nz: -0\n    inf: .inf\n    b: yes\n    t: true\n    n: null\n    s: "1"\n    ts: 2001-12-14t21:59:43.10-05:00\n',
    )
    expect(o.i).toBe(1)
    expect(o.h).toBe(16)
    expect(o.big).toBe(18446744073709551615n)
    expect(o.f).toBe(1.5)
    expect(o.fi).toEqual(new YamlFloat(1))
    expect(o.e).toEqual(new YamlFloat(1e6))
    expect(Object.is((o.nz as YamlFloat).value, -0)).toBe(true)
    expect(o.inf).toBe(Number.POSITIVE_INFINITY)
    expect(o.b).toBe('yes')
    expect(o.t).toBe(true)
    expect(o.n).toBeNull()
    expect(o.s).toBe('1')
    expect(o.ts).toEqual(new YamlTimestamp('2001-12-14T21:59:43.1-05:00'))
  })

  test('re-emitted the way the reference marshals map[string]any', () => {
    const s = parseSchematic('overlay:\n  image: x\n  name: y\n  options:\n    fi: 1.0\n    e: 1e6\n    b: yes\n    ts: 2024-01-01\n    h: 0x10\n    1: one\n    nested: {2: two, k: v}\n    empty: {}\n    list: []\n')
    expect(emitCanonical(s)).toBe(
      "overlay:\n    image: x\n    name: 'y'\n    options:\n        \"1\": one\n        b: 'yes'\n        e: 1e+06\n        empty: {}\n        fi: 1\n        h: 16\n        list: []\n        nested:\n            2: two\n            k: v\n        ts: 2024-01-01T00:00:00Z\ncustomization: {}\n",
    )
  })

  test('top-level option keys are stringified, nested non-string keys keep their type', () => {
    const o = options('    1: a\n    true: b\n    nested: {1: c, x: d}\n')
    expect(Object.keys(o).sort()).toEqual(['1', 'nested', 'true'])
    expect(o.nested).toEqual(new YamlAnyMap([
      [1, 'c'],
      ['x', 'd'],
    ]))
  })

  test('option keys that are null are skipped; collections as keys are rejected', () => {
    expect(options('    ~: a\n    b: c\n')).toEqual(Object.assign(Object.create(null), { b: 'c' }))
    expect(errorOf('overlay: {image: x, name: y, options: {[a]: b}}')).toBe(construct('line 1: cannot construct !!seq into string'))
    expect(errorOf('overlay: {image: x, name: y, options: {n: {[a]: b}}}')).toBe(
      "go-yaml load error in constructor at L1.C44: cannot use '[]interface {}{\"a\"}' as a map key; try decoding into yaml.Node",
    )
  })

  test('__proto__ is an ordinary key', () => {
    const o = options('    __proto__: {polluted: true}\n')
    expect(Object.keys(o)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test('merge keys inside options', () => {
    const o = options('    base: &b {x: 1, y: 2}\n    derived: {<<: *b, y: 3}\n')
    expect({ ...(o.derived as object) }).toEqual({ y: 3, x: 1 })
  })

  test('parseYamlValue decodes free-form text', () => {
    expect(parseYamlValue('')).toBeNull()
    expect(parseYamlValue('[1, a, 1.5]')).toEqual([1, 'a', 1.5])
  })
})

describe('validation', () => {
  const withArgs = (...a: string[]): Schematic => ({ customization: { extraKernelArgs: a } })

  test('owner is Enterprise-only', () => {
    expect(() => validateSchematic({ owner: 'alice', customization: {} })).toThrow(new InvalidInputError('owner field is only supported in Enterprise edition'))
    expect(() => canonicalize('owner: alice')).toThrow(InvalidInputError)
  })

  test.each(['a\nb', 'a\rb', 'a\tb', 'a\u0000b', 'a\u007fb', 'a\u0085b', '\u001b[31m'])('kernel arg %p with a control character is rejected', (arg) => {
    let msg = ''
    try {
      validateSchematic(withArgs('ok', arg))
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError)
      msg = (err as Error).message
    }
    expect(msg).toMatch(/^extraKernelArgs\[1\] contains a control character \(U\+[0-9A-F]{4}\)/)
    expect(msg).not.toContain('\n')
  })

  test('control characters are rejected through canonicalize too', () => {
    expect(() => canonicalize('customization: {extraKernelArgs: ["a\\nb"]}')).toThrow(InvalidInputError)
  })

  test('everything else the reference accepts is accepted', () => {
    expect(() =>
      validateSchematic({
        overlay: { image: 'no/such', name: 'nope', options: { x: '\n' } },
        customization: {
          embeddedMachineConfiguration: 'a\nb\n',
          extraKernelArgs: ['é', 'console=ttyS0,115200n8', '', ' spaced '],
          systemExtensions: { officialExtensions: ['siderolabs/does-not-exist'] },
          secureboot: { enrollKeys: 'bogus' },
          meta: [{ key: 7, value: 'multi\nline' }],
        },
      }),
    ).not.toThrow()
  })
})

describe('canonicalize', () => {
  test('POST /schematics example', () => {
    const r = canonicalize('customization: {"extraKernelArgs": ["noapic", "nolapic"]}')
    expect(r.id).toBe('9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c')
    expect(r.canonical).toBe('customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n')
    expect(r.schematic).toEqual({ customization: { extraKernelArgs: ['noapic', 'nolapic'] } })
  })

  test('parse errors surface as InvalidInputError', () => {
    expect(() => canonicalize('something:')).toThrow(new InvalidInputError('yaml: construct errors: line 1: field something not found in type schematic.Schematic'))
    expect(() => canonicalize('')).toThrow(new InvalidInputError('EOF'))
  })

  test('re-parsing the canonical form is a fixed point', () => {
    for (const [, body] of PARSE_VECTORS) {
      const c1 = emitCanonical(parseSchematic(body))
      const c2 = emitCanonical(parseSchematic(c1))
      expect(c2).toBe(c1)
    }
  })

  test('sector sizes beyond 2^53 are refused rather than rounded', () => {
    expect(errorOf('customization: {diskImage: {sectorSize: 18446744073709551615}}')).toContain('too large')
  })
})
