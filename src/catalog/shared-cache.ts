/**
 * A cache shared by all nodes (Redis) for catalogue answers, so a node that starts while the
 * upstream registry is down can still answer with what another node saw last.
 */
import Redis from 'ioredis'

export interface SharedCache {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
  close(): Promise<void>
}

const PREFIX = 'factory:catalog:'

export class RedisSharedCache implements SharedCache {
  private readonly redis: Redis

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true })
    this.redis.on('error', () => {}) // surfaced per command; avoid unhandled 'error' events
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(PREFIX + key)
  }

  async set(key: string, value: string): Promise<void> {
    await this.redis.set(PREFIX + key, value)
  }

  async close(): Promise<void> {
    this.redis.disconnect()
  }
}
