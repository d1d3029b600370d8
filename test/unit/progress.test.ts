/**
 * The build progress model (builder/progress.ts): what a subscriber sees for a build on this node
 * and on another node, late subscribers, and failure reasons that never carry internal detail.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProgressHub, publicFailureReason, type ProgressEvent, type ProgressTransport, type Stamped } from '../../builder/progress.ts'
import { BuildInputError } from '../../builder/job.ts'
import { NotImplementedError, UpstreamUnavailableError } from '../../src/errors.ts'

const KEY = 'a'.repeat(64)
const SHA = 'b'.repeat(64)
const hubs: ProgressHub[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close()
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

function hub(transport?: ProgressTransport): ProgressHub {
  const h = new ProgressHub({ transport, sampleMs: 10, heartbeatMs: 10_000, retainMs: 200 })
  hubs.push(h)
  return h
}

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'progress-'))
  dirs.push(dir)
  const path = join(dir, 'out')
  await writeFile(path, '')
  return path
}

/** An in-memory stand-in for Redis: last state per key plus a broadcast to the other hubs. */
class Bus {
  readonly lastByKey = new Map<string, Stamped>()
  readonly members = new Set<(key: string, e: Stamped) => void>()
  transport(): ProgressTransport {
    let mine: ((key: string, e: Stamped) => void) | undefined
    return {
      publish: async (key, entry) => {
        this.lastByKey.set(key, entry)
        for (const m of this.members) if (m !== mine) m(key, entry)
      },
      last: async (key) => this.lastByKey.get(key) ?? null,
      listen: async (on) => {
        mine = on
        this.members.add(on)
      },
      close: async () => {
        if (mine) this.members.delete(mine)
      },
    }
  }
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await Bun.sleep(5)
  }
}

describe('a build on this node', () => {
  test('queued → building with growing bytes → publishing → done', async () => {
    const h = hub()
    const seen: ProgressEvent[] = []
    await h.subscribe(KEY, (e) => seen.push(e))
    const path = await tempFile()
    h.queued(KEY, 'slot')
    let finish!: () => void
    const build = new Promise<void>((r) => (finish = r))
    const tracked = h.track(KEY, build, async () => ({ size: 3000, sha256: SHA }))
    const watch = h.watchFile(KEY, path)
    for (let i = 0; i < 3; i++) {
      await appendFile(path, new Uint8Array(1000))
      await until(() => seen.some((e) => e.state === 'building' && e.bytes === (i + 1) * 1000))
    }
    watch.publishing()
    watch.stop()
    finish()
    await tracked
    expect(seen[0]).toEqual({ state: 'queued', reason: 'slot' })
    expect(seen[1]).toEqual({ state: 'building', phase: 'preparing', bytes: 0 })
    const bytes = seen.filter((e) => e.state === 'building').map((e) => (e.state === 'building' ? e.bytes : -1))
    expect(bytes).toEqual([...bytes].sort((a, b) => a - b))
    expect(seen.at(-2)).toEqual({ state: 'building', phase: 'publishing', bytes: 3000 })
    expect(seen.at(-1)).toEqual({ state: 'done', size: 3000, sha256: SHA })
  })

  test('a late subscriber gets the outcome while it is retained, then nothing', async () => {
    const h = hub()
    await h.track(KEY, Promise.resolve(), async () => ({ size: 1, sha256: SHA }))
    const late: ProgressEvent[] = []
    await h.subscribe(KEY, (e) => late.push(e))
    expect(late).toEqual([{ state: 'done', size: 1, sha256: SHA }])
    await Bun.sleep(300)
    const later: ProgressEvent[] = []
    await h.subscribe(KEY, (e) => later.push(e))
    expect(later).toEqual([])
  })

  test('a failed build reports a reason without internal detail and still rejects', async () => {
    const h = hub()
    const seen: ProgressEvent[] = []
    await h.subscribe(KEY, (e) => seen.push(e))
    const err = new Error('mksquashfs: /var/lib/factory/work/abc/rootfs: No space left on device')
    await expect(h.track(KEY, Promise.reject(err), async () => null)).rejects.toBe(err)
    expect(seen).toEqual([{ state: 'failed', reason: 'build failed (see the factory log)' }])
  })

  test('unsubscribed listeners get nothing more', async () => {
    const h = hub()
    const seen: ProgressEvent[] = []
    const off = await h.subscribe(KEY, (e) => seen.push(e))
    off()
    h.queued(KEY, 'slot')
    expect(seen).toEqual([])
  })
})

describe('failure reasons a client may see', () => {
  test('input errors and typed 4xx/5xx keep their first line; anything else is a fixed line', () => {
    expect(publicFailureReason(new BuildInputError('extension siderolabs/x is not compatible with v1.7.6\nstack'))).toBe('extension siderolabs/x is not compatible with v1.7.6')
    expect(publicFailureReason(new NotImplementedError('iso assets are not built by this factory yet'))).toBe('iso assets are not built by this factory yet')
    expect(publicFailureReason(new UpstreamUnavailableError('builder is unreachable'))).toBe('builder is unreachable')
    expect(publicFailureReason(new Error('open /data/tmp/x: ENOENT'))).toBe('build failed (see the factory log)')
    expect(publicFailureReason('weird')).toBe('build failed (see the factory log)')
  })
})

describe('builds on another node (shared transport)', () => {
  test("the holder's states reach the other node; a waiter's queued state stays local", async () => {
    const bus = new Bus()
    const builder = hub(bus.transport())
    const waiter = hub(bus.transport())
    const atWaiter: ProgressEvent[] = []
    await waiter.subscribe(KEY, (e) => atWaiter.push(e))
    const atBuilder: ProgressEvent[] = []
    await builder.subscribe(KEY, (e) => atBuilder.push(e))

    builder.queued(KEY, 'slot') // local to the builder
    waiter.queued(KEY, 'lock') // local to the waiter
    const path = await tempFile()
    const watch = builder.watchFile(KEY, path)
    await appendFile(path, new Uint8Array(500))
    await until(() => atWaiter.some((e) => e.state === 'building' && e.bytes === 500))
    watch.stop()
    await builder.track(KEY, Promise.resolve(), async () => ({ size: 500, sha256: SHA }))
    await until(() => atWaiter.some((e) => e.state === 'done'))

    expect(atWaiter.filter((e) => e.state === 'queued')).toEqual([{ state: 'queued', reason: 'lock' }])
    expect(atBuilder.filter((e) => e.state === 'queued')).toEqual([{ state: 'queued', reason: 'slot' }])
    expect(atWaiter.at(-1)).toEqual({ state: 'done', size: 500, sha256: SHA })
    expect(bus.lastByKey.get(KEY)?.event).toEqual({ state: 'done', size: 500, sha256: SHA })
  })

  test('a subscriber on a node that never saw the build starts from the shared state', async () => {
    const bus = new Bus()
    const builder = hub(bus.transport())
    const path = await tempFile()
    await appendFile(path, new Uint8Array(42))
    const watch = builder.watchFile(KEY, path)
    const other = hub(bus.transport())
    const seen: ProgressEvent[] = []
    await other.subscribe(KEY, (e) => seen.push(e))
    watch.stop()
    expect(seen[0]).toEqual({ state: 'building', phase: 'writing', bytes: 42 })
  })

  test("a waiter's outcome is not shared (only the node that built publishes it)", async () => {
    const bus = new Bus()
    const waiter = hub(bus.transport())
    await waiter.track(KEY, Promise.reject(new Error('gave up')), async () => null).catch(() => {})
    expect(bus.lastByKey.has(KEY)).toBe(false)
  })
})
