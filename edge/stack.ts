/**
 * `npm start`: the whole factory on one machine — Caddy on FACTORY_HTTP_ADDR (cache hits served
 * from disk, everything else proxied), the edge on an internal loopback port and the builder
 * daemon on a unix socket under the data directory. A process that dies is restarted (with
 * backoff; a build it was running is lost and the next request rebuilds it); one that keeps dying
 * (5 times within a minute) stops the stack with a non-zero exit for the outer supervisor.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadConfigOrExit } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { SERVER_HEADER } from './app.ts'

const config = loadConfigOrExit()
const log = createLogger(config.logLevel, { component: 'stack' })
const root = resolve(import.meta.dir, '..')
const data = resolve(config.dataDir)
const runtime = resolve(config.runtimeDir)
await mkdir(join(data, 'public'), { recursive: true })

/**
 * The runtime directory is this node's own (sockets, Caddy state, pid file): several stacks may
 * share the data directory, never this one. Refuse one we do not own or that others can write,
 * and refuse to start while another live stack uses it.
 */
async function claimRuntimeDir(): Promise<void> {
  await mkdir(runtime, { recursive: true, mode: 0o700 })
  const st = await stat(runtime)
  if ((process.getuid && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) {
    throw new Error(`runtime directory ${runtime} must be owned by this user and not writable by others`)
  }
  const pidFile = join(runtime, 'stack.pid')
  const other = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim())
  if (other > 0 && other !== process.pid && (await isAlive(other))) {
    throw new Error(`another stack (pid ${other}) is running with runtime directory ${runtime}; give each stack its own FACTORY_RUNTIME_DIR or FACTORY_HTTP_ADDR`)
  }
  const socket = join(runtime, 'builder.sock')
  const answering = await fetch('http://builder/healthz', { unix: socket, signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  )
  if (answering) throw new Error(`a builder is still serving ${socket}; stop it or use another FACTORY_RUNTIME_DIR`)
  await writeFile(pidFile, `${process.pid}\n`)
  await mkdir(join(runtime, 'caddy'), { recursive: true, mode: 0o700 })
}

/** A live stack process (not a recycled pid of something else). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null)
  return cmdline === null || cmdline.includes('stack.ts')
}

try {
  await claimRuntimeDir()
} catch (err) {
  log.error('start-up refused', { error: (err as Error).message })
  process.stderr.write(`npm start: ${(err as Error).message}\n`)
  process.exit(1)
}

async function freeLoopbackPort(): Promise<number> {
  const s = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = s.port
  await s.stop(true)
  if (!port) throw new Error('no free port')
  return port
}

const edgePort = await freeLoopbackPort()
const builderUrl = config.builder.url || `unix:${join(runtime, 'builder.sock')}`
const shared = {
  ...process.env,
  FACTORY_DATA_DIR: data,
  FACTORY_RUNTIME_DIR: runtime,
  FACTORY_EXTERNAL_URL: config.http.externalUrl,
  FACTORY_EXTERNAL_PXE_URL: config.http.externalPxeUrl,
  FACTORY_BUILDER_URL: builderUrl,
  // Bun.serve's development error page (stack traces, host paths) must never reach a client
  NODE_ENV: 'production',
}
const procs: { name: string; proc: ReturnType<typeof Bun.spawn> }[] = []
let stopping = false

function start(name: string, cmd: string[], env: Record<string, string | undefined>, restarts: number[] = []): void {
  const proc = Bun.spawn(cmd, { cwd: root, env, stdout: 'inherit', stderr: 'inherit', stdin: 'ignore' })
  const entry = { name, proc }
  procs.push(entry)
  log.info('process started', { process: name, pid: proc.pid })
  void proc.exited.then(async (code) => {
    if (stopping) return
    procs.splice(procs.indexOf(entry), 1)
    const now = Date.now()
    const recent = [...restarts.filter((t) => now - t < 60_000), now]
    if (recent.length > 5) {
      log.error('process keeps exiting; stopping the stack', { process: name, code })
      await stopAll(1)
      return
    }
    const delay = Math.min(30_000, 500 * 2 ** (recent.length - 1))
    log.error('process exited; restarting', { process: name, code, restart_in_ms: delay })
    await Bun.sleep(delay)
    if (!stopping) start(name, cmd, env, recent)
  })
}

async function stopAll(code: number): Promise<never> {
  stopping = true
  await rm(join(runtime, 'stack.pid'), { force: true })
  for (const { proc } of procs) proc.kill('SIGTERM')
  await Promise.race([Promise.all(procs.map((p) => p.proc.exited)), Bun.sleep(5000)])
  for (const { proc } of procs) proc.kill('SIGKILL')
  process.exit(code)
}

async function waitHttp(url: string, init: RequestInit & { unix?: string } = {}, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, init)
      if (res.status < 500) return
    } catch {
      // not up yet
    }
    await Bun.sleep(100)
  }
  throw new Error(`${url} did not come up`)
}

const bun = process.execPath
start('builder', [bun, 'builder/main.ts'], shared)
start('edge', [bun, 'edge/main.ts'], { ...shared, FACTORY_HTTP_ADDR: `127.0.0.1:${edgePort}` })
const caddyEnv = {
  ...process.env,
  CADDY_PORT: String(config.http.port),
  CADDY_BIND: config.http.host,
  CADDY_PUBLIC_DIR: join(data, 'public'),
  CADDY_EDGE: `127.0.0.1:${edgePort}`,
  CADDY_STATE_DIR: join(runtime, 'caddy'),
  CADDY_SERVER_HEADER: `${SERVER_HEADER} (caddy)`,
  CADDY_EDGE_SERVER_HEADER: SERVER_HEADER,
  XDG_DATA_HOME: join(runtime, 'caddy'),
  XDG_CONFIG_HOME: join(runtime, 'caddy'),
}
try {
  await waitHttp('http://builder/healthz', builderUrl.startsWith('unix:') ? { unix: builderUrl.slice(5) } : {}).catch(async () =>
    waitHttp(`${builderUrl}/healthz`),
  )
  await waitHttp(`http://127.0.0.1:${edgePort}/healthz`)
  start('caddy', ['caddy', 'run', '--config', join(root, 'Caddyfile'), '--adapter', 'caddyfile'], caddyEnv)
  await waitHttp(`http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${config.http.port}/healthz`)
  log.info('factory ready', { url: config.http.externalUrl, listen: config.http.addr, edge: `127.0.0.1:${edgePort}`, builder: builderUrl })
} catch (err) {
  log.error('start-up failed', { error: (err as Error).message })
  await stopAll(1)
}
process.on('SIGINT', () => void stopAll(0))
process.on('SIGTERM', () => void stopAll(0))
