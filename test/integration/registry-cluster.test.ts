/**
 * Two edges (each with its own in-process builder) sharing one data directory and a real
 * redis-server: concurrent cold pulls of the same installer image on both nodes build each
 * architecture once and publish once in the cluster; both nodes serve the same signed index from
 * the shared store, signed with the one key generated into the data directory.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

const VERSION = 'v1.9.5'
let up: Upstream
let redis: TestRedis
let shared: string
let a: RunningEdge
let b: RunningEdge

beforeAll(async () => {
  ;[up, redis] = await Promise.all([sharedUpstream(), startRedis()])
  shared = await mkdtemp(join(tmpdir(), 'registry-cluster-'))
  const env = { ...up.env, FACTORY_DATA_DIR: shared, FACTORY_REDIS_URL: redis.url }
  a = await startEdge(env)
  b = await startEdge(env)
}, 180_000)
afterAll(async () => {
  await a?.stop()
  await b?.stop()
  await redis?.stop()
  await up?.stop()
  if (shared) await rm(shared, { recursive: true, force: true })
})

test('concurrent cold pulls on two nodes → one build per architecture, one publish, one key', async () => {
  const body = JSON.stringify({ customization: { extraKernelArgs: ['two-nodes'] } })
  const id = ((await (await fetch(`${a.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
  const pull = (edge: RunningEdge) => fetch(`${edge.url}/v2/installer/${id}/manifests/${VERSION}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })
  const responses = await Promise.all([...Array.from({ length: 6 }, () => pull(a)), ...Array.from({ length: 6 }, () => pull(b))])
  expect(responses.map((r) => r.status)).toEqual(Array(12).fill(200))
  expect(new Set(responses.map((r) => r.headers.get('docker-content-digest'))).size).toBe(1)
  const runs = a.ctx.builder!.manager.counters.imagerRuns + b.ctx.builder!.manager.counters.imagerRuns
  const published = a.ctx.registry.publisher.counters.published + b.ctx.registry.publisher.counters.published
  expect(runs).toBe(2)
  expect(published).toBe(1)
  const keys = await Promise.all([a, b].map(async (e) => (await fetch(`${e.url}/oci/cosign/signing-key.pub`)).text()))
  expect(keys[0]).toBe(keys[1]!)
}, 240_000)
