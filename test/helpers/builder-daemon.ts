/** Starts `bun builder/main.ts` (the builder daemon) with FACTORY_* settings on a free port. */
import { resolve } from 'node:path'
import { freePort } from './ports.ts'

export interface RunningBuilder {
  url: string
  proc: ReturnType<typeof Bun.spawn>
  stats(): Promise<{ imagerRuns: number; hits: number; misses: number; peerBuilds: number }>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export async function startBuilderDaemon(env: Record<string, string>): Promise<RunningBuilder> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const proc = Bun.spawn([process.execPath, 'builder/main.ts'], {
    cwd: resolve(import.meta.dir, '../..'),
    env: { ...process.env, ...env, FACTORY_BUILDER_URL: url, FACTORY_LOG_LEVEL: 'warn' },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      // starting
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('builder daemon did not start')
    await Bun.sleep(50)
  }
  const kill = () => proc.kill('SIGKILL')
  process.once('exit', kill)
  return {
    url,
    proc,
    stats: async () => (await (await fetch(`${url}/v1/stats`)).json()) as Awaited<ReturnType<RunningBuilder['stats']>>,
    async kill(signal = 'SIGKILL') {
      process.off('exit', kill)
      proc.kill(signal)
      await proc.exited
    },
  }
}
