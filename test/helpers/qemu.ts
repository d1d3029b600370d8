/**
 * Boot helper for QEMU tests (TCG only: KVM hangs on this kind of machine, see spec/env-lab.md).
 *
 *   const r = await bootQemu({ args: directBootArgs({ kernel, initrd, append }), timeoutMs: 120_000, marker: 'STANDIN-DONE' })
 *
 * Captures the serial console (stdout+stderr of `qemu-system-x86_64 -nographic`), kills QEMU on
 * timeout (and, with `killOnMarker`, shortly after the marker appears — for images that never
 * power off). Callers should assert on the marker and on the absence of {@link BOOT_FAILURE_PATTERNS}.
 */

export interface BootOptions {
  /** Arguments after the binary (see {@link directBootArgs}). */
  args: string[]
  /** Hard limit; QEMU is killed (SIGKILL after a SIGTERM grace) when it is reached. */
  timeoutMs: number
  /** Text whose appearance in the output is recorded (`markerSeen`, `markerAtMs`). */
  marker?: string
  /** Kill QEMU this many ms after the marker was seen (default: let it exit by itself). */
  killOnMarker?: number
  /** Default `qemu-system-x86_64`. */
  binary?: string
  /** Also write the console log to this file (handy for CI artefacts). */
  logFile?: string
}

export interface BootResult {
  /** Console output with `\r` removed. */
  output: string
  /** QEMU's exit code (null when it was killed by a signal). */
  code: number | null
  timedOut: boolean
  markerSeen: boolean
  markerAtMs: number | null
  durationMs: number
}

/** Console lines that mean a boot went wrong even when QEMU exits cleanly. */
export const BOOT_FAILURE_PATTERNS: readonly string[] = ['Initramfs unpacking failed', 'Kernel panic', 'Overlapping PE sections']

/** Standard direct-kernel boot arguments (TCG, no network, no reboot, serial console on stdio). */
export function directBootArgs(opts: { kernel: string; initrd: string; append: string; memoryMb?: number; extra?: string[] }): string[] {
  return [
    '-accel',
    'tcg',
    '-m',
    String(opts.memoryMb ?? 512),
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    opts.kernel,
    '-initrd',
    opts.initrd,
    '-append',
    opts.append,
    ...(opts.extra ?? []),
  ]
}

/**
 * At most this many QEMU guests run at once in a test process (TCG is CPU-bound: two fit a
 * 2-core machine in the time of one, four take twice as long — spec/env-lab.md). A boot waiting
 * for a slot does not count against its own timeout.
 */
export const MAX_PARALLEL_BOOTS = Number(process.env.FACTORY_TEST_PARALLEL_BOOTS ?? 2)
let running = 0
const queue: (() => void)[] = []

async function slot(): Promise<() => void> {
  if (running >= MAX_PARALLEL_BOOTS) await new Promise<void>((resolve) => queue.push(resolve))
  running++
  return () => {
    running--
    queue.shift()?.()
  }
}

export async function bootQemu(opts: BootOptions): Promise<BootResult> {
  const release = await slot()
  try {
    return await bootOnce(opts)
  } finally {
    release()
  }
}

async function bootOnce(opts: BootOptions): Promise<BootResult> {
  const start = performance.now()
  const proc = Bun.spawn([opts.binary ?? 'qemu-system-x86_64', ...opts.args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let output = ''
  let markerAtMs: number | null = null
  let timedOut = false
  let killTimer: ReturnType<typeof setTimeout> | null = null

  const kill = (): void => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    setTimeout(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    }, 2000).unref()
  }
  const timeout = setTimeout(() => {
    timedOut = true
    kill()
  }, opts.timeoutMs)

  const decoder = new TextDecoder()
  const pump = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true })
      if (opts.marker !== undefined && markerAtMs === null && output.includes(opts.marker)) {
        markerAtMs = Math.round(performance.now() - start)
        if (opts.killOnMarker !== undefined) killTimer = setTimeout(kill, opts.killOnMarker)
      }
    }
  }
  try {
    await Promise.all([pump(proc.stdout), pump(proc.stderr), proc.exited])
  } finally {
    clearTimeout(timeout)
    if (killTimer !== null) clearTimeout(killTimer)
    kill()
  }
  output = output.replaceAll('\r', '')
  if (opts.logFile !== undefined) await Bun.write(opts.logFile, output)
  return {
    output,
    code: proc.exitCode,
    timedOut,
    markerSeen: markerAtMs !== null || (opts.marker !== undefined && output.includes(opts.marker)),
    markerAtMs,
    durationMs: Math.round(performance.now() - start),
  }
}

/** Lines of `output` that start with `prefix` (after any kernel timestamp noise is ignored). */
export function markerLines(output: string, prefix: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.trimEnd())
}
