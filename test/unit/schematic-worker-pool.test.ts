/**
 * The schematic parser pool (src/schematic/worker-pool.ts): the same answers as the synchronous
 * parser, a time budget that costs only the worker, a bounded queue, and a clean shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import { silentLogger } from '../../src/log.ts'
import { canonicalize, emitCanonical, type Schematic } from '../../src/schematic/index.ts'
import { INLINE_PARSE_CHARS, SchematicService, type SchematicParser } from '../../src/schematic/service.ts'
import { LARGE_BODY, ParserBusyError, SchematicParserPool } from '../../src/schematic/worker-pool.ts'

const big = (): string => {
  let s = 'overlay:\n  image: siderolabs/sbc-raspberrypi\n  name: rpi_generic\n  options:\n'
  for (let i = 0; i < 40_000; i++) s += `    key${i}: value-${i}\n`
  return s
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('answers', () => {
  let pool: SchematicParserPool
  beforeAll(() => {
    pool = new SchematicParserPool({ workers: 2, timeoutMs: 20_000, maxQueue: 64 })
  })
  afterAll(() => pool.close())

  const bodies = [
    '{}',
    '{"customization": {"extraKernelArgs": ["noapic", "nolapic"]}}',
    'customization:\n  meta:\n    - key: 0xa\n      value: foo\n',
    'overlay: {name: rpi_generic, image: siderolabs/sbc-raspberrypi, options: {data: mydata, b: 1, a: [1, "x", true], n: {z: null, y: 1.5}, configTxtAppend: "dtoverlay=vc4-kms-v3d\\n"}}',
    `overlay: {image: x, name: y, options: {a: ${'['.repeat(990)}1${']'.repeat(990)}}}`,
  ]

  test.each(bodies)('same ID and canonical form as the synchronous parser: %#', async (body) => {
    const sync = canonicalize(body)
    for (const input of [body, new TextEncoder().encode(body)]) expect(await pool.canonicalize(input)).toEqual({ id: sync.id, canonical: sync.canonical })
  })

  test.each([
    ['something: 1', 'yaml: construct errors: line 1: field something not found in type schematic.Schematic'],
    ['owner: alice', 'owner field is only supported in Enterprise edition'],
    ['', 'EOF'],
    [`overlay: {image: x, name: y, options: {a: ${'['.repeat(400_000)}}}}`, 'go-yaml load error in scanner (while increasing flow level) at L1.C1040: exceeded max depth of 1000'],
  ])('the same 400 reasons: %#', async (body, reason) => {
    const err = await rejectionOf(pool.canonicalize(body))
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.message).toBe(reason)
  })

  test('stored schematics come back with their value types (floats, timestamps, odd keys)', async () => {
    const body = 'overlay: {image: x, name: y, options: {f: 1.0, t: 2024-01-01, i: 1, m: {1: a, true: b}, __proto__: {x: [1.5, null]}, e: {}}}'
    const { canonical } = canonicalize(body)
    const parsed = await pool.parse(canonical)
    expect(emitCanonical(parsed)).toBe(canonical)
    expect(Object.getPrototypeOf(parsed.overlay?.options)).toBeNull()
  })

  test('a valid 1 MiB schematic', async () => {
    // the ID the synchronous parser gives (schematic-limits.test.ts)
    expect((await pool.canonicalize(big())).id).toBe('51448845a628fb07f92f8cad22017a4b5fea89d07ed4536c32848d392bba32b3')
  }, 60_000)
})

describe('limits', () => {
  test('bodies get the configured limits; stored schematics only the nesting limit', async () => {
    const pool = new SchematicParserPool({ workers: 1, timeoutMs: 30_000, maxQueue: 4, limits: { maxNodes: 100 } })
    try {
      const body = `customization: {extraKernelArgs: [${Array(200).fill('a').join(', ')}]}`
      expect((await rejectionOf(pool.canonicalize(body))).message).toMatch(/^document exceeds the limit of 100 nodes/)
      // e.g. written before the limits existed, or by another factory sharing the store
      const stored = canonicalize(body).canonical
      expect((await pool.parse(stored)).customization.extraKernelArgs).toHaveLength(200)
    } finally {
      await pool.close()
    }
  }, 60_000)
})

describe('budget and queue', () => {
  test('a parse over its budget costs the worker, and the next request is served', async () => {
    const pool = new SchematicParserPool({ workers: 1, timeoutMs: 100, maxQueue: 4 })
    try {
      await pool.canonicalize('{}') // started
      const err = await rejectionOf(pool.canonicalize(big()))
      expect(err).toBeInstanceOf(InvalidInputError)
      expect(err.message).toBe('schematic parsing took longer than the time budget of 100 ms')
      expect(pool.stats()).toMatchObject({ timeouts: 1, crashes: 0, busy: 0 })
      expect((await pool.canonicalize('customization: {}')).id).toBe(canonicalize('{}').id)
    } finally {
      await pool.close()
    }
  }, 60_000)

  test('a full queue is refused at once with a 503', async () => {
    const pool = new SchematicParserPool({ workers: 1, timeoutMs: 30_000, maxQueue: 1 })
    try {
      await pool.canonicalize('{}')
      // Replies arrive as tasks, so nothing finishes before the checks below.
      const body = 'customization: {extraKernelArgs: [a]}'
      const running = pool.canonicalize(body)
      const waiting = pool.canonicalize(body)
      const refused = await rejectionOf(pool.canonicalize(body))
      expect(refused).toBeInstanceOf(ParserBusyError)
      expect((refused as ParserBusyError).status).toBe(503)
      expect(refused.message).toBe('too many schematics are being parsed (1 parsing, 1 waiting, the queue limit); retry later')
      expect(pool.stats()).toMatchObject({ busy: 1, queued: 1, rejected: 1 })
      const id = canonicalize(body).id
      expect((await running).id).toBe(id)
      expect((await waiting).id).toBe(id)
    } finally {
      await pool.close()
    }
  }, 60_000)

  test('large bodies leave a worker to small ones, and wait in the queue too', async () => {
    const pool = new SchematicParserPool({ workers: 2, timeoutMs: 30_000, maxQueue: 1 })
    try {
      await pool.ready()
      const large = `customization: {extraKernelArgs: [${Array(20_000).fill('abcd').join(', ')}]}`
      expect(large.length).toBeGreaterThan(LARGE_BODY)
      const first = pool.canonicalize(large)
      const second = pool.canonicalize(large)
      expect(pool.stats()).toMatchObject({ busy: 1, queued: 1 })
      // a worker is idle, but not for a large body: the queue is full
      const refused = await rejectionOf(pool.canonicalize(large))
      expect(refused).toBeInstanceOf(ParserBusyError)
      // the small one goes straight to the idle worker
      const small = pool.canonicalize('customization: {extraKernelArgs: [a]}')
      expect(pool.stats()).toMatchObject({ busy: 2, queued: 1, rejected: 1 })
      expect((await small).id).toBe(canonicalize('customization: {extraKernelArgs: [a]}').id)
      const id = canonicalize(large).id
      expect((await first).id).toBe(id)
      expect((await second).id).toBe(id)
    } finally {
      await pool.close()
    }
  }, 60_000)

  test('a warming pool (the serving edge) answers at once: the JIT warm-up runs in slices between requests', async () => {
    const pool = new SchematicParserPool({ workers: 2, timeoutMs: 30_000, maxQueue: 4, warm: true })
    try {
      // sent before the workers are ready: answered while both are still warming up
      const got = await pool.canonicalize('{"customization":{"extraKernelArgs":["a"]}}')
      expect(got.id).toBe(canonicalize('{"customization":{"extraKernelArgs":["a"]}}').id)
      expect(pool.stats().warmed).toBe(0)
      // …and the warm-up still finishes
      while (pool.stats().warmed < 2) await Bun.sleep(20)
    } finally {
      await pool.close()
    }
  }, 60_000)

  test('close fails what is waiting or running with a 503, and later requests too', async () => {
    const pool = new SchematicParserPool({ workers: 1, timeoutMs: 30_000, maxQueue: 4 })
    await pool.canonicalize('{}')
    const running = rejectionOf(pool.canonicalize('{}'))
    const waiting = rejectionOf(pool.canonicalize('{}'))
    await pool.close()
    for (const err of [await running, await waiting, await rejectionOf(pool.canonicalize('{}'))]) {
      expect(err).toBeInstanceOf(ParserBusyError)
    }
  }, 60_000)
})

describe('SchematicService with the pool', () => {
  test('bodies are parsed by the pool; stored schematics too, unless they are small', async () => {
    const pool = new SchematicParserPool({ workers: 1, timeoutMs: 30_000, maxQueue: 4 })
    const calls = { canonicalize: 0, parse: 0 }
    const parser: SchematicParser = {
      canonicalize: (b) => (calls.canonicalize++, pool.canonicalize(b)),
      parse: (t) => (calls.parse++, pool.parse(t)),
      close: () => pool.close(),
    }
    const data = new Map<string, Uint8Array>()
    const store = { get: async (id: string) => data.get(id) ?? null, has: async (id: string) => data.has(id), put: async (id: string, b: Uint8Array) => void data.set(id, b) }
    const service = new SchematicService(store, silentLogger, parser)
    try {
      const small = await service.create('customization: {extraKernelArgs: [a]}')
      const options = Array.from({ length: 2000 }, (_, i) => `k${i}: {f: 1.0, t: 2024-01-01}`).join(', ')
      const large = await service.create(`overlay: {image: x, name: y, options: {${options}}}`)
      expect(calls).toEqual({ canonicalize: 2, parse: 0 })
      expect(large.canonical.length).toBeGreaterThan(INLINE_PARSE_CHARS)

      expect((await service.get(small.id))?.schematic.customization.extraKernelArgs).toEqual(['a'])
      expect(calls.parse).toBe(0)
      const got = await service.get(large.id)
      expect(calls.parse).toBe(1)
      expect(emitCanonical(got?.schematic as Schematic)).toBe(large.canonical)
      // a schematic never changes: every later read (each asset request) reuses that parse
      for (let i = 0; i < 5; i++) expect(await service.get(large.id)).toBe(got)
      expect(calls.parse).toBe(1)
    } finally {
      await service.close()
    }
    expect(await rejectionOf(pool.canonicalize('{}'))).toBeInstanceOf(ParserBusyError)
  }, 60_000)
})
