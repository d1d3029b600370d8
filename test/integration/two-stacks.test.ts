/**
 * Scale-out with `npm start`: two stacks on one data directory and one redis-server. Each keeps
 * its own builder (runtime files are node-local, never in the shared data directory), a cold asset
 * requested through both is built once in the cluster and both serve identical bytes, and a third
 * stack pointed at a live stack's runtime directory refuses to start instead of taking it over.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { startStack, type RunningStack } from '../helpers/stack.ts'

setDefaultTimeout(120_000)

const VERSION = 'v1.12.0'
let up: Upstream
let redis: TestRedis
let data: string
let a: RunningStack
let b: RunningStack

interface Status {
  node: string
  builder: { node: string; instance: string; listen: string; imagerRuns: number; peerBuilds: number } | null
}
const status = async (s: RunningStack) => (await (await fetch(`${s.url}/status`)).json()) as Status
const sha = (b: ArrayBuffer) => new Bun.CryptoHasher('sha256').update(new Uint8Array(b)).digest('hex')

beforeAll(async () => {
  ;[up, redis] = await Promise.all([sharedUpstream(), startRedis()])
  data = await mkdtemp(join(tmpdir(), 'factory-shared-'))
  const env = { ...up.env, FACTORY_REDIS_URL: redis.url, FACTORY_BUILD_LOCK_TTL: '5s' }
  // one after the other: both stacks create the shared directory layout and the job API secret
  a = await startStack(env, { dataDir: data })
  b = await startStack(env, { dataDir: data })
}, 300_000)

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await redis?.stop()
  await up?.stop()
  if (data) await rm(data, { recursive: true, force: true })
})

describe('two stacks on one data directory', () => {
  test('each stack reports its own builder, listening in its own runtime directory', async () => {
    const [sa, sb] = await Promise.all([status(a), status(b)])
    expect(sa.builder).not.toBeNull()
    expect(sb.builder).not.toBeNull()
    expect(sa.builder!.instance).not.toBe(sb.builder!.instance)
    expect(sa.builder!.node).not.toBe(sb.builder!.node)
    expect(sa.builder!.listen).toBe(`unix:${join(a.runtimeDir, 'builder.sock')}`)
    expect(sb.builder!.listen).toBe(`unix:${join(b.runtimeDir, 'builder.sock')}`)
    // asking again gives the same builder: nothing took the socket over
    expect((await status(a)).builder!.instance).toBe(sa.builder!.instance)
  })

  test('20 concurrent cold requests split across both stacks → one build, identical bytes', async () => {
    const body = JSON.stringify({ customization: { extraKernelArgs: ['two-stacks'], systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/gvisor'] } } })
    const id = ((await (await fetch(`${a.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
    const before = await Promise.all([status(a), status(b)])
    const runs0 = before.reduce((n, s) => n + (s.builder?.imagerRuns ?? 0), 0)
    const bodies = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await fetch(`${(i % 2 ? a : b).url}/image/${id}/${VERSION}/initramfs-amd64.xz`)
        expect(res.status).toBe(200)
        return sha(await res.arrayBuffer())
      }),
    )
    expect(new Set(bodies).size).toBe(1)
    const after = await Promise.all([status(a), status(b)])
    expect(after.reduce((n, s) => n + (s.builder?.imagerRuns ?? 0), 0) - runs0).toBe(1)
  })

  test("a stack pointed at a live stack's runtime directory refuses to start", async () => {
    let err: unknown
    try {
      const c = await startStack({ ...up.env, FACTORY_REDIS_URL: redis.url }, { dataDir: data, runtimeDir: a.runtimeDir, readyTimeoutMs: 30_000 })
      await c.stop()
    } catch (e) {
      err = e
    }
    expect(String(err)).toContain('another stack')
    // and the first stack still has its builder
    expect((await status(a)).builder).not.toBeNull()
  })
})
