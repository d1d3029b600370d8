import { describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AssetStore } from '../../src/store/asset-store.ts'
import { silentLogger } from '../../src/log.ts'

const K = (c: string) => c.repeat(64)
const URL_PARTS = [K('e'), 'v1.12.0', 'kernel-amd64']

async function store(maxBytes = 1e9) {
  const dir = mkdtempSync(join(tmpdir(), 'store-'))
  const s = new AssetStore(dir, { maxBytes, log: silentLogger })
  await s.init()
  return { s, dir }
}

async function put(s: AssetStore, key: string, body: string) {
  const tmp = s.tempPath(key)
  writeFileSync(tmp, body)
  return s.commit(key, tmp, 'application/octet-stream')
}

describe('AssetStore', () => {
  test('metadata whose file vanished is a miss (and is cleaned up), not a broken hit', async () => {
    const { s } = await store()
    await put(s, K('a'), 'hello')
    unlinkSync(s.assetPath(K('a')))
    expect(await s.lookup(K('a'))).toBeNull()
    expect(await s.readMeta(K('a'))).toBeNull()
    await put(s, K('a'), 'hello again')
    expect((await s.lookup(K('a')))?.size).toBe(11)
  })

  test('linking while the asset is evicted never leaves metadata without a file', async () => {
    for (let i = 0; i < 20; i++) {
      const { s } = await store()
      await put(s, K('a'), 'x'.repeat(100))
      await Promise.allSettled([s.linkUrl(K('a'), URL_PARTS), s.remove(K('a'))])
      const meta = await s.readMeta(K('a'))
      expect(meta === null || existsSync(s.assetPath(K('a')))).toBe(true)
    }
  })

  test('evicting an old asset keeps a URL that now points to a newer one', async () => {
    const { s, dir } = await store()
    await put(s, K('a'), 'old')
    await s.linkUrl(K('a'), URL_PARTS)
    await put(s, K('b'), 'new!')
    await s.linkUrl(K('b'), URL_PARTS) // same URL, new cache key (e.g. new errata salt)
    await s.remove(K('a'))
    const link = join(dir, 'by-url', ...URL_PARTS)
    expect(readlinkSync(link).endsWith(K('b'))).toBe(true)
    expect(await Bun.file(link).text()).toBe('new!')
    expect(existsSync(`${link}.sha256`)).toBe(true)
  })

  test('least recently *used* is evicted first', async () => {
    const { s } = await store(25)
    await put(s, K('a'), 'a'.repeat(10))
    await Bun.sleep(20)
    await put(s, K('b'), 'b'.repeat(10))
    await Bun.sleep(20)
    expect(await s.lookup(K('a'))).not.toBeNull() // a is used again: b is now the oldest
    await Bun.sleep(20)
    await put(s, K('c'), 'c'.repeat(10))
    expect(await s.lookup(K('b'))).toBeNull()
    expect(await s.lookup(K('a'))).not.toBeNull()
    expect(await s.lookup(K('c'))).not.toBeNull()
  })

  test('start-up keeps fresh temp files of builds running elsewhere, sweeps stale ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'))
    const first = new AssetStore(dir, { maxBytes: 1e9, log: silentLogger })
    await first.init()
    const running = first.tempPath(K('a'))
    writeFileSync(running, 'in progress')
    const second = new AssetStore(dir, { maxBytes: 1e9, log: silentLogger })
    await second.init()
    expect(existsSync(running)).toBe(true)
    const third = new AssetStore(dir, { maxBytes: 1e9, log: silentLogger, staleTempMs: -1 })
    await third.init()
    expect(existsSync(running)).toBe(false)
  })
})
