/** Graceful stop on SIGINT/SIGTERM for the entry points: log, run `close`, exit 0. */
import type { Logger } from './log.ts'

export function onShutdown(log: Logger, close: () => Promise<void>): void {
  const stop = async (signal: string) => {
    log.info('shutting down', { signal })
    await close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}
