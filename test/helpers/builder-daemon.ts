/**
 * Starts `bun builder/main.ts` (the builder daemon) with FACTORY_* settings on a free loopback port
 * or a unix socket, and talks to its job API with the secret from the shared data directory.
 */
import { resolve } from 'node:path'
import { readFile } from 'node:fs/promises'
import { freePort } from './ports.ts'
import { builderApiSecretPath } from '../../builder/api-secret.ts'

export interface BuilderStats {
  node: string
  instance: string
  imagerRuns: number
  hits: number
  misses: number
  peerBuilds: number
}

export interface RunningBuilder {
  /** `http://127.0.0.1:PORT`, or `http://builder` with `unix` set */
  url: string
  unix?: string
  proc: ReturnType<typeof Bun.spawn>
  /** the job API secret (TCP daemons) */
  secret: string
  /** POST /v1/build with the secret */
  build(request: { schematic: string; version: string; path: string; requestId?: string }): Promise<Response>
  stats(): Promise<BuilderStats>
  /** GET /metrics with the secret */
  metrics(): Promise<string>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export async function startBuilderDaemon(env: Record<string, string>, opts: { unix?: string } = {}): Promise<RunningBuilder> {
  const dataDir = env.FACTORY_DATA_DIR
  if (!dataDir) throw new Error('startBuilderDaemon needs FACTORY_DATA_DIR (the data directory shared with the edge)')
  const listen = opts.unix ? `unix:${opts.unix}` : `http://127.0.0.1:${await freePort()}`
  const url = opts.unix ? 'http://builder' : listen
  const via = opts.unix ? { unix: opts.unix } : {}
  const proc = Bun.spawn([process.execPath, 'builder/main.ts'], {
    cwd: resolve(import.meta.dir, '../..'),
    env: { ...process.env, ...env, FACTORY_BUILDER_URL: listen, FACTORY_LOG_LEVEL: 'warn' },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`, via)).ok) break
    } catch {
      // starting
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error('builder daemon did not start')
    }
    await Bun.sleep(50)
  }
  const secret = opts.unix ? '' : (await readFile(builderApiSecretPath({ dataDir }), 'utf8')).trim()
  const auth = { authorization: `Bearer ${secret}` }
  const kill = () => proc.kill('SIGKILL')
  process.once('exit', kill)
  return {
    url,
    ...(opts.unix ? { unix: opts.unix } : {}),
    proc,
    secret,
    build: (request) => fetch(`${url}/v1/build`, { method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/json', ...auth }, ...via }),
    stats: async () => (await (await fetch(`${url}/v1/stats`, { headers: auth, ...via })).json()) as BuilderStats,
    metrics: async () => (await fetch(`${url}/metrics`, { headers: auth, ...via })).text(),
    async kill(signal = 'SIGKILL') {
      process.off('exit', kill)
      proc.kill(signal)
      await proc.exited
    },
  }
}
