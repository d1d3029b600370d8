import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, existsSync } from 'node:fs'
import { appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BuildManager, type AssetResult } from '../../builder/manager.ts'
import { LocalLock } from '../../builder/lock.ts'
import type { BuildJob, RunBuild } from '../../builder/job.ts'
import { AssetStore } from '../../src/store/asset-store.ts'
import { silentLogger } from '../../src/log.ts'

const KEY = 'a'.repeat(64)
const job = (key = KEY): BuildJob => ({
  key,
  contentType: 'application/octet-stream',
  urlParts: ['b'.repeat(64), 'v1.10.0', 'initramfs-amd64.xz'],
  version: 'v1.10.0',
  schematic: { id: 'b'.repeat(64), canonical: 'customization: {}\n' },
  profile: {},
  dependencies: [],
})

/** A build that appends `chunks` pieces of data with a pause between them. */
function slowRun(chunks: number, pauseMs: number, counter: { runs: number }, failAt = -1): RunBuild {
  return async (_job, out) => {
    counter.runs++
    for (let i = 0; i < chunks; i++) {
      if (i === failAt) throw new Error('imager exploded')
      await appendFile(out, `chunk-${i}-${'x'.repeat(1000)}\n`)
      await Bun.sleep(pauseMs)
    }
  }
}

async function readAll(r: AssetResult): Promise<string> {
  if (r.kind === 'file') return Bun.file(r.path).text()
  return new Response(r.stream).text()
}

function setup(run: RunBuild, maxBytes = 1e9) {
  const dir = mkdtempSync(join(tmpdir(), 'assets-'))
  const store = new AssetStore(dir, { maxBytes, log: silentLogger })
  const manager = new BuildManager({ store, lock: new LocalLock(), run, concurrency: 2, timeoutMs: 10_000, log: silentLogger })
  return { dir, store, manager }
}

describe('BuildManager', () => {
  test('20 concurrent cold requests → one build, identical bytes, streamed before completion', async () => {
    const counter = { runs: 0 }
    const { manager, store, dir } = setup(slowRun(10, 20, counter))
    const results = await Promise.all(Array.from({ length: 20 }, () => manager.request(job())))
    expect(results.every((r) => r.kind === 'stream')).toBe(true) // bytes flowed while building
    const bodies = await Promise.all(results.map(readAll))
    expect(counter.runs).toBe(1)
    expect(manager.counters.imagerRuns).toBe(1)
    expect(new Set(bodies).size).toBe(1)
    expect(bodies[0]!.split('\n').length).toBe(11)
    // published: a later request is a hit, linked by URL, with sidecars
    const again = await manager.request(job())
    expect(again.kind).toBe('file')
    expect(await readAll(again)).toBe(bodies[0]!)
    const meta = await store.lookup(KEY)
    expect(meta?.size).toBe(bodies[0]!.length)
    const link = join(dir, 'by-url', 'b'.repeat(64), 'v1.10.0', 'initramfs-amd64.xz')
    expect(await Bun.file(link).text()).toBe(bodies[0]!)
    expect(await Bun.file(`${link}.sha256`).text()).toBe(`${meta!.sha256}  initramfs-amd64.xz\n`)
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
  })

  test('a caller that goes away does not cancel the build others wait on', async () => {
    const counter = { runs: 0 }
    const { manager } = setup(slowRun(5, 20, counter))
    const first = await manager.request(job())
    if (first.kind === 'stream') await first.stream.cancel()
    const second = await manager.request(job())
    expect((await readAll(second)).split('\n').length).toBe(6)
    expect(counter.runs).toBe(1)
  })

  test('failure before the first byte is an error for every caller; nothing is published', async () => {
    const counter = { runs: 0 }
    const { manager, store, dir } = setup(slowRun(5, 5, counter, 0))
    const all = await Promise.allSettled(Array.from({ length: 5 }, () => manager.request(job())))
    expect(all.every((r) => r.status === 'rejected' && String(r.reason).includes('imager exploded'))).toBe(true)
    expect(counter.runs).toBe(1)
    expect(await store.lookup(KEY)).toBeNull()
    expect(existsSync(join(dir, 'by-url', 'b'.repeat(64)))).toBe(false)
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
    // the next request rebuilds
    const counter2 = { runs: 0 }
    const ok = new BuildManager({ store, lock: new LocalLock(), run: slowRun(2, 1, counter2), concurrency: 1, timeoutMs: 5000, log: silentLogger })
    expect((await readAll(await ok.request(job()))).length).toBeGreaterThan(0)
    expect(counter2.runs).toBe(1)
  })

  test('failure mid-stream errors the stream and publishes nothing', async () => {
    const counter = { runs: 0 }
    const { manager, store } = setup(slowRun(5, 10, counter, 3))
    const r = await manager.request(job())
    expect(r.kind).toBe('stream')
    await expect(readAll(r)).rejects.toThrow('imager exploded')
    for (let i = 0; i < 500 && manager.running > 0; i++) await Bun.sleep(10) // the failed build has ended
    expect(await store.lookup(KEY)).toBeNull()
  })

  test('builds are bounded by the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assets-'))
    const store = new AssetStore(dir, { maxBytes: 1e9, log: silentLogger })
    const run: RunBuild = async (_j, out, signal) => {
      await appendFile(out, 'start\n')
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('build timed out'))))
    }
    const manager = new BuildManager({ store, lock: new LocalLock(), run, concurrency: 1, timeoutMs: 100, log: silentLogger })
    const r = await manager.request(job())
    await expect(readAll(r)).rejects.toThrow('timed out')
    expect(await store.lookup(KEY)).toBeNull()
  })

  test('the store evicts least recently used assets beyond its bound', async () => {
    const counter = { runs: 0 }
    const { manager, store } = setup(slowRun(1, 0, counter), 2500)
    for (const c of ['1', '2', '3']) await readAll(await manager.request(job(c.repeat(64))))
    expect(await store.lookup('1'.repeat(64))).toBeNull()
    expect(await store.lookup('3'.repeat(64))).not.toBeNull()
    expect(store.totalBytes).toBeLessThanOrEqual(2500)
  })
})

describe('GrowingFile', () => {
  test('a reader polling a slow build does not pile up listeners', async () => {
    const { GrowingFile } = await import('../../builder/growing-file.ts')
    const dir = mkdtempSync(join(tmpdir(), 'grow-'))
    const path = join(dir, 'out')
    await Bun.write(path, 'x')
    const g = new GrowingFile(path)
    const reader = (await g.reader()).getReader()
    await reader.read()
    const pending = reader.read() // waits: nothing new is written for a while
    await Bun.sleep(300)
    expect(g.waiters).toBeLessThanOrEqual(1)
    await appendFile(path, 'y')
    g.finish()
    expect(new TextDecoder().decode((await pending).value)).toBe('y')
    expect((await reader.read()).done).toBe(true)
    expect(g.waiters).toBe(0)
  })
})
