/**
 * Builder daemon entry point: `bun builder/main.ts` serves the job API on FACTORY_BUILDER_URL
 * (http://127.0.0.1:PORT or unix:/path.sock; loopback only). On TCP every request needs the job
 * API secret from the data directory (builder/api-secret.ts).
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { loadConfigOrExit } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { onShutdown } from '../src/shutdown.ts'
import { createDomainServices } from '../src/services.ts'
import { ensureSecureBootKeys } from '../src/secureboot/keys.ts'
import { ConfigError } from '../src/errors.ts'
import { builderFetchHandler, serveBuilder } from './daemon.ts'
import { createBuilder } from './wiring.ts'
import { builderApiSecret } from './api-secret.ts'

const config = loadConfigOrExit()
if (!config.builder.url) {
  process.stderr.write('configuration error: FACTORY_BUILDER_URL: the builder daemon needs an address to listen on\n')
  process.exit(2)
}
const listen = config.builder.url
if (!listen.startsWith('unix:') && !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+\/?$/.test(listen)) {
  process.stderr.write('configuration error: FACTORY_BUILDER_URL: must be a loopback http:// address or unix:/path\n')
  process.exit(2)
}
const log = createLogger(config.logLevel, { component: 'builder', pid: process.pid })
const secureBoot = await ensureSecureBootKeys(config, log).catch((err: unknown) => {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`configuration error: ${err.message}\n`)
  process.exit(2)
})
const services = createDomainServices(config, log, { secureBoot })
const builder = await createBuilder(config, log, { secureBoot })
const node = { node: `${hostname()}/${process.pid}`, instance: randomUUID(), listen }
const handler = builderFetchHandler({
  manager: builder.manager,
  planner: services.planner,
  log,
  secret: listen.startsWith('unix:') ? null : await builderApiSecret(config),
  node,
})
let server: Awaited<ReturnType<typeof serveBuilder>>
try {
  server = await serveBuilder(listen, handler)
} catch (err) {
  process.stderr.write(`builder: cannot listen on ${listen}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
log.info('builder listening', { url: listen, ...node })
onShutdown(log, async () => {
  await server.stop()
  await builder.close()
  await services.close()
})
