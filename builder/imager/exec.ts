/**
 * Running the Debian tools the imager drives (mksquashfs, unsquashfs, depmod, zstd, xz).
 *
 * Failures become typed one-line errors: a missing binary is an ImagerEnvironmentError, a
 * non-zero exit an ImagerToolError carrying the tool's last stderr line, cancellation an
 * ImagerAbortedError. Children are killed when the build's AbortSignal fires.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { ImagerAbortedError, ImagerEnvironmentError, ImagerToolError, isErrno } from './errors.ts'

/** Epoch used for every timestamp the imager controls (Talos's SOURCE_DATE_EPOCH in CI). */
export const SOURCE_DATE_EPOCH = 1559424892

export interface ToolOptions {
  readonly cwd?: string
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>
  readonly signal?: AbortSignal
  /** Where stdout goes: 'capture' (returned), 'ignore', or an open file descriptor. */
  readonly stdout?: 'capture' | 'ignore' | number
  /** Bytes fed to stdin; none means stdin is /dev/null. */
  readonly stdin?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
}

const STDERR_KEEP = 8192

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return lines.at(-1) ?? ''
}

function abortedError(cmd: string): ImagerAbortedError {
  return new ImagerAbortedError(`build cancelled while running ${cmd}`)
}

async function feed(child: ChildProcess, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  const stdin = child.stdin
  if (!stdin) return
  let broken: Error | null = null
  stdin.on('error', (err: Error) => {
    broken = err
  })
  try {
    for await (const chunk of source) {
      if (broken !== null) break
      if (chunk.byteLength === 0) continue
      if (!stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stdin.off('drain', done)
            stdin.off('close', done)
            resolve()
          }
          stdin.on('drain', done)
          stdin.on('close', done)
        })
      }
    }
  } finally {
    stdin.end()
  }
}

/**
 * Runs `cmd args…` to completion. Returns captured stdout (empty unless `stdout: 'capture'`).
 * When `stdin` is given, its chunks are streamed with back-pressure; an error while producing them
 * kills the tool and is rethrown.
 */
export async function runTool(cmd: string, args: readonly string[], opts: ToolOptions = {}): Promise<string> {
  if (opts.signal?.aborted) throw abortedError(cmd)
  const stdoutOpt = opts.stdout ?? 'ignore'
  const child = spawn(cmd, [...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: [opts.stdin ? 'pipe' : 'ignore', stdoutOpt === 'capture' ? 'pipe' : stdoutOpt, 'pipe'],
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP)
  })
  const out: Buffer[] = []
  child.stdout?.on('data', (d: Buffer) => out.push(d))

  const onAbort = (): void => {
    child.kill('SIGKILL')
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  let feedError: unknown = null
  const feeding = opts.stdin
    ? feed(child, opts.stdin).catch((err: unknown) => {
        feedError = err
        child.kill('SIGKILL')
      })
    : Promise.resolve()
  try {
    const [result] = await Promise.all([closed, feeding])
    if (feedError !== null) throw feedError
    if (opts.signal?.aborted) throw abortedError(cmd)
    if (result.code !== 0) {
      const why = lastLine(stderr) || (result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`)
      throw new ImagerToolError(`${cmd} failed: ${why}`)
    }
    return Buffer.concat(out).toString('utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new ImagerEnvironmentError(`${cmd} not found: install it (see builder/install-system-deps.sh)`, { cause: err })
    throw err
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Streams the stdout of `cmd args…` (e.g. a decompressor). Breaking out of the loop early kills
 * the tool; a failure after the consumer finished normally is reported.
 */
export async function* toolOutput(cmd: string, args: readonly string[], opts: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  if (opts.signal?.aborted) throw abortedError(cmd)
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP)
  })
  const onAbort = (): void => {
    child.kill('SIGKILL')
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  const closed = new Promise<{ code: number | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code }))
  })
  let finished = false
  try {
    const stdout = child.stdout
    if (!stdout) throw new ImagerToolError(`${cmd} failed: no stdout`)
    for await (const chunk of stdout as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    finished = true
    const { code } = await closed
    if (opts.signal?.aborted) throw abortedError(cmd)
    if (code !== 0) throw new ImagerToolError(`${cmd} failed: ${lastLine(stderr) || `exit code ${code}`}`)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new ImagerEnvironmentError(`${cmd} not found: install it (see builder/install-system-deps.sh)`, { cause: err })
    throw err
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    if (!finished) {
      child.kill('SIGKILL')
      await closed.catch(() => undefined)
    }
  }
}
