import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsSchematicStore } from '../../src/store/fs-schematic-store.ts'
import { CachedSchematicStore } from '../../src/store/cached-schematic-store.ts'
import type { SchematicStore } from '../../src/store/schematic-store.ts'

const ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'
const BYTES = new TextEncoder().encode('customization: {}\n')

function countingStore(): SchematicStore & { gets: number; data: Map<string, Uint8Array> } {
  const data = new Map<string, Uint8Array>()
  const s = {
    gets: 0,
    data,
    async get(id: string) {
      s.gets++
      await Bun.sleep(5)
      return data.get(id) ?? null
    },
    async has(id: string) {
      return data.has(id)
    },
    async put(id: string, b: Uint8Array) {
      data.set(id, b)
    },
  }
  return s
}

describe('FsSchematicStore', () => {
  test('round trip, fan-out layout, no temp files left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schem-'))
    const store = new FsSchematicStore(dir)
    expect(await store.get(ID)).toBeNull()
    expect(await store.has(ID)).toBe(false)
    await store.put(ID, BYTES)
    await store.put(ID, BYTES) // idempotent
    expect(new TextDecoder().decode((await store.get(ID))!)).toBe('customization: {}\n')
    expect(await store.has(ID)).toBe(true)
    expect(readdirSync(join(dir, '37'))).toEqual([`${ID}.yaml`])
  })

  test('malformed IDs never touch the filesystem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schem-'))
    const store = new FsSchematicStore(dir)
    for (const bad of ['../../etc/passwd', ID.toUpperCase(), `${ID}0`, '']) {
      expect(await store.get(bad)).toBeNull()
      expect(await store.has(bad)).toBe(false)
      expect(store.put(bad, BYTES)).rejects.toThrow()
    }
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('CachedSchematicStore', () => {
  test('concurrent loads of one ID hit the store once', async () => {
    const inner = countingStore()
    inner.data.set(ID, BYTES)
    const cached = new CachedSchematicStore(inner, { capacity: 10, negativeTtlMs: 1000 })
    const results = await Promise.all(Array.from({ length: 20 }, () => cached.get(ID)))
    expect(results.every((r) => r === BYTES)).toBe(true)
    expect(inner.gets).toBe(1)
    await cached.get(ID)
    expect(inner.gets).toBe(1)
  })

  test('negative entries expire; put overrides them', async () => {
    let now = 0
    const inner = countingStore()
    const cached = new CachedSchematicStore(inner, { capacity: 10, negativeTtlMs: 30_000, now: () => now })
    expect(await cached.get(ID)).toBeNull()
    expect(await cached.get(ID)).toBeNull()
    expect(inner.gets).toBe(1)
    inner.data.set(ID, BYTES) // created on another node
    now = 29_999
    expect(await cached.get(ID)).toBeNull()
    now = 30_001
    expect(await cached.get(ID)).toBe(BYTES)
    expect(inner.gets).toBe(2)

    const other = 'a'.repeat(64)
    expect(await cached.get(other)).toBeNull()
    await cached.put(other, BYTES)
    expect(await cached.get(other)).toBe(BYTES)
  })

  test('capacity bounds memory (LRU)', async () => {
    const inner = countingStore()
    const cached = new CachedSchematicStore(inner, { capacity: 3, negativeTtlMs: 1000 })
    for (let i = 0; i < 10; i++) await cached.put(i.toString(16).padStart(64, '0'), BYTES)
    expect(cached.size).toBe(3)
  })
})
