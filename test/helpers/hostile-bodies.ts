/**
 * Schematic bodies just under the 1 MiB body limit that cost a naive YAML decoder seconds (issue
 * 11), and a valid 1 MiB schematic, shared by test/security/hostile-bodies.test.ts and
 * test/bench/hostile-bodies.ts. Also a small /healthz poller that records every answer's timing.
 */

export const BODY_LIMIT = 1024 * 1024

const inOptions = (value: string): string => `overlay: {image: x, name: y, options: {a: ${value}}}`

function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  const names = 'bcdefghi'
  for (let i = 0; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${i === 0 ? 'a' : names[i - 1]}`).join(',')}]`)
  return `overlay:\n  image: x\n  name: y\n  options:\n${lines.map((l) => `    ${l}`).join('\n')}\n`
}

/** Name → body; every one must be refused with a 4xx. */
export function hostileBodies(): [string, string][] {
  return [
    ['nested flow sequences, 400k deep', inOptions(`${'['.repeat(400_000)}${']'.repeat(400_000)}`)],
    ['nested flow mappings, 400k deep', inOptions(`${'{'.repeat(400_000)}${'}'.repeat(400_000)}`)],
    ['nested flow mappings with keys, 200k deep', inOptions(`${'{a: '.repeat(200_000)}1${'}'.repeat(200_000)}`)],
    ['nested JSON objects, 170k deep', `{"overlay":{"image":"x","name":"y","options":${'{"a":'.repeat(170_000)}1${'}'.repeat(170_000)}}}`],
    ['unclosed flow sequence', inOptions('['.repeat(BODY_LIMIT - 100))],
    ['unclosed flow mapping', inOptions('{a: '.repeat(260_000))],
    ['1,400-level block indentation', 'overlay:\n  options:\n' + Array.from({ length: 1400 }, (_, i) => `${' '.repeat(4 + i)}k:`).join('\n') + ' 1\n'],
    ['compact block sequences, 500k deep', `overlay:\n  options:\n    a:\n${'- '.repeat(500_000)}x\n`],
    ['alias bomb (billion laughs)', billionLaughs()],
    ['half a million one-character items', inOptions(`[${Array(500_000).fill('1').join(',')}]`)],
    ['a flood of anchors', inOptions(`[${Array.from({ length: 100_000 }, (_, i) => `&a${i} x`).join(',')}]`)],
    ['nesting that multiplies into megabytes of canonical indentation', inOptions(`[${Array(60).fill(`${'{a: '.repeat(900)}1${'}'.repeat(900)}`).join(', ')}]`)],
  ]
}

/** A valid schematic of about 1 MiB: 40,000 overlay-option keys. */
export function validMiB(): string {
  let s = 'overlay:\n  image: siderolabs/sbc-raspberrypi\n  name: rpi_generic\n  options:\n'
  for (let i = 0; i < 40_000; i++) s += `    key${i}: value-${i}\n`
  return s
}

export interface Sample {
  start: number
  end: number
  ms: number
  status: number
}

/** Polls `${url}/healthz` one request at a time until stopped; keeps every answer's timing. */
/**
 * Polls /healthz one request at a time, starting one every `intervalMs` (or as soon as the previous
 * answer arrives, when that took longer). A stall of the edge's event loop shows as one slow
 * answer; the pacing keeps the probe itself from being the load (flat out, it took a core of a
 * 2-core machine away from the parser it was watching).
 */
export function pollHealthz(url: string, intervalMs = 10): { samples: Sample[]; stop(): Promise<Sample[]> } {
  const samples: Sample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const start = performance.now()
      let status = 0
      try {
        const res = await fetch(`${url}/healthz`)
        await res.arrayBuffer()
        status = res.status
      } catch {
        status = -1
      }
      const end = performance.now()
      samples.push({ start, end, ms: end - start, status })
      const wait = intervalMs - (end - start)
      if (wait > 0 && running) await Bun.sleep(wait)
    }
  })()
  return {
    samples,
    async stop() {
      running = false
      await loop
      return samples
    },
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
