/**
 * Runs the full stack the way `npm start` does (edge/stack.ts: Caddy + edge + builder daemon) on
 * a free loopback port with its own data directory.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from './ports.ts'

export interface RunningStack {
  url: string
  port: number
  dataDir: string
  logs(): string
  stop(): Promise<void>
}

export async function startStack(env: Record<string, string>): Promise<RunningStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'factory-stack-'))
  const port = await freePort()
  let output = ''
  const proc = Bun.spawn([process.execPath, 'edge/stack.ts'], {
    cwd: resolve(import.meta.dir, '../..'),
    env: { ...process.env, FACTORY_DATA_DIR: dataDir, FACTORY_HTTP_ADDR: `127.0.0.1:${port}`, FACTORY_LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) output += new TextDecoder().decode(chunk)
  }
  void pump(proc.stdout)
  void pump(proc.stderr)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (output.includes('"factory ready"')) break
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`stack did not start:\n${output.slice(-4000)}`)
    }
    await Bun.sleep(100)
  }
  return {
    url,
    port,
    dataDir,
    logs: () => output,
    async stop() {
      proc.kill('SIGTERM')
      await Promise.race([proc.exited, Bun.sleep(8000)])
      proc.kill('SIGKILL')
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
