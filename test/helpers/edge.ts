/**
 * Starts the real edge application on a free loopback port with its own temporary data
 * directory, configured through the same FACTORY_* settings operators use.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { silentLogger, createLogger } from '../../src/log.ts'
import { createApp } from '../../edge/app.ts'
import { buildContext } from '../../edge/wiring.ts'
import type { AppContext } from '../../edge/context.ts'
import type { Builder } from '../../builder/wiring.ts'

export interface RunningEdge {
  url: string
  ctx: AppContext & { builder?: Builder }
  dataDir: string
  stop(): Promise<void>
}

/** `log`: receives every log line (JSON, info and up) instead of the silent logger. */
export async function startEdge(env: Record<string, string> = {}, opts: { log?: (line: string) => void } = {}): Promise<RunningEdge> {
  const dataDir = await mkdtemp(join(tmpdir(), 'factory-test-'))
  const config = loadConfig({ FACTORY_DATA_DIR: dataDir, FACTORY_HTTP_ADDR: '127.0.0.1:0', ...env })
  const log = opts.log ? createLogger('info', {}, opts.log) : process.env.FACTORY_TEST_LOGS ? createLogger('debug') : silentLogger
  const ctx = await buildContext(config, log)
  const app = createApp(ctx)
  // as in production (edge/main.ts): no Bun development error pages
  app.listen({ hostname: '127.0.0.1', port: config.http.port, idleTimeout: 0, development: false })
  const port = app.server?.port
  if (!port) throw new Error('edge did not start')
  return {
    url: `http://127.0.0.1:${port}`,
    ctx,
    dataDir,
    async stop() {
      await app.stop(true)
      await ctx.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
