/**
 * What a schematic body may cost (src/schematic/limits.ts): each limit refuses a body over it with
 * a one-line 400 naming the limit, bodies within the limits still parse to the reference's IDs,
 * and the pre-scan refuses the hostile shapes before the YAML library runs.
 */
import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { canonicalize, DEFAULT_PARSE_LIMITS, parseSchematic } from '../../src/schematic/index.ts'
import { prescan } from '../../src/schematic/prescan.ts'
import type { ParseLimits } from '../../src/schematic/limits.ts'

const EMPTY_ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'
const L = DEFAULT_PARSE_LIMITS

function rejection(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError)
    const msg = (err as Error).message
    expect(msg).not.toContain('\n')
    return msg
  }
  throw new Error('expected a rejection')
}

const inOptions = (value: string): string => `overlay: {image: x, name: y, options: {a: ${value}}}`
const nestedSeq = (d: number): string => `${'['.repeat(d)}${']'.repeat(d)}`
const nestedMap = (d: number): string => `${'{a: '.repeat(d)}1${'}'.repeat(d)}`
const blockIndent = (levels: number): string => 'overlay:\n  options:\n' + Array.from({ length: levels }, (_, i) => `${' '.repeat(4 + i)}k:`).join('\n') + ' 1\n'
const compactSeqs = (levels: number): string => `overlay:\n  options:\n    a:\n${'- '.repeat(levels)}x\n`

describe('nesting depth', () => {
  test.each([
    ['nested flow sequences', inOptions(nestedSeq(400_000)), 'flow'],
    ['nested flow mappings', inOptions(nestedMap(200_000)), 'flow'],
    ['unclosed flow sequence', inOptions('['.repeat(1_000_000)), 'flow'],
    ['1,400-level block indentation', blockIndent(1400), 'indent'],
    ['compact nested block sequences on one line', compactSeqs(100_000), 'indent'],
  ])('%s: refused by the pre-scan, with the reference words', (_name, body, kind) => {
    const msg = rejection(() => prescan(body, L))
    expect(msg).toMatch(new RegExp(`^go-yaml load error in scanner \\(while increasing ${kind} level\\) at L\\d+\\.C\\d+: exceeded max depth of 1000$`))
    expect(rejection(() => parseSchematic(body))).toBe(msg)
  })

  test('within the limit parses', () => {
    expect(parseSchematic(inOptions(nestedSeq(990))).overlay?.options?.a).toBeArray()
    expect(parseSchematic(inOptions(nestedMap(990))).overlay?.options?.a).toBeObject()
    expect(parseSchematic(blockIndent(900)).overlay?.options?.k).toBeObject()
  })

  test('just over the limit is refused', () => {
    expect(rejection(() => parseSchematic(inOptions(nestedSeq(1001))))).toContain('exceeded max depth of 1000')
    expect(rejection(() => parseSchematic(blockIndent(1001)))).toContain('exceeded max depth of 1000')
  })

  test('a smaller configured limit is named', () => {
    expect(rejection(() => parseSchematic(inOptions(nestedSeq(20)), { maxDepth: 10 }))).toContain('exceeded max depth of 10')
  })

  test('what the pre-scan misses, the token stream still counts', () => {
    // The pre-scan takes the quote at the start of the continuation line for a string running to
    // the end of the body; the YAML library reads a plain scalar and then the nested sequences.
    const body = `customization:\n  extraKernelArgs: [a]\noverlay:\n  image: x\n  name: y\n  options:\n    k: a\n      "b\n    deep: ${nestedSeq(5000)}\n`
    expect(() => prescan(body, L)).not.toThrow()
    expect(rejection(() => parseSchematic(body))).toMatch(/exceeded max depth of 1000$/)
  })

  test('brackets in strings, block scalars and comments are not nesting', () => {
    const brackets = '['.repeat(5000)
    const bodies = [
      `customization:\n  extraKernelArgs: ["${brackets}"]\n`,
      `customization:\n  extraKernelArgs: ['${brackets}']\n`,
      `customization:\n  embeddedMachineConfiguration: |\n    ${brackets}\n    x: {\n`,
      `customization:\n  embeddedMachineConfiguration: >-\n    ${brackets}\n`,
      `# ${brackets}\ncustomization:\n  extraKernelArgs: [a] # ${brackets}\n`,
      `- k: |\n    ${brackets}\n`,
    ]
    for (const body of bodies) expect(() => prescan(body, L)).not.toThrow()
    expect(canonicalize(bodies[0] as string).canonical).toContain(brackets)
    expect(canonicalize(bodies[2] as string).canonical).toContain(`${brackets}\n`)
  })
})

describe('node, anchor and alias counts', () => {
  const list = (n: number, item = '1'): string => `[${Array(n).fill(item).join(',')}]`

  test('a megabyte of one-character items is refused by the pre-scan', () => {
    const body = inOptions(list(400_000))
    expect(body.length).toBeLessThan(1024 * 1024)
    const msg = rejection(() => prescan(body, L))
    expect(msg).toMatch(/^document exceeds the limit of 200000 nodes \(at L1\.C\d+\)$/)
    expect(rejection(() => parseSchematic(body))).toBe(msg)
  })

  test('a block list over the limit too', () => {
    const body = `overlay:\n  image: x\n  name: y\n  options:\n    a:\n${'      - 1\n'.repeat(200_001)}`
    expect(rejection(() => parseSchematic(body))).toMatch(/^document exceeds the limit of 200000 nodes/)
  })

  test('within the limit parses', () => {
    expect(parseSchematic(inOptions(list(50_000))).overlay?.options?.a).toHaveLength(50_000)
  })

  test('anchors and aliases', () => {
    const anchors = inOptions(`[${Array.from({ length: 1001 }, (_, i) => `&a${i} x`).join(', ')}]`)
    expect(rejection(() => parseSchematic(anchors))).toMatch(/^document exceeds the limit of 1000 anchors/)
    const aliases = `overlay: {image: &i x, name: y, options: {a: [${Array(1001).fill('*i').join(', ')}]}}`
    expect(rejection(() => parseSchematic(aliases))).toMatch(/^document exceeds the limit of 1000 aliases/)
    const fine = `overlay: {image: &i x, name: y, options: {a: [${Array(1000).fill('*i').join(', ')}]}}`
    expect(parseSchematic(fine).overlay?.options?.a).toHaveLength(1000)
  })

  test('the token-stream counts agree with a configured limit', () => {
    const limits: Partial<ParseLimits> = { maxNodes: 50 }
    expect(rejection(() => parseSchematic(inOptions(list(60)), limits))).toMatch(/limit of 50 nodes/)
    expect(parseSchematic(inOptions(list(10)), limits).overlay?.options?.a).toHaveLength(10)
  })

  test('empty entries count: a megabyte of `: ,` is refused by the pre-scan', () => {
    // found by measuring: each `: ` in a flow sequence is a map with an empty key and value, and
    // none of them has a scalar token
    const body = inOptions(`[${': ,'.repeat(340_000)}]`)
    expect(body.length).toBeLessThan(1024 * 1024)
    expect(rejection(() => prescan(body, L))).toMatch(/^document exceeds the limit of 200000 nodes/)
    expect(rejection(() => parseSchematic(inOptions(`[${': ,'.repeat(100)}]`), { maxNodes: 100 }))).toMatch(/^document exceeds the limit of 100 nodes/)
  })

  test('empty flow entries are refused at the first one', () => {
    // the YAML library reports them only after building an error object for each of them
    expect(rejection(() => parseSchematic(inOptions(`[a${','.repeat(1_000_000)}]`)))).toMatch(/^document exceeds the limit of 200000 nodes/)
    const commas = inOptions(`[a${','.repeat(150_000)}]`)
    expect(() => prescan(commas, L)).not.toThrow()
    expect(rejection(() => parseSchematic(commas))).toBe('go-yaml load error in parser (while parsing a flow node) at L1.C46: did not find expected node content')
    for (const body of ['[,]', '{a: 1, , b: 2}', '[a,\n  # c\n  ,]', '{,}']) {
      expect(rejection(() => parseSchematic(inOptions(body)))).toMatch(/did not find expected node content$/)
    }
    // a trailing comma and an anchored empty entry are fine
    expect(parseSchematic(inOptions('[a, b,]')).overlay?.options?.a).toEqual(['a', 'b'])
    expect(parseSchematic(inOptions('[&x , b]')).overlay?.options?.a).toEqual([null, 'b'])
  })
})

describe('alias expansion', () => {
  test('a billion laughs stops at the reference check', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    const names = 'bcdefghij'
    for (let i = 0; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(10).fill(`*${i === 0 ? 'a' : names[i - 1]}`).join(', ')}]`)
    const body = `overlay:\n  image: x\n  name: y\n  options:\n${lines.map((l) => '    ' + l).join('\n')}\n`
    expect(rejection(() => parseSchematic(body))).toContain('document contains excessive aliasing')
  })

  test('expansion beyond the expanded-node limit is refused, naming it', () => {
    const body = `overlay: {image: x, name: y, options: {a: &a [${Array(200).fill('x').join(', ')}], b: [${Array(10).fill('*a').join(', ')}]}}`
    expect(parseSchematic(body).overlay?.options?.b).toHaveLength(10)
    expect(rejection(() => parseSchematic(body, { maxExpandedNodes: 1000 }))).toMatch(/excessive aliasing \(more than 1000 nodes after expanding aliases\)$/)
  })

  test('merging many aliases into a large map stays linear', () => {
    // Each merged mapping used to rebuild the key index of the map it merges into.
    const body = (merges: number): string => {
      let s = 'overlay:\n  image: x\n  name: y\n  options:\n    base: &a {k: v}\n    m:\n'
      for (let i = 0; i < 20_000; i++) s += `      ${i}: v\n`
      return `${s}      <<: [${Array(merges).fill('*a').join(', ')}]\n`
    }
    const time = (b: string): number => {
      const t = performance.now()
      const s = parseSchematic(b)
      expect(Object.keys(s.overlay?.options ?? {})).toEqual(['base', 'm'])
      return performance.now() - t
    }
    const one = Math.min(time(body(1)), time(body(1)))
    const many = Math.min(time(body(900)), time(body(900)))
    console.log(`20,000-key map: 1 merge ${one.toFixed(0)} ms, 900 merges ${many.toFixed(0)} ms`)
    // linear: about the same; quadratic: 900 × 20,000 index insertions, more than ten times slower
    expect(many / one).toBeLessThan(5)
  }, 60_000)
})

describe('canonical size', () => {
  test('nesting that multiplies into megabytes of indentation is refused', () => {
    // 14 KB of input, about 4.8 MB of canonical YAML (4 spaces per level and line)
    const body = inOptions(`[${Array(3).fill(nestedMap(900)).join(', ')}]`)
    expect(body.length).toBeLessThan(14_000)
    expect(rejection(() => canonicalize(body))).toStartWith(`canonical schematic exceeds the size limit of ${L.maxCanonicalBytes} bytes`)
  })

  test('…and is refused while the text is read, before anything is built (60 of them: 53 MB of canonical YAML)', () => {
    const body = inOptions(`[${Array(60).fill(nestedMap(900)).join(', ')}]`)
    expect(rejection(() => canonicalize(body))).toMatch(/^canonical schematic exceeds the size limit of \d+ bytes \(its nesting alone would indent it beyond that, at L\d+\.C\d+\)$/)
  })

  // the early check adds up a lower bound of the canonical size: a document whose canonical form
  // is exactly at the limit must still be accepted, whatever its shape
  test.each([
    ['nested flow maps', inOptions(`[${Array(5).fill(nestedMap(200)).join(', ')}]`)],
    ['nested flow sequences', inOptions(`[${Array(5).fill(`${'['.repeat(200)}1${']'.repeat(200)}`).join(', ')}]`)],
    ['maps and sequences alternating', inOptions(`[${Array(5).fill(`${'{a: ['.repeat(60)}1${']}'.repeat(60)}`).join(', ')}]`)],
    ['nested block maps', 'overlay:\n  image: x\n  name: y\n  options:\n' + Array.from({ length: 150 }, (_, d) => ' '.repeat(4 + 2 * d) + `k${d}:`).join('\n') + ' v\n'],
    ['sequences of maps in maps', inOptions(`{a: [{b: [{c: [{d: 1, e: 2}], f: 3}], g: 4}], h: [{i: {j: {k: [1, {l: 2}]}}}]}`)],
  ])('%s: accepted with the limit set to its exact canonical size', (_name, body) => {
    const { canonical } = canonicalize(body, { maxCanonicalBytes: Number.POSITIVE_INFINITY, maxDepth: 1000 })
    expect(canonicalize(body, { maxCanonicalBytes: Buffer.byteLength(canonical) }).canonical).toBe(canonical)
  })

  test('a configured limit is named, bytes counted in UTF-8', () => {
    const body = 'customization:\n  extraKernelArgs: [éééééééééé]\n'
    const { canonical } = canonicalize(body)
    expect(Buffer.byteLength(canonical)).toBe(canonical.length + 10)
    expect(canonicalize(body, { maxCanonicalBytes: Buffer.byteLength(canonical) }).canonical).toBe(canonical)
    expect(rejection(() => canonicalize(body, { maxCanonicalBytes: canonical.length + 5 }))).toBe(`canonical schematic exceeds the size limit of ${canonical.length + 5} bytes`)
  })
})

describe('only the first document is read, as by the reference', () => {
  test('a hostile second document is never parsed', () => {
    for (const rest of [nestedSeq(400_000), '['.repeat(500_000), blockIndent(1400), '- '.repeat(300_000)]) {
      expect(canonicalize(`customization: {}\n---\n${rest}\n`).id).toBe(EMPTY_ID)
      expect(canonicalize(`customization: {}\n...\n${rest}\n`).id).toBe(EMPTY_ID)
    }
  })

  test('errors of the first document are still reported', () => {
    expect(rejection(() => parseSchematic('customization: [\n---\n{}\n'))).toMatch(/^go-yaml load error in parser at /)
    expect(rejection(() => parseSchematic('something: 1\n...\n{}\n'))).toBe('yaml: construct errors: line 1: field something not found in type schematic.Schematic')
  })
})

describe('a valid schematic of about 1 MiB', () => {
  test('40,000 overlay-option keys: the reference ID, in both input styles', () => {
    let yaml = 'overlay:\n  image: siderolabs/sbc-raspberrypi\n  name: rpi_generic\n  options:\n'
    const json: string[] = []
    for (let i = 0; i < 40_000; i++) {
      yaml += `    key${i}: value-${i}\n`
      json.push(`"key${i}":"value-${i}"`)
    }
    expect(yaml.length).toBeGreaterThan(1_000_000)
    const a = canonicalize(yaml)
    const b = canonicalize(`{"overlay":{"image":"siderolabs/sbc-raspberrypi","name":"rpi_generic","options":{${json.join(',')}}}}`)
    expect(b.id).toBe(a.id)
    // natural key order: key0, key1, key2, …, key10, …
    const head = 'overlay:\n    image: siderolabs/sbc-raspberrypi\n    name: rpi_generic\n    options:\n        key0: value-0\n        key1: value-1\n        key2: value-2\n'
    expect(a.canonical.slice(0, head.length)).toBe(head)
    expect(a.id).toBe('51448845a628fb07f92f8cad22017a4b5fea89d07ed4536c32848d392bba32b3')
  }, 60_000)
})
