/**
 * Shares build progress between nodes through Redis: the last state of each key in a string key
 * with a TTL (a late subscriber on any node reads it), and every change on one pub/sub channel.
 * A running build re-announces itself every heartbeat, so the TTL only has to outlive a few
 * heartbeats: the state of a builder that died disappears by itself.
 */
import Redis from 'ioredis'
import * as v from 'valibot'
import { randomBytes } from 'node:crypto'
import { isTerminal, ProgressEventSchema, StampedSchema, type ProgressTransport, type Stamped } from './progress.ts'

const MessageSchema = v.object({
  node: v.string(),
  key: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  event: ProgressEventSchema,
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
})

export interface RedisProgressOptions {
  /** lifetime of a running build's last state (renewed by its heartbeats) */
  ttlMs?: number
  /** lifetime of a finished build's outcome */
  terminalTtlMs?: number
  prefix?: string
  channel?: string
}

export class RedisProgressTransport implements ProgressTransport {
  private readonly redis: Redis
  private readonly sub: Redis
  /** messages from this node come back through the subscription: recognised and skipped */
  private readonly node = randomBytes(8).toString('hex')
  private readonly prefix: string
  private readonly channel: string
  private onRemote: ((key: string, entry: Stamped) => void) | undefined

  constructor(
    url: string,
    private readonly opts: RedisProgressOptions = {},
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2 })
    this.sub = new Redis(url, { maxRetriesPerRequest: 2 })
    this.redis.on('error', () => {})
    this.sub.on('error', () => {})
    this.sub.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return
      const parsed = v.safeParse(MessageSchema, safeJson(raw))
      if (!parsed.success || parsed.output.node === this.node) return
      this.onRemote?.(parsed.output.key, { event: parsed.output.event, at: parsed.output.at })
    })
    this.prefix = opts.prefix ?? 'factory:progress:'
    this.channel = opts.channel ?? 'factory:progress'
  }

  async publish(key: string, entry: Stamped): Promise<void> {
    const ttl = isTerminal(entry.event) ? (this.opts.terminalTtlMs ?? 60_000) : (this.opts.ttlMs ?? 30_000)
    await this.redis
      .multi()
      .set(this.prefix + key, JSON.stringify(entry), 'PX', ttl)
      .publish(this.channel, JSON.stringify({ node: this.node, key, ...entry }))
      .exec()
  }

  async last(key: string): Promise<Stamped | null> {
    const raw = await this.redis.get(this.prefix + key)
    if (raw === null) return null
    const parsed = v.safeParse(StampedSchema, safeJson(raw))
    return parsed.success ? parsed.output : null
  }

  async listen(onRemote: (key: string, entry: Stamped) => void): Promise<void> {
    this.onRemote = onRemote
    await this.sub.subscribe(this.channel)
  }

  async close(): Promise<void> {
    this.redis.disconnect()
    this.sub.disconnect()
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
