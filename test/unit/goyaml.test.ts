import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { emitYaml, y, type YamlNode } from '../../src/asset/goyaml.ts'
import { emitYamlValue } from '../../src/schematic/emit.ts'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const doc = (key: string, value: YamlNode) => y.map([['customization', y.map([[key, value]])]])

describe('go-yaml v4 layout and quoting (factory-spec §4.4 / §4.6 vectors)', () => {
  test.each([
    ['a\nb', 'b3d749986d978df115808ea751977606f3c8d8ac89d1d9cce8aea5d6de001b12'],
    ['a\nb\n\n', '030333c36808103ed922df5c10faaabbd50fa775fc8b00a9ead63ef380bd6755'],
    ['  indented\nb\n', 'ccc4d9a9f365e0d55e04f4c1345c82b1dbb7c69d24d08df37e9435adafc3d1c6'],
    ['trailing   \nb\n', 'a91c24fcf57944f36d12e8dbbcf9e56c690eb68df197c70350fa7212c95db4aa'],
    ['\n', '17e8589864a1453a67091723224a5497e6cf17cdcd5c746ba117d86e2a2411ac'],
    ['apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: worker-33', '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c'],
    ['apiVersion: v1alpha1/nkind: HostnameConfig/nhostname: my-custom-hostname/nauto: off', '79312a00a1ccfee2c4ecad20fcb972ef75fce4e62053384d97885de26852c413'],
  ])('embeddedMachineConfiguration %j', (value, id) => {
    expect(sha(emitYaml(doc('embeddedMachineConfiguration', y.str(value))))).toBe(id)
  })

  test('literal blocks, chomping and indentation indicator', () => {
    expect(emitYaml(doc('e', y.str('a\nb')))).toBe('customization:\n    e: |-\n        a\n        b\n')
    expect(emitYaml(doc('e', y.str('  x\n')))).toBe('customization:\n    e: |4\n          x\n')
    expect(emitYaml(doc('e', y.str('a\n\n')))).toBe('customization:\n    e: |+\n        a\n\n')
  })

  test('meta value and sequence layout (metaSchematic vector)', () => {
    const d = doc('meta', y.seq([y.map([['key', y.int(10)], ['value', y.str('{"externalIPs":["1.2.3.4"]}')]])]))
    expect(emitYaml(d)).toBe(`customization:\n    meta:\n        - key: 10\n          value: '{"externalIPs":["1.2.3.4"]}'\n`)
    expect(sha(emitYaml(d))).toBe('fe866116408a5a13dab7d5003eb57a00954ea81ebeec3fbbcd1a6d4462a00036')
  })

  test.each([
    ['console=ttyS0,115200', 'console=ttyS0,115200'],
    ['-foo', '-foo'],
    [' leading', "' leading'"],
    ['trailing ', "'trailing '"],
    ['true', '"true"'],
    ['yes', "'yes'"],
    ['y', "'y'"],
    ['null', '"null"'],
    ['~', '"~"'],
    ['123', '"123"'],
    ['0x1f', '"0x1f"'],
    ['1e3', '"1e3"'],
    ['.inf', '".inf"'],
    ['1:20', "'1:20'"],
    ['<<', "'<<'"],
    ['#comment', "'#comment'"],
    ['a #b', "'a #b'"],
    ['a# b', 'a# b'],
    ['key: value', "'key: value'"],
    ['key:value', 'key:value'],
    ["'single", "'''single'"],
    ['? q', "'? q'"],
    ['?q', '?q'],
    ['- dash', "'- dash'"],
    ['-', "'-'"],
    ['a:', "'a:'"],
    ['é unicode', 'é unicode'],
    ['2024-01-01', '"2024-01-01"'],
    ['tab\tx', '"tab\\tx"'],
    ['', '""'],
    ['0xFFFFFFFFFFFFFFFFFF', '0xFFFFFFFFFFFFFFFFFF'],
    ['😀', '"\\U0001F600"'],
  ])('%j → %s', (value, rendered) => {
    expect(emitYaml(y.map([['k', y.str(value)]]))).toBe(`k: ${rendered}\n`)
  })

  test('empty collections are flow style', () => {
    expect(emitYaml(y.map([['customization', y.map([])], ['l', y.seq([])]]))).toBe('customization: {}\nl: []\n')
  })

  test('pre-emitted block subtrees are re-indented', () => {
    const options = emitYamlValue({ b: 1, a: [1, 'x', true], n: { z: null } })
    expect(emitYaml(y.map([['overlay', y.map([['options', y.block(options)]])]]))).toBe(
      "overlay:\n    options:\n        a:\n            - 1\n            - x\n            - true\n        b: 1\n        'n':\n            z: null\n",
    )
  })
})

describe('agreement with the schematic emitter (same go-yaml rules)', () => {
  const alphabet = ['\u2028', '\u00a0', 'x', '9', ' ', '\t', '\n', ':', '#', '-', '?', "'", '"', 'a', '0', '.', ',', '[', '{', '|', '>', 'é', '\r', 'y', 'e', '+', '_']
  let seed = 12345
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
  const randomString = () => {
    let s = ''
    const len = Math.floor(rnd() * 7)
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)]
    return s
  }

  test('20000 random strings in nested positions render identically', () => {
    let mismatches = 0
    for (let i = 0; i < 20000; i++) {
      const [a, b, c] = [randomString(), randomString(), randomString()]
      // {k: [a, {<b>: c}], z: [[c]]} — single-entry maps, so key order is not in question
      const value = { k: [a, { [b]: c }], z: [[c]] }
      const mine = emitYaml(
        y.map([
          ['k', y.seq([y.str(a), y.map([[b, y.str(c)]])])],
          ['z', y.seq([y.seq([y.str(c)])])],
        ]),
      )
      if (mine !== emitYamlValue(value)) mismatches++
    }
    expect(mismatches).toBe(0)
  })
})
