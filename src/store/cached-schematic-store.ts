/**
 * In-memory LRU in front of any SchematicStore (factory-spec §4.7): positive entries never expire
 * (schematics are immutable), "not found" answers expire after a TTL so a schematic created on
 * another node becomes visible, and concurrent loads of one ID are single-flighted.
 */
import { Lru } from './lru.ts'
import { SingleFlight } from '../single-flight.ts'
import type { SchematicStore } from './schematic-store.ts'

type Entry = { bytes: Uint8Array } | { missingUntil: number }

export class CachedSchematicStore implements SchematicStore {
  private readonly lru: Lru<string, Entry>
  private readonly loads = new SingleFlight<Uint8Array | null>()

  constructor(
    private readonly inner: SchematicStore,
    opts: { capacity: number; negativeTtlMs: number; now?: () => number },
  ) {
    this.lru = new Lru(opts.capacity)
    this.negativeTtlMs = opts.negativeTtlMs
    this.now = opts.now ?? Date.now
  }
  private readonly negativeTtlMs: number
  private readonly now: () => number

  get size(): number {
    return this.lru.size
  }

  async get(id: string): Promise<Uint8Array | null> {
    const hit = this.lru.get(id)
    if (hit) {
      if ('bytes' in hit) return hit.bytes
      if (hit.missingUntil > this.now()) return null
      this.lru.delete(id)
    }
    return this.loads.run(id, async () => {
      const bytes = await this.inner.get(id)
      this.lru.set(id, bytes ? { bytes } : { missingUntil: this.now() + this.negativeTtlMs })
      return bytes
    })
  }

  async has(id: string): Promise<boolean> {
    return (await this.get(id)) !== null
  }

  async put(id: string, canonical: Uint8Array): Promise<void> {
    await this.inner.put(id, canonical)
    this.lru.set(id, { bytes: canonical })
  }
}
