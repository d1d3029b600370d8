/**
 * The builder daemon's job API only builds what the edge would have asked for: a job whose key,
 * URL, schematic text or dependencies were tampered with is refused and nothing is published.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startUpstream, type Upstream } from '../helpers/release.ts'
import { startBuilderDaemon, type RunningBuilder } from '../helpers/builder-daemon.ts'
import type { BuildJob } from '../../src/asset/job.ts'

let up: Upstream
let planner: RunningEdge
let daemon: RunningBuilder
let job: BuildJob

beforeAll(async () => {
  up = await startUpstream(['v1.12.0'])
  planner = await startEdge(up.env)
  daemon = await startBuilderDaemon({ ...up.env, FACTORY_DATA_DIR: planner.dataDir })
  const body = '{"customization":{"extraKernelArgs":["quiet"]}}'
  const id = ((await (await fetch(`${planner.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
  job = (await planner.ctx.assets.plan(id, 'v1.12.0', 'cmdline-metal-amd64')).job
}, 180_000)
afterAll(async () => {
  await daemon?.kill()
  await planner?.stop()
  await up?.stop()
})

const post = (j: unknown) => fetch(`${daemon.url}/v1/build`, { method: 'POST', body: JSON.stringify(j), headers: { 'content-type': 'application/json' } })

describe('builder job API', () => {
  test.each([
    ['a key that is not the profile\'s cache key', (j: BuildJob) => ({ ...j, key: 'f'.repeat(64) })],
    ['extra kernel args smuggled into the profile', (j: BuildJob) => ({ ...j, profile: { ...j.profile, customization: { extraKernelArgs: ['init=/bin/sh'] } } })],
    ['a URL under another schematic', (j: BuildJob) => ({ ...j, urlParts: ['0'.repeat(64), j.urlParts[1], j.urlParts[2]] })],
    ['schematic text that does not hash to its ID', (j: BuildJob) => ({ ...j, schematic: { ...j.schematic, canonical: 'customization: {}\n' } })],
    ['a path-like architecture', (j: BuildJob) => ({ ...j, dependencies: [{ kind: 'extension', arch: '../../x', digest: `sha256:${'a'.repeat(64)}`, ref: 'x/y:1', path: 'p' }] })],
    ['a traversal in the URL', (j: BuildJob) => ({ ...j, urlParts: [j.urlParts[0], j.urlParts[1], '..'] })],
    ['not JSON', () => 'nope'],
  ])('%s → 400, nothing built', async (_name, tamper) => {
    const before = (await daemon.stats()).imagerRuns
    const res = await post(tamper(structuredClone(job)))
    expect(res.status).toBe(400)
    expect((await res.text()).trimEnd().split('\n')).toHaveLength(1)
    expect((await daemon.stats()).imagerRuns).toBe(before)
    expect(existsSync(join(planner.dataDir, 'assets', 'f'.repeat(64)))).toBe(false)
  })

  test('the genuine job builds', async () => {
    const res = await post(job)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('quiet')
  })
})
