/**
 * One build per cache key: 20 concurrent cold requests for the same initramfs run the imager once
 * in one builder, and still once across two builder daemons sharing a real redis-server and the
 * data directory. A builder killed mid-build leaves nothing visible and the next request rebuilds.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { startBuilderDaemon, type RunningBuilder } from '../helpers/builder-daemon.ts'

const VERSION = 'v1.12.0'
let up: Upstream
let redis: TestRedis

beforeAll(async () => {
  ;[up, redis] = await Promise.all([sharedUpstream(), startRedis()])
}, 180_000)
afterAll(async () => {
  await redis?.stop()
  await up?.stop()
})

async function createSchematic(edge: RunningEdge, extensions: string[], args: string[] = []): Promise<string> {
  const body = JSON.stringify({ customization: { extraKernelArgs: args, systemExtensions: { officialExtensions: extensions } } })
  return ((await (await fetch(`${edge.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
}

const sha = (b: ArrayBuffer) => new Bun.CryptoHasher('sha256').update(new Uint8Array(b)).digest('hex')

describe('embedded builder', () => {
  let edge: RunningEdge
  beforeAll(async () => {
    edge = await startEdge(up.env)
  })
  afterAll(async () => edge?.stop())

  test('20 concurrent cold requests → one imager run, identical bytes', async () => {
    const id = await createSchematic(edge, ['siderolabs/amd-ucode', 'siderolabs/gvisor'], ['one-run'])
    const url = `${edge.url}/image/${id}/${VERSION}/initramfs-amd64.xz`
    const bodies = await Promise.all(Array.from({ length: 20 }, async () => sha(await (await fetch(url)).arrayBuffer())))
    expect(new Set(bodies).size).toBe(1)
    expect(edge.ctx.builder!.manager.counters.imagerRuns).toBe(1)
    const meta = await edge.ctx.builder!.store.lookup((await edge.ctx.assets.plan(id, VERSION, 'initramfs-amd64.xz')).job.key)
    expect(meta?.sha256).toBe(bodies[0]!)
  }, 120_000)
})

describe('two builder daemons sharing redis-server', () => {
  test('20 concurrent cold requests split across both → one imager run in the cluster', async () => {
    const planner = await startEdge(up.env)
    const env = { ...up.env, FACTORY_DATA_DIR: planner.dataDir, FACTORY_REDIS_URL: redis.url, FACTORY_BUILD_LOCK_TTL: '3s' }
    const [a, b] = await Promise.all([startBuilderDaemon(env), startBuilderDaemon(env)])
    try {
      const id = await createSchematic(planner, ['siderolabs/amd-ucode', 'siderolabs/gvisor'], ['cluster'])
      const request = { schematic: id, version: VERSION, path: 'initramfs-amd64.xz' }
      const post = async (daemon: RunningBuilder) => {
        const res = await daemon.build(request)
        expect(res.status).toBe(200)
        return sha(await res.arrayBuffer())
      }
      const bodies = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 ? a : b)))
      expect(new Set(bodies).size).toBe(1)
      const [sa, sb] = await Promise.all([a.stats(), b.stats()])
      expect(sa.imagerRuns + sb.imagerRuns).toBe(1)
      expect(sa.peerBuilds + sb.peerBuilds).toBe(1) // the loser waited for the winner
      const metrics = (await a.metrics()) + (await b.metrics())
      const runs = [...metrics.matchAll(/^image_factory_imager_runs_total (\d+)$/gm)].map((m) => Number(m[1]))
      expect(runs.reduce((x, y) => x + y, 0)).toBe(1)
    } finally {
      await Promise.all([a.kill(), b.kill()])
      await planner.stop()
    }
  }, 120_000)

  test('killing the builder mid-build leaves no partial asset; the next request rebuilds', async () => {
    const planner = await startEdge(up.env)
    const env = { ...up.env, FACTORY_DATA_DIR: planner.dataDir, FACTORY_REDIS_URL: redis.url, FACTORY_BUILD_LOCK_TTL: '2s' }
    const first = await startBuilderDaemon(env)
    try {
      const id = await createSchematic(planner, ['siderolabs/amd-ucode', 'siderolabs/gvisor', 'siderolabs/gasket-driver'], ['killed'])
      const { job } = await planner.ctx.assets.plan(id, VERSION, 'initramfs-amd64.xz')
      const request = { schematic: id, version: VERSION, path: 'initramfs-amd64.xz' }
      const res = await first.build(request)
      const reader = res.body!.getReader()
      await reader.read() // the first bytes are out: the build is running
      await first.kill('SIGKILL')
      await reader.read().catch(() => {})
      const assets = join(planner.dataDir, 'assets')
      expect(existsSync(join(assets, job.key))).toBe(false)
      expect(existsSync(join(assets, `${job.key}.json`))).toBe(false)
      expect(existsSync(join(planner.dataDir, 'by-url', id))).toBe(false)
      expect(readdirSync(assets).filter((f) => f.startsWith(job.key))).toEqual([])

      const second = await startBuilderDaemon(env)
      try {
        const again = await second.build(request)
        expect(again.status).toBe(200)
        const body = await again.arrayBuffer()
        expect(body.byteLength).toBeGreaterThan(0)
        expect((await second.stats()).imagerRuns).toBe(1)
        expect(existsSync(join(assets, job.key))).toBe(true)
      } finally {
        await second.kill()
      }
    } finally {
      await planner.stop()
    }
  }, 120_000)
})
