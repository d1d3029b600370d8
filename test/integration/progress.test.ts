/**
 * Build progress over Server-Sent Events (GET /progress/…) against the stand-in release: a cold
 * initramfs build reads queued → building (bytes growing) → done with the sha256 of the file a
 * download gets — with the builder in the edge, with the builder as a separate daemon, and with
 * two daemons sharing redis-server where the node asked is not the one building, and through
 * the `npm start` stack (Caddy → edge → builder daemon on a unix socket).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { startBuilderDaemon } from '../helpers/builder-daemon.ts'
import { readSse, type SseEvent } from '../helpers/sse.ts'
import { startStack } from '../helpers/stack.ts'

const VERSION = 'v1.12.0'
const ASSET = 'initramfs-amd64.xz'
const EXTENSIONS = ['siderolabs/amd-ucode', 'siderolabs/gasket-driver', 'siderolabs/gvisor', 'siderolabs/intel-ucode', 'siderolabs/realtek-firmware']
let up: Upstream
let redis: TestRedis

beforeAll(async () => {
  ;[up, redis] = await Promise.all([sharedUpstream(), startRedis()])
}, 180_000)
afterAll(async () => {
  await redis?.stop()
  await up?.stop()
})

const sha256 = (b: ArrayBuffer) => new Bun.CryptoHasher('sha256').update(new Uint8Array(b)).digest('hex')

async function createSchematic(edge: { url: string }, arg: string): Promise<string> {
  const body = JSON.stringify({ customization: { extraKernelArgs: [arg], systemExtensions: { officialExtensions: EXTENSIONS } } })
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

async function progress(edge: { url: string }, id: string, path = ASSET): Promise<SseEvent[]> {
  const res = await fetch(`${edge.url}/progress/${id}/${VERSION}/${path}`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  expect(res.headers.get('x-request-id')).toBeTruthy()
  return readSse(res, { timeoutMs: 150_000 })
}

function buildingBytes(events: SseEvent[]): number[] {
  return events.filter((e) => e.event === 'building').map((e) => Number(e.data.bytes))
}

/** queued → building… (bytes never shrink, and grow) → done, and nothing after done. */
function expectColdSequence(events: SseEvent[]): void {
  const names = events.map((e) => e.event)
  expect(names[0]).toBe('queued')
  expect(names.at(-1)).toBe('done')
  expect(names.filter((n) => n === 'done')).toHaveLength(1)
  const firstBuilding = names.indexOf('building')
  expect(firstBuilding).toBeGreaterThan(0)
  expect(names.slice(firstBuilding, -1).every((n) => n === 'building')).toBe(true)
  const bytes = buildingBytes(events)
  expect(bytes).toEqual([...bytes].sort((a, b) => a - b))
  expect(new Set(bytes).size).toBeGreaterThanOrEqual(2)
  for (const e of events.filter((x) => x.event === 'building')) expect(['preparing', 'writing', 'publishing']).toContain(String(e.data.phase))
}

async function expectDoneMatchesDownload(edge: { url: string }, id: string, events: SseEvent[]): Promise<void> {
  const done = events.at(-1)!
  const body = await (await fetch(`${edge.url}/image/${id}/${VERSION}/${ASSET}`)).arrayBuffer()
  expect(done.data).toEqual({ size: body.byteLength, sha256: sha256(body) })
}

describe('builder in the edge process', () => {
  let edge: RunningEdge
  beforeAll(async () => {
    edge = await startEdge(up.env)
  })
  afterAll(async () => edge?.stop())

  test('a cold build: queued → building (bytes growing) → done with the download\'s sha256', async () => {
    const id = await createSchematic(edge, 'progress=embedded')
    const events = await progress(edge, id)
    console.info(`embedded: ${events.map((e) => `${e.event}${e.event === 'building' ? `(${String(e.data.bytes)})` : ''}@${e.atMs}ms`).join(' ')}`)
    expectColdSequence(events)
    await expectDoneMatchesDownload(edge, id, events)
    // a cached asset answers done at once
    const again = await progress(edge, id)
    expect(again.map((e) => e.event)).toEqual(['done'])
    expect(again[0]!.data).toEqual(events.at(-1)!.data)
  }, 180_000)

  test('bad input is answered like /image, before any event', async () => {
    const id = await createSchematic(edge, 'progress=errors')
    const cases: [string, number, string][] = [
      [`/progress/${'a'.repeat(64)}/${VERSION}/${ASSET}`, 404, `schematic ID "${'a'.repeat(64)}" not found`],
      [`/progress/${id}/v1.99.0/${ASSET}`, 404, 'version 1.99.0 is not available'],
      [`/progress/${id}/${VERSION}/metal-amd64.ssd`, 400, 'error parsing profile from path: invalid profile path: "metal-amd64.ssd"'],
      [`/progress/${id}/${VERSION}/metal-amd64.iso`, 501, 'iso assets are not built by this factory yet'],
    ]
    for (const [path, status, reason] of cases) {
      const res = await fetch(`${edge.url}${path}`)
      expect(`${path} ${res.status}`).toBe(`${path} ${status}`)
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect((await res.text()).trim()).toBe(reason)
    }
    const head = await fetch(`${edge.url}/progress/${id}/${VERSION}/${ASSET}`, { method: 'HEAD' })
    expect(head.status).toBe(405)
  }, 60_000)
})

describe('builder as a separate daemon', () => {
  test('a cold build through FACTORY_BUILDER_URL: queued → building → done', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'progress-daemon-'))
    const daemon = await startBuilderDaemon({ ...up.env, FACTORY_DATA_DIR: dataDir })
    let edge: RunningEdge | undefined
    try {
      edge = await startEdge({ ...up.env, FACTORY_DATA_DIR: dataDir, FACTORY_BUILDER_URL: daemon.url })
      const id = await createSchematic(edge, 'progress=daemon')
      const events = await progress(edge, id)
      console.info(`daemon: ${events.map((e) => `${e.event}${e.event === 'building' ? `(${String(e.data.bytes)})` : ''}@${e.atMs}ms`).join(' ')}`)
      expectColdSequence(events)
      await expectDoneMatchesDownload(edge, id, events)
      expect((await daemon.stats()).imagerRuns).toBe(1)
    } finally {
      await edge?.stop()
      await daemon.kill()
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})

describe('two builder daemons sharing redis-server', () => {
  test('the node asked for progress reports the build another node runs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'progress-cluster-'))
    const env = { ...up.env, FACTORY_DATA_DIR: dataDir, FACTORY_REDIS_URL: redis.url, FACTORY_BUILD_LOCK_TTL: '3s' }
    const [asked, building] = await Promise.all([startBuilderDaemon(env), startBuilderDaemon(env)])
    let edge: RunningEdge | undefined
    try {
      edge = await startEdge({ ...env, FACTORY_BUILDER_URL: asked.url })
      const id = await createSchematic(edge, 'progress=cluster')
      const { job } = await edge.ctx.assets.plan(id, VERSION, ASSET)
      // the other node starts the build; wait until it reports it running
      const direct = building.build({ schematic: id, version: VERSION, path: ASSET })
      const watch = await fetch(`${building.url}/v1/progress/${job.key}`, { headers: { authorization: `Bearer ${building.secret}` } })
      expect(watch.status).toBe(200)
      const reader = watch.body!.pipeThrough(new TextDecoderStream()).getReader()
      for (let text = ''; !text.includes('"building"'); ) {
        const r = await reader.read()
        if (r.done) throw new Error(`the building node never reported the build: ${text}`)
        text += r.value
      }
      await reader.cancel()

      const events = await progress(edge, id)
      console.info(`cluster: ${events.map((e) => `${e.event}${e.event === 'building' ? `(${String(e.data.bytes)})` : ''}@${e.atMs}ms`).join(' ')}`)
      const directBody = await (await direct).arrayBuffer()
      expect(events.at(-1)?.event).toBe('done')
      expect(events.at(-1)?.data).toEqual({ size: directBody.byteLength, sha256: sha256(directBody) })
      // the building node's progress came through Redis: the asked node never ran the imager
      expect(events.some((e) => e.event === 'building')).toBe(true)
      const bytes = buildingBytes(events)
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b))
      const [sa, sb] = await Promise.all([asked.stats(), building.stats()])
      expect(sa.imagerRuns).toBe(0)
      expect(sb.imagerRuns).toBe(1)
    } finally {
      await edge?.stop()
      await Promise.all([asked.kill(), building.kill()])
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})

describe('the npm start stack', () => {
  test('progress streams through Caddy from the builder daemon on its unix socket', async () => {
    const stack = await startStack(up.env)
    try {
      const id = await createSchematic(stack, 'progress=stack')
      const events = await progress(stack, id)
      console.info(`stack: ${events.map((e) => `${e.event}${e.event === 'building' ? `(${String(e.data.bytes)})` : ''}@${e.atMs}ms`).join(' ')}`)
      expectColdSequence(events)
      await expectDoneMatchesDownload(stack, id, events)
      // the landing page reads the daemon's cache size (the edge does not index the daemon's writes)
      const landing = await (await fetch(`${stack.url}/`)).text()
      expect(landing).toContain('<dd>separate daemon</dd>')
      expect(landing).toMatch(/<dt>Asset cache<\/dt><dd>1\.\d MiB of 20 GiB<\/dd>/)
    } finally {
      await stack.stop()
    }
  }, 180_000)
})
