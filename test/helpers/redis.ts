/** Debian's redis-server on a free loopback port, no persistence; stopped by the test. */
import { freePort } from './ports.ts'

export interface TestRedis {
  url: string
  stop(): Promise<void>
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdout: 'ignore',
    stderr: 'ignore',
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const conn = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })
      conn.end()
      break
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error('redis-server did not start')
      await Bun.sleep(50)
    }
  }
  const kill = () => proc.kill('SIGKILL')
  process.once('exit', kill)
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      process.off('exit', kill)
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}
