/**
 * Fuzzing a real edge (issue 11): 10,000 generated schematic bodies and 5,000 generated asset and
 * PXE paths, sent with bounded concurrency. No answer may be a 5xx (501 for kinds this factory
 * does not build yet is a valid answer), the edge must still answer /healthz at the end, and every
 * answer must come within a generous ceiling. Schematic answers are also checked against the
 * synchronous parser (same status, same reason, same ID), and cheap valid asset paths must be 200.
 *
 * Seeded: the seed is printed; `FUZZ_SEED=<seed> bun test test/security/fuzz.test.ts` replays a
 * run, and `FUZZ_CASE=<body|path>:<index>` runs a single case of it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { InvalidInputError } from '../../src/errors.ts'
import { canonicalize } from '../../src/schematic/index.ts'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { bodyCase, caseRng, pathCase, validAssetPaths, VALID_VERSION, type BodyCase, type PathCase } from '../helpers/fuzz-gen.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0
const ONLY = /^(body|path):(\d+)$/.exec(process.env.FUZZ_CASE ?? '')
const BODIES = 10_000
const PATHS = 5_000
const CONCURRENCY = 8
const BODY_LIMIT = 1024 * 1024
/** Generous: an answer on a busy 2-core machine takes milliseconds; a blocked loop takes seconds. */
const CEILING_MS = 5_000
/** Bodies near the 1 MiB limit legitimately take a worker up to about a second when idle. */
const LARGE_CEILING_MS = 20_000
/** The synchronous cross-check is skipped for large bodies (it would double the run's CPU time). */
const CROSS_CHECK_MAX = 64 * 1024

let up: Upstream
let edge: RunningEdge
const ids: string[] = []
/** Thousands of new schematics are stored, each write fsynced: on a RAM disk when there is one. */
const ramDir = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/factory-fuzz-') : undefined

beforeAll(async () => {
  console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`)
  up = await startUpstream(['v1.12.0'])
  // the parse budget is not under test here (a loaded machine must not turn a body into a 400)
  edge = await startEdge({ ...up.env, FACTORY_SCHEMATIC_PARSE_TIMEOUT: '60s', ...(ramDir ? { FACTORY_DATA_DIR: ramDir } : {}) })
  for (const body of ['{}', 'customization: {extraKernelArgs: [console=ttyS0, fuzz=1]}']) {
    const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body })
    ids.push(((await res.json()) as { id: string }).id)
  }
  // build the few cheap valid assets once, so the fuzzed requests for them are store hits
  await Promise.all(
    ids.flatMap((id) =>
      validAssetPaths().map(async (p) => {
        const res = await fetch(`${edge.url}/image/${id}/${VALID_VERSION}/${p}`)
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`warm-up ${p}: ${res.status}`)
      }),
    ),
  )
}, 300_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
  if (ramDir) rmSync(ramDir, { recursive: true, force: true })
})

interface Failure {
  what: string
  detail: string
}

/** Runs `n` cases with at most CONCURRENCY in flight; collects failures instead of stopping. */
async function run(n: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await one(next++)
    }),
  )
}

/** What the synchronous parser says, as the edge would send it (edge/http/errors.ts oneLine). */
function expected(body: string | Uint8Array): { status: 201; id: string } | { status: 400; text: string } {
  try {
    return { status: 201, id: canonicalize(body).id }
  } catch (err) {
    if (err instanceof InvalidInputError) return { status: 400, text: `${(err.message.split('\n')[0] ?? '').trim().slice(0, 1000)}\n` }
    throw err
  }
}

const show = (body: string | Uint8Array): string => (typeof body === 'string' ? JSON.stringify(body.slice(0, 160)) : `<${body.length} bytes>`)

describe('fuzz', () => {
  test('schematic bodies and asset/PXE paths: no 5xx, no crash, every answer in time', async () => {
    const failures: Failure[] = []
    const statuses = new Map<string, number>()
    const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
    const kindMs = new Map<string, number>()
    let slowest = { ms: 0, what: '' }
    const started = performance.now()

    const bodyIndexes = ONLY ? (ONLY[1] === 'body' ? [Number(ONLY[2])] : []) : Array.from({ length: BODIES }, (_, i) => i)
    await run(bodyIndexes.length, async (k) => {
      const i = bodyIndexes[k] as number
      const c: BodyCase = bodyCase(caseRng(SEED, i), BODY_LIMIT)
      // the bytes that are sent (a string with a lone surrogate is sent with U+FFFD in its place)
      const bytes = typeof c.body === 'string' ? new TextEncoder().encode(c.body) : c.body
      const size = bytes.length
      const t = performance.now()
      let status = 0
      let text = ''
      try {
        const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: bytes })
        status = res.status
        text = await res.text()
      } catch (err) {
        failures.push({ what: `body:${i} (${c.kind})`, detail: `request failed: ${String(err)} — ${show(c.body)}` })
        return
      }
      const ms = performance.now() - t
      count(`POST ${c.kind} ${status}`)
      kindMs.set(c.kind, (kindMs.get(c.kind) ?? 0) + ms)
      if (ms > slowest.ms) slowest = { ms, what: `body:${i} (${c.kind}, ${size} bytes)` }
      const fail = (detail: string): void => {
        failures.push({ what: `body:${i} (${c.kind}, ${size} bytes)`, detail: `${detail} — ${show(c.body)}` })
      }
      if (status >= 500) return fail(`${status} ${text.trim()}`)
      if (ms > (size > CROSS_CHECK_MAX ? LARGE_CEILING_MS : CEILING_MS)) fail(`answered in ${ms.toFixed(0)} ms`)
      if (size > BODY_LIMIT) {
        if (status !== 413) fail(`expected 413, got ${status}`)
        return
      }
      if (status !== 201 && status !== 400) return fail(`unexpected ${status} ${text.trim()}`)
      if (text.trimEnd().includes('\n')) fail('reason spans lines')
      if (size > CROSS_CHECK_MAX) return
      const want = expected(bytes)
      if (want.status !== status) return fail(`status ${status}, the synchronous parser says ${want.status}: ${text.trim().slice(0, 200)} / ${'text' in want ? want.text : want.id}`)
      if (want.status === 201 && (JSON.parse(text) as { id: string }).id !== want.id) fail('ID differs from the synchronous parser')
      if (want.status === 400 && text !== want.text) fail(`reason differs: ${JSON.stringify(text.slice(0, 200))} vs ${JSON.stringify(want.text.slice(0, 200))}`)
    })
    const bodiesDone = performance.now()

    const pathIndexes = ONLY ? (ONLY[1] === 'path' ? [Number(ONLY[2])] : []) : Array.from({ length: PATHS }, (_, i) => i)
    await run(pathIndexes.length, async (k) => {
      const i = pathIndexes[k] as number
      const c: PathCase = pathCase(caseRng(SEED ^ 0x5a5a5a5a, i), ids)
      const t = performance.now()
      let status = 0
      let text = ''
      try {
        const res = await fetch(`${edge.url}${c.path}`, { method: c.method })
        status = res.status
        text = c.method === 'HEAD' || status === 200 ? '' : await res.text()
        if (status === 200) await res.arrayBuffer()
      } catch (err) {
        failures.push({ what: `path:${i}`, detail: `${c.method} ${c.path}: request failed: ${String(err)}` })
        return
      }
      const ms = performance.now() - t
      count(`${c.method} ${c.path.split('/')[1]} ${status}`)
      if (ms > slowest.ms) slowest = { ms, what: `path:${i} ${c.method} ${c.path}` }
      const fail = (detail: string): void => {
        failures.push({ what: `path:${i}`, detail: `${c.method} ${c.path.slice(0, 200)}: ${detail}` })
      }
      if (status >= 500 && status !== 501) fail(`${status} ${text.trim()}`)
      if (ms > CEILING_MS) fail(`answered in ${ms.toFixed(0)} ms`)
      if (c.valid && status !== 200) fail(`a valid request got ${status} ${text.trim()}`)
    })
    const pathsDone = performance.now()

    const health = await fetch(`${edge.url}/healthz`)
    expect(health.status).toBe(200)

    console.log(`fuzz seed ${SEED}: ${bodyIndexes.length} bodies in ${((bodiesDone - started) / 1000).toFixed(1)} s, ${pathIndexes.length} paths in ${((pathsDone - bodiesDone) / 1000).toFixed(1)} s; slowest ${slowest.ms.toFixed(0)} ms (${slowest.what})`)
    console.log(`time per body kind (sum of answer times): ${[...kindMs.entries()].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`)
    console.log([...statuses.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  ${k}: ${v}`).join('\n'))
    for (const f of failures.slice(0, 30)) console.log(`FAIL ${f.what}: ${f.detail}`)
    if (failures.length > 0) console.log(`${failures.length} failures; replay one with FUZZ_SEED=${SEED} FUZZ_CASE=<body|path>:<index>`)
    expect(failures.length).toBe(0)
  }, 600_000)
})
