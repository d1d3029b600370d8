/**
 * Runs the full stack the way `npm start` does (edge/stack.ts: Caddy + edge + builder daemon) on
 * a free loopback port with its own data and runtime directories (or a data directory shared with
 * other stacks, as in scale-out).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from './ports.ts'

export interface RunningStack {
  url: string
  port: number
  dataDir: string
  runtimeDir: string
  proc: ReturnType<typeof Bun.spawn>
  logs(): string
  stop(): Promise<void>
}

export interface StackOptions {
  /** a data directory to use (and keep) instead of a fresh temporary one */
  dataDir?: string
  /** a runtime directory to use (and keep) instead of a fresh temporary one */
  runtimeDir?: string
  /** how long to wait for "factory ready" (default 90 s: a busy 2-core machine starts three processes) */
  readyTimeoutMs?: number
}

/** Spawns `bun edge/stack.ts`; resolves once it logs "factory ready" (throws with its output otherwise). */
export async function startStack(env: Record<string, string>, opts: StackOptions = {}): Promise<RunningStack> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'factory-stack-')))
  const runtimeDir = opts.runtimeDir ?? (await mkdtemp(join(tmpdir(), 'factory-run-')))
  const port = await freePort()
  let output = ''
  const proc = Bun.spawn([process.execPath, 'edge/stack.ts'], {
    cwd: resolve(import.meta.dir, '../..'),
    env: { ...process.env, FACTORY_DATA_DIR: dataDir, FACTORY_RUNTIME_DIR: runtimeDir, FACTORY_HTTP_ADDR: `127.0.0.1:${port}`, FACTORY_LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) output += new TextDecoder().decode(chunk)
  }
  void pump(proc.stdout)
  void pump(proc.stderr)
  const cleanup = async () => {
    if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true })
    if (!opts.runtimeDir) await rm(runtimeDir, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000)
  for (;;) {
    if (output.includes('"factory ready"')) break
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL')
      await proc.exited
      await cleanup()
      throw new Error(`stack did not start (exit ${proc.exitCode}):\n${output.slice(-4000)}`)
    }
    await Bun.sleep(100)
  }
  return {
    url,
    port,
    dataDir,
    runtimeDir,
    proc,
    logs: () => output,
    async stop() {
      proc.kill('SIGTERM')
      await Promise.race([proc.exited, Bun.sleep(8000)])
      proc.kill('SIGKILL')
      await proc.exited
      await cleanup()
    },
  }
}
