/**
 * Hostile schematic bodies benchmark (issue 11). Measures, against a real edge with its default
 * settings, the issue's budgets and prints each as a number and as a ratio:
 *
 *   1. every hostile body under the 1 MiB body limit answered with a 4xx within 1 s
 *   2. a valid 1 MiB schematic (40,000 overlay-option keys) answered 201 within 1 s
 *   3. /healthz answered within 100 ms throughout, polled while the bodies are sent — also as a
 *      ratio to /healthz with no load, measured in the same run
 *
 * plus the parse cost itself (the synchronous parser in this process, no HTTP, no worker) so the
 * overhead of the worker hop shows. The edge runs as its own process (`bun edge/main.ts`, as in
 * production) and /healthz is polled from a worker thread, so the load this script generates does
 * not skew what is measured. The test suite only asserts generous ceilings
 * (test/security/hostile-bodies.test.ts); this script is where the strict numbers are read.
 *
 * Run: `bun test/bench/hostile-bodies.ts` (BENCH_STRICT=1 makes a missed budget exit 1).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalize } from '../../src/schematic/index.ts'
import { hostileBodies, percentile, validMiB, type Sample } from '../helpers/hostile-bodies.ts'
import { freePort } from '../helpers/ports.ts'

const ANSWER_BUDGET_MS = 1000
const HEALTHZ_BUDGET_MS = 100
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)

const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : '-')
const misses: string[] = []

function verdict(name: string, value: number, budget: number): string {
  const ok = value <= budget
  if (!ok) misses.push(`${name}: ${f(value)} ms > ${budget} ms`)
  return `${ok ? 'ok  ' : 'MISS'} ${f(value).padStart(7)} ms  (${(value / budget).toFixed(2)} of the ${budget} ms budget)`
}

function latencies(samples: Sample[]): { p50: number; p99: number; max: number; n: number } {
  const ms = samples.map((s) => s.ms)
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length ? Math.max(...ms) : Number.NaN, n: ms.length }
}

async function post(url: string, body: string): Promise<{ status: number; ms: number; text: string }> {
  const t = performance.now()
  const res = await fetch(`${url}/schematics`, { method: 'POST', body })
  const text = await res.text()
  return { status: res.status, ms: performance.now() - t, text }
}

/** The edge as production runs it, in its own process. */
async function startEdgeProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'factory-bench-'))
  const port = await freePort()
  const proc = Bun.spawn(['bun', join(import.meta.dir, '../../edge/main.ts')], {
    env: { ...process.env, FACTORY_HTTP_ADDR: `127.0.0.1:${port}`, FACTORY_DATA_DIR: dataDir, FACTORY_LOG_LEVEL: 'error' },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break
    if (i > 300 || proc.exitCode !== null) throw new Error('the edge did not start')
    await Bun.sleep(100)
  }
  return {
    url,
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** /healthz polled from a worker thread. */
function poll(url: string): { stop(): Promise<Sample[]> } {
  const worker = new Worker(new URL('./healthz-poller.ts', import.meta.url).href)
  worker.postMessage({ url })
  return {
    stop: () =>
      new Promise<Sample[]>((resolve) => {
        worker.onmessage = (event: MessageEvent<Sample[]>) => {
          worker.terminate()
          resolve(event.data)
        }
        worker.postMessage('stop')
      }),
  }
}

const edge = await startEdgeProcess()
try {
  const valid = validMiB()
  const hostile = hostileBodies()
  await post(edge.url, '{}') // workers started and warm

  // ---- baseline: /healthz with no load
  const idle = poll(edge.url)
  await Bun.sleep(2000)
  const base = latencies(await idle.stop())
  console.log(`/healthz, no load: ${base.n} answers in 2 s; p50 ${f(base.p50)} ms, p99 ${f(base.p99)} ms, max ${f(base.max)} ms\n`)

  // ---- parse cost alone (synchronous, this process)
  const syncValid = Math.min(...Array.from({ length: REPEAT }, () => {
    const t = performance.now()
    canonicalize(valid)
    return performance.now() - t
  }))
  console.log(`synchronous parse → canonical form → ID of the valid 1 MiB schematic: ${f(syncValid)} ms (best of ${REPEAT})\n`)

  // ---- bodies one at a time, /healthz polled throughout
  const poller = poll(edge.url)
  console.log('answer times, one request at a time (best and worst of', REPEAT, 'runs):')
  for (const [name, body] of hostile) {
    const runs = []
    for (let i = 0; i < REPEAT; i++) runs.push(await post(edge.url, body))
    const worst = Math.max(...runs.map((r) => r.ms))
    const statuses = [...new Set(runs.map((r) => r.status))].join('/')
    const is4xx = runs.every((r) => r.status >= 400 && r.status < 500)
    if (!is4xx) misses.push(`${name}: status ${statuses}`)
    console.log(`  ${statuses} ${verdict(name, worst, ANSWER_BUDGET_MS)}  best ${f(Math.min(...runs.map((r) => r.ms)))} ms  ${name}`)
  }
  const validRuns = []
  for (let i = 0; i < REPEAT; i++) validRuns.push(await post(edge.url, valid))
  const validWorst = Math.max(...validRuns.map((r) => r.ms))
  if (!validRuns.every((r) => r.status === 201)) misses.push(`valid 1 MiB schematic: status ${validRuns.map((r) => r.status).join('/')}`)
  console.log(`  ${validRuns[0]?.status} ${verdict('valid 1 MiB schematic', validWorst, ANSWER_BUDGET_MS)}  best ${f(Math.min(...validRuns.map((r) => r.ms)))} ms  valid 1 MiB schematic (${f(validWorst / syncValid)}× the synchronous parse)`)
  const sequential = latencies(await poller.stop())

  // ---- everything at once
  const burstPoller = poll(edge.url)
  const t0 = performance.now()
  const burst = await Promise.all([...hostile.map(([, body]) => post(edge.url, body)), post(edge.url, valid)])
  const burstMs = performance.now() - t0
  const concurrent = latencies(await burstPoller.stop())
  const slowestHostile = Math.max(...burst.slice(0, -1).map((r) => r.ms))
  console.log(`\nall ${burst.length} bodies at once (two parser workers): done in ${f(burstMs)} ms`)
  console.log(`  slowest hostile ${verdict('slowest hostile body, concurrent', slowestHostile, ANSWER_BUDGET_MS)}`)
  console.log(`  valid 1 MiB     ${verdict('valid 1 MiB schematic, concurrent', (burst.at(-1) as { ms: number }).ms, ANSWER_BUDGET_MS)}`)

  console.log('\n/healthz while the bodies were sent:')
  for (const [name, l] of [
    ['one at a time', sequential],
    ['all at once', concurrent],
  ] as const) {
    console.log(`  ${name}: ${l.n} answers; p50 ${f(l.p50)} ms (${f(l.p50 / base.p50)}× idle), p99 ${f(l.p99)} ms (${f(l.p99 / base.p99)}× idle), max ${verdict(`/healthz max, ${name}`, l.max, HEALTHZ_BUDGET_MS)}`)
  }

  console.log(misses.length === 0 ? '\nevery budget met' : `\nbudgets missed:\n  ${misses.join('\n  ')}`)
} finally {
  await edge.stop()
}
if (misses.length > 0 && process.env.BENCH_STRICT) process.exit(1)
