/**
 * Creating and reading schematics (factory-spec §3.1, §3.2, §4.7): parse → validate → canonical
 * bytes → ID → store. Creation is idempotent; the store is content-addressed so a duplicate POST
 * only counts as a duplicate.
 *
 * Parsing is CPU work that an input controls, so it runs on a parser (the edge's worker pool,
 * ./worker-pool.ts), never on the caller's event loop, except for stored schematics small enough
 * to cost less than a millisecond or two.
 */
import type { Logger } from '../log.ts'
import type { SchematicStore } from '../store/schematic-store.ts'
import { isSchematicId } from '../store/schematic-store.ts'
import { AuthenticationRequiredError } from '../errors.ts'
import { canonicalize } from './index.ts'
import { STORED_PARSE_LIMITS } from './limits.ts'
import { parseSchematic } from './parse.ts'
import type { Schematic } from './types.ts'
import type { ParserPoolStats } from './worker-pool.ts'

export interface StoredSchematic {
  id: string
  canonical: string
  schematic: Schematic
}

export interface SchematicCounters {
  created: number
  duplicates: number
  reads: number
}

/** Where schematic text is parsed. */
export interface SchematicParser {
  /** A POSTed body: parse, validate, canonical form and ID; InvalidInputError for bad input. */
  canonicalize(body: Uint8Array | string): Promise<{ id: string; canonical: string }>
  /** Stored canonical text back into a schematic. */
  parse(canonical: string): Promise<Schematic>
  close?(): Promise<void>
  /** what a worker pool is doing (for /metrics); inline parsers have none */
  stats?(): ParserPoolStats
}

/** Parses on the calling thread: for tools and tests, not for a server. */
export const inlineParser: SchematicParser = {
  canonicalize: async (body) => canonicalize(body),
  parse: async (canonical) => parseSchematic(canonical, STORED_PARSE_LIMITS),
}

/** Stored schematics up to this size are parsed in place (a few milliseconds at most). */
export const INLINE_PARSE_CHARS = 16 * 1024
/** Parsed schematics kept in memory: at most this many, and this many characters of YAML in all. */
export const PARSED_CACHE_ENTRIES = 10_000
export const PARSED_CACHE_CHARS = 64 * 1024 * 1024

/**
 * Parsed schematics by ID. A schematic never changes (its ID is its content's hash), so every
 * asset request for one reuses the same parse instead of parsing it again — a 1 MiB schematic
 * costs its parse once, not once per download. Callers must treat the result as immutable.
 */
class ParsedCache {
  private readonly map = new Map<string, StoredSchematic>()
  private chars = 0

  get(id: string): StoredSchematic | undefined {
    const hit = this.map.get(id)
    if (hit === undefined) return undefined
    this.map.delete(id)
    this.map.set(id, hit)
    return hit
  }

  set(entry: StoredSchematic): void {
    if (entry.canonical.length > PARSED_CACHE_CHARS || this.map.has(entry.id)) return
    this.map.set(entry.id, entry)
    this.chars += entry.canonical.length
    while (this.map.size > PARSED_CACHE_ENTRIES || this.chars > PARSED_CACHE_CHARS) {
      const [oldest, value] = this.map.entries().next().value as [string, StoredSchematic]
      this.map.delete(oldest)
      this.chars -= value.canonical.length
    }
  }
}

export class SchematicService {
  readonly counters: SchematicCounters = { created: 0, duplicates: 0, reads: 0 }
  private readonly decoder = new TextDecoder()
  private readonly parsed = new ParsedCache()

  constructor(
    private readonly store: SchematicStore,
    private readonly log: Logger,
    private readonly parser: SchematicParser = inlineParser,
  ) {}

  /** Parses, validates and stores a schematic; throws InvalidInputError for bad input. */
  async create(body: Uint8Array | string): Promise<{ id: string; canonical: string; created: boolean }> {
    const { id, canonical } = await this.parser.canonicalize(body)
    if (await this.store.has(id)) {
      this.counters.duplicates++
      this.log.info('schematic already exists', { schematic: id })
      return { id, canonical, created: false }
    }
    await this.store.put(id, new TextEncoder().encode(canonical))
    this.counters.created++
    this.log.info('schematic created', { schematic: id })
    return { id, canonical, created: true }
  }

  /** Returns the stored schematic or null when the ID is unknown or malformed. */
  async get(id: string): Promise<StoredSchematic | null> {
    if (!isSchematicId(id)) return null
    const known = this.parsed.get(id)
    if (known) {
      this.counters.reads++
      return known
    }
    const bytes = await this.store.get(id)
    if (!bytes) return null
    this.counters.reads++
    const canonical = this.decoder.decode(bytes)
    const schematic = canonical.length <= INLINE_PARSE_CHARS ? parseSchematic(canonical, STORED_PARSE_LIMITS) : await this.parser.parse(canonical)
    if (schematic.owner) throw new AuthenticationRequiredError('authentication required to access this schematic')
    const entry = { id, canonical, schematic }
    this.parsed.set(entry)
    return entry
  }

  /** The parser pool's state and counters, or null for an inline parser. */
  parserStats(): ParserPoolStats | null {
    return this.parser.stats?.() ?? null
  }

  /** Stops the parser's workers. */
  async close(): Promise<void> {
    await this.parser.close?.()
  }
}
