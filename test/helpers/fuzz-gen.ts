/**
 * Generators for test/security/fuzz.test.ts: schematic bodies (random YAML and JSON structures,
 * valid schematics, mutations of the factory-spec §4.6 vectors, random bytes, deep and wide
 * shapes) and asset/PXE request paths. Every case is a pure function of (seed, index), so one
 * failing case can be replayed alone.
 */
import { BUILT_KINDS } from '../../src/asset/kinds.ts'
import { parseAssetPath } from '../../src/asset/path.ts'

export interface Rng {
  next(): number
  int(n: number): number
  chance(p: number): boolean
  pick<T>(items: readonly T[]): T
}

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): Rng {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  }
}

/** The generator state of case `index` of a run seeded with `seed`. */
export const caseRng = (seed: number, index: number): Rng => rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35))

// ------------------------------------------------------------------------------------------------
// Schematic bodies

/** Input forms of the factory-spec §4.6 vectors (and a few more shapes of the same fields). */
export const SPEC_INPUTS: readonly string[] = [
  '{}',
  'customization: {}',
  'customization: {"extraKernelArgs": []}',
  '{"customization": {"extraKernelArgs": ["noapic", "nolapic"]}}',
  '{"customization": {"meta": [{"key": 10, "value": "foo"}], "extraKernelArgs": [], "systemExtensions": {}}}',
  '{"customization":{"secureboot": {"includeWellKnownCertificates": true}}}',
  'customization:\n  diskImage:\n    sectorSize: 4096\n',
  '{"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}}',
  'customization:\n  extraKernelArgs:\n    - noapic\n    - nolapic\n  meta:\n    - key: 0xa\n      value: foo\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/amd-ucode\n      - siderolabs/intel-ucode\n',
  'overlay:\n  name: rpi_generic\n  image: ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0\ncustomization:\n  extraKernelArgs: [noapic, nolapic]\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/intel-ucode]\n',
  'customization:\n  embeddedMachineConfiguration: |-\n    apiVersion: v1alpha1\n    kind: HostnameConfig\n    hostname: worker-33\n',
  'customization:\n  bootloader: sd-boot\n',
  'customization:\n  meta:\n    - key: 0xa\n      value: \'{"externalIPs":["1.2.3.4"]}\'\n',
  'customization:\n  secureboot:\n    enrollKeys: force\n    includeWellKnownCertificates: yes\n',
  'overlay: {name: rpi_generic, image: siderolabs/sbc-raspberrypi, options: {data: mydata, b: 1, a: [1, "x", true], n: {z: null, y: 1.5}, configTxtAppend: "dtoverlay=vc4-kms-v3d\\n"}}',
  'customization:\n  extraKernelArgs: [a]\n---\n',
  'customization:\n  extraKernelArgs: [1, true]\n',
]

const WORDS = ['a', 'x', 'foo bar', 'siderolabs/gvisor', 'console=ttyS0,115200', 'talos.platform=metal', '-foo', '?q', ':colon', 'a# b', 'key:value', 'é unicode', 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0', 'rpi_generic', 'noapic']
const NUMBERS = ['0', '1', '10', '255', '256', '-1', '0x0a', '0x100', '012', '08', '0o12', '0b101', '1.5', '1e3', '.inf', '-.inf', '.nan', '18446744073709551615', '18446744073709551616', '1_000', '4096', '+12', '1:20', '0.0', '-0']
const BOOLS = ['true', 'false', 'True', 'FALSE', 'yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'NO']
const NULLS = ['null', '~', 'Null', '']
const TIMESTAMPS = ['2024-01-01', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10', '2002-12-14T01:02:03Z']
const QUOTED = ['"a\\nb"', "'it''s'", '"\\u00e9"', '"\\ud800"', '"\\x41"', '"tab\\tx"', "''", '""', '"trailing   "', "'{\"externalIPs\":[\"1.2.3.4\"]}'", '"\\U0001F600"', '"a\\"b"', '"\\0"', '"\\e"']
const TAGGED = ['!!str 1', '!!int x', '!!int 10', '!!binary aGVsbG8=', '!!binary "!!!"', '!foo bar', '!!float 1', '!!bool yes', '!!null ~', '!!timestamp 2024-01-01', '!<tag:yaml.org,2002:str> x', '! x', '!!map {}', '!!seq []']
const SPECIAL = ['<<', '- x', '? x', '*a', '&a', '|', '>', '%', '@x', '`x', '#x', '---', '...', '!']

const KEYS_TOP = ['owner', 'overlay', 'customization']
const KEYS_OVERLAY = ['image', 'name', 'options']
const KEYS_CUST = ['embeddedMachineConfiguration', 'extraKernelArgs', 'meta', 'systemExtensions', 'bootloader', 'secureboot', 'diskImage']
const KEYS_ANY = [...KEYS_TOP, ...KEYS_OVERLAY, ...KEYS_CUST, 'key', 'value', 'officialExtensions', 'enrollKeys', 'includeWellKnownCertificates', 'sectorSize', 'a', 'b', '1', '"q"', '<<', 'null', 'true', '? x']

type Node = { t: 'scalar'; text: string } | { t: 'seq'; items: Node[] } | { t: 'map'; pairs: [Node, Node][] } | { t: 'block'; text: string }

const sc = (text: string): Node => ({ t: 'scalar', text })

function randomScalar(r: Rng): Node {
  switch (r.int(8)) {
    case 0:
      return sc(r.pick(NUMBERS))
    case 1:
      return sc(r.pick(BOOLS))
    case 2:
      return sc(r.pick(NULLS))
    case 3:
      return sc(r.pick(TIMESTAMPS))
    case 4:
      return sc(r.pick(QUOTED))
    case 5:
      return r.chance(0.5) ? sc(r.pick(TAGGED)) : sc(r.pick(SPECIAL))
    default:
      return sc(r.pick(WORDS))
  }
}

/** A random YAML value, with schematic keys often enough to reach every construct path. */
function randomNode(r: Rng, depth: number): Node {
  if (depth > 5 || r.chance(0.45)) return randomScalar(r)
  if (r.chance(0.4)) return { t: 'seq', items: Array.from({ length: r.int(5) }, () => randomNode(r, depth + 1)) }
  const keys = depth === 0 ? KEYS_TOP : r.chance(0.5) ? KEYS_CUST : KEYS_ANY
  return { t: 'map', pairs: Array.from({ length: r.int(5) }, () => [r.chance(0.85) ? sc(r.pick(keys)) : randomScalar(r), randomNode(r, depth + 1)] as [Node, Node]) }
}

const safeWord = (r: Rng): string => r.pick(WORDS.filter((w) => !/[#:?]/.test(w)))

/** A schematic that should be valid (the oracle is the synchronous parser, not this). */
function validNode(r: Rng): Node {
  const top: [Node, Node][] = []
  if (r.chance(0.5)) {
    const o: [Node, Node][] = [
      [sc('image'), sc(safeWord(r))],
      [sc('name'), sc(safeWord(r))],
    ]
    if (r.chance(0.6)) {
      const opts: [Node, Node][] = []
      const n = r.int(8)
      for (let i = 0; i < n; i++) opts.push([sc(`k${i}${r.pick(['', '_x', '9', 'A'])}`), randomNode(r, 3)])
      o.push([sc('options'), { t: 'map', pairs: opts }])
    }
    top.push([sc('overlay'), { t: 'map', pairs: o }])
  }
  const c: [Node, Node][] = []
  if (r.chance(0.5)) c.push([sc('extraKernelArgs'), { t: 'seq', items: Array.from({ length: r.int(4) }, () => sc(r.chance(0.8) ? safeWord(r) : r.pick(NUMBERS))) }])
  if (r.chance(0.3)) c.push([sc('meta'), { t: 'seq', items: Array.from({ length: 1 + r.int(3), }, () => ({ t: 'map', pairs: [[sc('key'), sc(r.pick(['0', '10', '0xa', '012', '255']))], [sc('value'), sc(r.pick(WORDS.filter((w) => !w.includes('#'))))]] }) as Node) }])
  if (r.chance(0.3)) c.push([sc('systemExtensions'), { t: 'map', pairs: [[sc('officialExtensions'), { t: 'seq', items: [sc('siderolabs/gvisor'), sc('siderolabs/amd-ucode')].slice(0, 1 + r.int(2)) }]] }])
  if (r.chance(0.3)) c.push([sc('bootloader'), sc(r.pick(['none', 'dual-boot', 'sd-boot', 'grub', 'GRUB', 'Sd-Boot']))])
  if (r.chance(0.2)) c.push([sc('secureboot'), { t: 'map', pairs: [[sc('enrollKeys'), sc(r.pick(['off', 'manual', 'if-safe', 'force']))], [sc('includeWellKnownCertificates'), sc(r.pick(['true', 'false', 'yes', 'off']))]] }])
  if (r.chance(0.2)) c.push([sc('diskImage'), { t: 'map', pairs: [[sc('sectorSize'), sc(r.pick(['512', '4096', '0', '0x1000']))]] }])
  if (r.chance(0.2)) c.push([sc('embeddedMachineConfiguration'), { t: 'block', text: 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: worker-1\n' }])
  if (c.length > 0 || r.chance(0.5)) top.push([sc('customization'), { t: 'map', pairs: c }])
  return { t: 'map', pairs: top }
}

function flow(n: Node): string {
  switch (n.t) {
    case 'scalar':
      return n.text
    case 'block':
      return JSON.stringify(n.text)
    case 'seq':
      return `[${n.items.map(flow).join(', ')}]`
    case 'map':
      return `{${n.pairs.map(([k, v]) => `${flow(k)}: ${flow(v)}`).join(', ')}}`
  }
}

function block(n: Node, indent: number, step: number): string {
  const pad = ' '.repeat(indent)
  const inline = (v: Node): string => (v.t === 'scalar' ? ` ${v.text}` : v.t === 'block' ? ` |\n${v.text.replace(/^/gm, pad + ' '.repeat(step))}`.trimEnd() : (v.t === 'seq' && v.items.length === 0) || (v.t === 'map' && v.pairs.length === 0) ? ` ${flow(v)}` : `\n${block(v, indent + step, step)}`)
  switch (n.t) {
    case 'scalar':
    case 'block':
      return `${pad}${flow(n)}`
    case 'seq':
      if (n.items.length === 0) return `${pad}[]`
      return n.items.map((v) => `${pad}-${inline(v)}`).join('\n')
    case 'map':
      if (n.pairs.length === 0) return `${pad}{}`
      return n.pairs.map(([k, v]) => `${pad}${k.t === 'scalar' ? k.text : flow(k)}:${inline(v)}`).join('\n')
  }
}

/** JSON where the scalars allow it; the rest are written as JSON strings. */
function json(n: Node): string {
  switch (n.t) {
    case 'scalar': {
      const t = n.text
      if (/^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/.test(t) || t === 'true' || t === 'false' || t === 'null') return t
      if (t.startsWith('"')) return t
      return JSON.stringify(t)
    }
    case 'block':
      return JSON.stringify(n.text)
    case 'seq':
      return `[${n.items.map(json).join(',')}]`
    case 'map':
      return `{${n.pairs.map(([k, v]) => `${k.t === 'scalar' && k.text.startsWith('"') ? k.text : JSON.stringify(k.t === 'scalar' ? k.text : flow(k))}:${json(v)}`).join(',')}}`
  }
}

function serialize(r: Rng, n: Node): string {
  switch (r.int(3)) {
    case 0:
      return flow(n)
    case 1:
      return json(n)
    default:
      return `${block(n, 0, r.pick([2, 2, 4, 1, 3]))}\n`
  }
}

const MUTATION_CHARS = ['[', ']', '{', '}', ':', ',', '-', '?', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '#', '\n', ' ', '\t', '\\', '0', 'a', 'é', '😀', '\u0085', '\ufeff', '\u2028', '\r', '<<', '---\n', ': ', '- ', '&a ', '*a', '!!int ', '\u0000', '\u0007']

function mutate(r: Rng, s: string): string {
  let out = s
  const n = 1 + r.int(5)
  for (let i = 0; i < n; i++) {
    const at = r.int(out.length + 1)
    const len = 1 + r.int(10)
    switch (r.int(8)) {
      case 0:
        out = out.slice(0, at) + r.pick(MUTATION_CHARS) + out.slice(at)
        break
      case 1:
        out = out.slice(0, at) + out.slice(at + len)
        break
      case 2:
        out = out.slice(0, at) + out.slice(at, at + len) + out.slice(at)
        break
      case 3:
        out = out.slice(0, at) + r.pick(MUTATION_CHARS) + out.slice(at + 1)
        break
      case 4:
        out = out.slice(0, at) + '['.repeat(1 + r.int(3000)) + out.slice(at)
        break
      case 5: {
        const lines = out.split('\n')
        const li = r.int(lines.length)
        lines[li] = ' '.repeat(r.int(6)) + (lines[li] ?? '').trimStart()
        out = lines.join('\n')
        break
      }
      case 6:
        out = `${out}\n---\n${r.pick(SPEC_INPUTS)}`
        break
      default:
        out = out.slice(0, at)
    }
  }
  return out
}

function deep(r: Rng): string {
  const depth = r.pick([10, 300, 990, 1001, 5000, 20_000])
  const closed = r.chance(0.7)
  const wrap = (inner: string): string => (r.chance(0.5) ? `overlay: {image: x, name: y, options: {a: ${inner}}}` : `customization: {extraKernelArgs: ${inner}}`)
  switch (r.int(5)) {
    case 0:
      return wrap('['.repeat(depth) + (closed ? ']'.repeat(depth) : ''))
    case 1:
      return wrap('{a: '.repeat(depth) + (closed ? `1${'}'.repeat(depth)}` : ''))
    case 2:
      return '{"overlay":{"image":"x","name":"y","options":' + '{"a":'.repeat(depth) + (closed ? `1${'}'.repeat(depth)}}}` : '')
    case 3: {
      const levels = Math.min(depth, 1400)
      return 'overlay:\n  options:\n' + Array.from({ length: levels }, (_, i) => `${' '.repeat(4 + i)}k:`).join('\n') + ' 1\n'
    }
    default:
      return `overlay:\n  options:\n    a:\n${'- '.repeat(depth)}x\n`
  }
}

function wide(r: Rng): string {
  const n = r.pick([500, 2000, 5000])
  switch (r.int(5)) {
    case 0:
      return `overlay:\n  image: x\n  name: y\n  options:\n${Array.from({ length: n }, (_, i) => `    k${r.chance(0.001) ? 0 : i}: v${i}\n`).join('')}`
    case 1:
      return `{"overlay":{"image":"x","name":"y","options":{${Array.from({ length: n }, (_, i) => `"${i}":[${i},"${i}",${i % 2 === 0}]`).join(',')}}}}`
    case 2:
      return `customization:\n  extraKernelArgs: [${Array(n).fill('a').join(',')}]\n`
    case 3:
      return `customization:\n  extraKernelArgs: ["${'x'.repeat(n * 20)}"]\n`
    default:
      return `overlay: {image: &i x, name: y, options: {a: [${Array.from({ length: Math.min(n, 1200) }, () => '*i').join(', ')}]}}`
  }
}

export type BodyKind = 'random' | 'valid' | 'mutation' | 'bytes' | 'ascii' | 'deep' | 'wide' | 'huge' | 'oversized'

export interface BodyCase {
  kind: BodyKind
  body: string | Uint8Array
}

export function bodyCase(r: Rng, limit: number): BodyCase {
  const p = r.next()
  if (p < 0.25) return { kind: 'random', body: serialize(r, randomNode(r, 0)) }
  if (p < 0.55) return { kind: 'valid', body: serialize(r, validNode(r)) }
  if (p < 0.8) return { kind: 'mutation', body: mutate(r, r.pick(SPEC_INPUTS)) }
  if (p < 0.86) return { kind: 'bytes', body: Uint8Array.from({ length: r.int(2000) }, () => r.int(256)) }
  if (p < 0.92) {
    const alphabet = 'ab01:- ,[]{}#&*!|>\'"?\n\t%@`\\.~'
    return { kind: 'ascii', body: Array.from({ length: r.int(400) }, () => alphabet[r.int(alphabet.length)]).join('') }
  }
  if (p < 0.98) return { kind: 'deep', body: deep(r) }
  if (p < 0.999) return { kind: 'wide', body: wide(r) }
  if (p < 0.9995) {
    // close to the body limit
    const line = `    k${r.int(1e6)}x: ${'v'.repeat(r.int(40))}\n`
    const head = 'overlay:\n  image: x\n  name: y\n  options:\n'
    let s = head
    let i = 0
    while (s.length + line.length + 12 < limit) s += line.replace('x:', `${i++}:`)
    return { kind: 'huge', body: s }
  }
  return { kind: 'oversized', body: `# ${'x'.repeat(limit)}\n{}` }
}

// ------------------------------------------------------------------------------------------------
// Asset and PXE paths

export const PLATFORMS = ['metal', 'aws', 'nocloud'] as const
export const ARCHES = ['amd64', 'arm64'] as const
export const VALID_VERSION = 'v1.12.0'

/** Asset paths that this factory builds cheaply and the stand-in release can serve. */
export function validAssetPaths(): string[] {
  const out: string[] = []
  for (const arch of ARCHES) {
    out.push(`kernel-${arch}`)
    for (const p of PLATFORMS) out.push(`cmdline-${p}-${arch}`)
  }
  return out
}

export function validPxePaths(): string[] {
  return PLATFORMS.flatMap((p) => ARCHES.map((a) => `${p}-${a}`)).concat(['metal-x86_64', 'metal-i386'])
}

const JUNK = ['', '.', '..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%00', 'a'.repeat(300), 'é', '😀', '%', '%zz', ' ', '%20', 'kernel', 'cmdline-', '-', '--', 'metal', 'x86_64', 'secureboot', '?x=1', '#frag', ';', '\\']
/** Disk images (not built yet: 501) and kinds that are built but costly (requested with an unknown schematic). */
const NOT_BUILT = ['metal-amd64.iso', 'metal-arm64.iso', 'metal-amd64-uki.efi', 'installer-amd64.tar', 'metal-amd64.raw.xz', 'aws-amd64.raw.xz', 'metal-amd64.qcow2', 'nocloud-arm64.raw.zst', 'metal-amd64-secureboot.iso']

/** Kinds that are cheap to build (the stand-in kernel, a command line); others take seconds each. */
const CHEAP_KINDS: ReadonlySet<string> = new Set(['kernel', 'cmdline'])

/** An asset path that this factory would build at a cost (ISO, UKI, initramfs, installer). */
function costly(path: string): boolean {
  try {
    const kind = parseAssetPath(path).kind
    return BUILT_KINDS.has(kind) && !CHEAP_KINDS.has(kind)
  } catch {
    return false
  }
}

export interface PathCase {
  method: 'GET' | 'HEAD'
  path: string
  /** Expected 200 (a valid schematic, version and cheap asset). */
  valid: boolean
}

function junk(r: Rng): string {
  const base = r.pick(JUNK)
  return r.chance(0.5) ? base : encodeURIComponent(base + String.fromCharCode(0x20 + r.int(0x5f)))
}

export function pathCase(r: Rng, ids: readonly string[]): PathCase {
  const method = r.chance(0.1) ? 'HEAD' : 'GET'
  const validId = r.chance(0.6)
  const id = validId ? r.pick(ids) : r.pick([r.pick(['a', 'f', '0']).repeat(64), 'A'.repeat(64), 'g'.repeat(64), r.pick(ids).slice(0, 63), `${r.pick(ids)}0`, junk(r)])
  const validVersion = r.chance(0.7)
  const version = validVersion ? r.pick([VALID_VERSION, '1.12.0']) : r.pick(['v1.11.0', 'v1.5', 'v1.12', 'v1.12.0-alpha.1', 'v99.0.0', 'v1.12.0+build', `v1.${'9'.repeat(40)}.0`, junk(r)])
  if (r.chance(0.5)) {
    const validPath = r.chance(0.6)
    let path = validPath ? r.pick(validAssetPaths()) : r.chance(0.4) ? r.pick(NOT_BUILT) : r.pick([`cmdline-${junk(r)}-amd64`, `kernel-${junk(r)}`, `cmdline-metal-${r.pick(['foo', 'x86', 'armhf'])}`, 'cmdline-metal-amd64-secureboot', junk(r), `initramfs-${junk(r)}.xz`])
    let valid = validId && validVersion && validPath
    // a build of seconds per request is not what this fuzzes: such paths get an unknown schematic
    const idUsed = costly(path) ? 'e'.repeat(64) : id
    if (validPath && r.chance(0.3)) path += r.pick(['.sha256', '.sha512'])
    if (r.chance(0.1)) {
      path += `?filename=${encodeURIComponent(junk(r))}`
    }
    if (method === 'HEAD') valid = false
    return { method, path: `/image/${idUsed}/${version}/${path}`, valid }
  }
  const validPath = r.chance(0.6)
  const path = validPath ? r.pick(validPxePaths()) : r.pick([`${r.pick(PLATFORMS)}-${junk(r)}`, junk(r), `metal-amd64-secureboot`, `evilcloud-amd64`, 'digital-ocean-amd64'])
  return { method: 'GET', path: `/pxe/${id}/${version}/${path}`, valid: validId && validVersion && validPath }
}
