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
}

/** Parses on the calling thread: for tools and tests, not for a server. */
export const inlineParser: SchematicParser = {
  canonicalize: async (body) => canonicalize(body),
  parse: async (canonical) => parseSchematic(canonical, STORED_PARSE_LIMITS),
}

/** Stored schematics up to this size are parsed in place (a few milliseconds at most). */
export const INLINE_PARSE_CHARS = 16 * 1024

export class SchematicService {
  readonly counters: SchematicCounters = { created: 0, duplicates: 0, reads: 0 }
  private readonly decoder = new TextDecoder()

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
    const bytes = await this.store.get(id)
    if (!bytes) return null
    this.counters.reads++
    const canonical = this.decoder.decode(bytes)
    const schematic = canonical.length <= INLINE_PARSE_CHARS ? parseSchematic(canonical, STORED_PARSE_LIMITS) : await this.parser.parse(canonical)
    if (schematic.owner) throw new AuthenticationRequiredError('authentication required to access this schematic')
    return { id, canonical, schematic }
  }

  /** Stops the parser's workers. */
  async close(): Promise<void> {
    await this.parser.close?.()
  }
}
