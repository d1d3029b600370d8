/** Debian's redis-server on a free loopback port, no persistence; stopped (or restarted) by the test. */
import { freePort } from './ports.ts'

export interface TestRedis {
  url: string
  port: number
  /** Kills the server (SIGKILL: as if it crashed) and starts a fresh one on the same port. */
  restart(): Promise<void>
  /** Kills the server without starting another one. */
  crash(): Promise<void>
  stop(): Promise<void>
}

async function spawnRedis(port: number): Promise<ReturnType<typeof Bun.spawn>> {
  const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdout: 'ignore',
    stderr: 'ignore',
  })
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      const conn = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })
      conn.end()
      return proc
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) {
        proc.kill('SIGKILL')
        throw new Error('redis-server did not start')
      }
      await Bun.sleep(50)
    }
  }
}

export async function startRedis(port?: number): Promise<TestRedis> {
  const p = port ?? (await freePort())
  let proc: ReturnType<typeof Bun.spawn> | null = await spawnRedis(p)
  const kill = () => proc?.kill('SIGKILL')
  process.once('exit', kill)
  const crash = async () => {
    if (!proc) return
    proc.kill('SIGKILL')
    await proc.exited
    proc = null
  }
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    crash,
    async restart() {
      await crash()
      proc = await spawnRedis(p)
    },
    async stop() {
      process.off('exit', kill)
      if (!proc) return
      proc.kill('SIGTERM')
      await proc.exited
      proc = null
    },
  }
}
