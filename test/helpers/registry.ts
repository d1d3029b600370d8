/**
 * Test harness: a real CNCF distribution registry (Debian's `docker-registry`) on a free 127.0.0.1
 * port, with its own temp storage and a config we write (Debian's default config wants htpasswd
 * auth, env-lab §6). Usage:
 *
 *   const reg = await startRegistry()
 *   // reg.host = '127.0.0.1:PORT', reg.url = 'http://127.0.0.1:PORT'
 *   await reg.stop()
 *
 * Robustness: a port taken between probing and binding is retried with a new port; every started
 * registry is killed (and its directory removed) when the test process exits, and a detached
 * watchdog kills it even if the test process is SIGKILLed.
 */
import type { Subprocess } from 'bun'
import { rmSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.ts'

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string
  /** `127.0.0.1:PORT` — what RegistryClient's `registry` option and skopeo want. */
  host: string
  port: number
  /** Temp directory holding config, storage and the log. */
  dir: string
  /** Kills the registry and removes its directory; safe to call twice. */
  stop(): Promise<void>
}

export interface StartRegistryOptions {
  /** How long to wait for `/v2/` to answer (default 15 s). */
  timeoutMs?: number
  /** Binary to run (default `docker-registry`). */
  binary?: string
}

interface Live {
  proc: Subprocess
  dir: string
}

const live = new Set<Live>()
let hooked = false

function killAllSync(): void {
  for (const l of live) {
    try {
      l.proc.kill('SIGKILL')
    } catch {
      // already gone
    }
    try {
      rmSync(l.dir, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
  live.clear()
}

function hookExit(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAllSync)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSync()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    })
  }
}

function configYaml(storage: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: test-registry-secret',
    'health:',
    '  storagedriver:',
    '    enabled: false',
    '',
  ].join('\n')
}

async function waitReady(url: string, proc: Subprocess, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) })
      await res.body?.cancel()
      if (res.status === 200) return true
    } catch {
      // not listening yet
    }
    await Bun.sleep(50)
  }
  return false
}

/** Starts a fresh, empty registry. Throws (with the registry's log) when it does not come up. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  hookExit()
  const binary = opts.binary ?? 'docker-registry'
  const dir = await mkdtemp(join(tmpdir(), 'test-registry-'))
  const logPath = join(dir, 'registry.log')
  const configPath = join(dir, 'config.yml')
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000)
  let lastLog = ''
  for (let attempt = 0; attempt < 5 && Date.now() < deadline; attempt++) {
    const port = await freePort()
    await writeFile(configPath, configYaml(join(dir, 'storage'), port))
    const log = Bun.file(logPath)
    let proc: Subprocess
    try {
      proc = Bun.spawn([binary, 'serve', configPath], { stdin: 'ignore', stdout: 'ignore', stderr: log })
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`cannot run ${binary} (is the docker-registry package installed?): ${err instanceof Error ? err.message : String(err)}`)
    }
    const entry: Live = { proc, dir }
    live.add(entry)
    // Watchdog: if this test process dies without cleaning up, kill the registry and remove its dir.
    const watchdog = Bun.spawn(
      ['sh', '-c', 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null; if ! kill -0 "$1" 2>/dev/null; then rm -rf "$3"; fi', 'watchdog', String(process.pid), String(proc.pid), dir],
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    )
    watchdog.unref()
    const url = `http://127.0.0.1:${port}`
    if (await waitReady(url, proc, deadline)) {
      let stopped = false
      return {
        url,
        host: `127.0.0.1:${port}`,
        port,
        dir,
        async stop() {
          if (stopped) return
          stopped = true
          proc.kill('SIGTERM')
          const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)])
          if (!exited) {
            proc.kill('SIGKILL')
            await proc.exited
          }
          live.delete(entry)
          await rm(dir, { recursive: true, force: true })
        },
      }
    }
    proc.kill('SIGKILL')
    await proc.exited
    live.delete(entry)
    lastLog = await readFile(logPath, 'utf8').catch(() => '')
  }
  await rm(dir, { recursive: true, force: true })
  throw new Error(`docker-registry did not start: ${lastLog.trim().split('\n').slice(-5).join(' | ') || 'no log output'}`)
}
