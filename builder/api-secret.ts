/**
 * The builder job API's shared secret. A daemon listening on TCP (FACTORY_BUILDER_URL=http://…)
 * is reachable by every local process and user, so every request but /healthz must carry
 * `Authorization: Bearer <secret>`. The secret is generated into the data directory on first start
 * (mode 0600, `keys/builder-api.secret`), so every edge and builder sharing the directory agree
 * on it, as they do on the other keys.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto'
import { join, resolve } from 'node:path'
import type { Config } from '../src/config.ts'
import { readOrCreateFile } from '../src/store/atomic-file.ts'

export function builderApiSecretPath(config: Pick<Config, 'dataDir'>): string {
  return join(resolve(config.dataDir), 'keys', 'builder-api.secret')
}

export async function builderApiSecret(config: Pick<Config, 'dataDir'>): Promise<string> {
  const { data } = await readOrCreateFile(builderApiSecretPath(config), () => `${randomBytes(32).toString('hex')}\n`)
  return data.toString('utf8').trim()
}

/** Constant-time check of an `Authorization` header against the secret. */
export function authorized(header: string | null, secret: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '')
  // hash both sides: timingSafeEqual needs equal lengths, and the length must not leak either
  const a = createHash('sha256').update(m?.[1] ?? '').digest()
  const b = createHash('sha256').update(secret).digest()
  return m !== null && timingSafeEqual(a, b)
}
