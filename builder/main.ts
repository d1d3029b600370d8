/**
 * Builder daemon entry point: `bun builder/main.ts` serves the job API on FACTORY_BUILDER_URL
 * (http://127.0.0.1:PORT or unix:/path.sock; loopback only — it has no authentication).
 */
import { loadConfigOrExit } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { onShutdown } from '../src/shutdown.ts'
import { builderFetchHandler, serveBuilder } from './daemon.ts'
import { createBuilder } from './wiring.ts'

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
const builder = await createBuilder(config, log)
const server = serveBuilder(listen, builderFetchHandler(builder.manager, log))
log.info('builder listening', { url: listen })
onShutdown(log, async () => {
  await server.stop()
  await builder.close()
})
