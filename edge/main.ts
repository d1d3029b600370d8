/**
 * Entry point: `bun edge/main.ts` loads the configuration, wires the stores and services and
 * serves HTTP on FACTORY_HTTP_ADDR. A bad setting stops start-up with a message naming the key.
 */
import { loadConfigOrExit } from '../src/config.ts'
import { ConfigError } from '../src/errors.ts'
import { createLogger } from '../src/log.ts'
import { onShutdown } from '../src/shutdown.ts'
import { buildContext } from './wiring.ts'
import { createApp, SERVER_HEADER } from './app.ts'

async function main(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger(config.logLevel, { component: 'edge' })
  const ctx = await buildContext(config, log, { warmParser: true }).catch((err: unknown) => {
    // e.g. unreadable or mismatched Secure Boot key files: one line, like any bad setting
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`configuration error: ${err.message}\n`)
    process.exit(2)
  })
  const app = createApp(ctx)
  app.listen({ hostname: config.http.host, port: config.http.port, maxRequestBodySize: config.http.maxBodyBytes + 1024, idleTimeout: 0, development: false })
  log.info('starting', { name: SERVER_HEADER, addr: config.http.addr, externalUrl: config.http.externalUrl, dataDir: config.dataDir })
  onShutdown(log, async () => {
    await app.stop()
    await ctx.close()
  })
}

await main()
