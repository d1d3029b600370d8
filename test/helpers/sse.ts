/** Reads a Server-Sent Events response to its end (or a deadline) into `{event, data}` records. */
export interface SseEvent {
  event: string
  /** the `data` line parsed as JSON */
  data: Record<string, unknown>
  /** ms since the request started */
  atMs: number
}

export async function readSse(res: Response, opts: { timeoutMs: number }): Promise<SseEvent[]> {
  if (!res.body) throw new Error('no body')
  const started = performance.now()
  const events: SseEvent[] = []
  const decoder = new TextDecoder()
  const reader = res.body.getReader()
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), opts.timeoutMs)
  let buffered = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffered += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        let event = ''
        let data = ''
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ')) data += line.slice(6)
        }
        if (event) events.push({ event, data: JSON.parse(data || '{}') as Record<string, unknown>, atMs: Math.round(performance.now() - started) })
      }
    }
  } finally {
    clearTimeout(timer)
  }
  return events
}
