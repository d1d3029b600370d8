/**
 * Worker for test/bench/hostile-bodies.ts: polls /healthz on its own event loop, so the load the
 * benchmark generates in its main thread does not delay the measurements.
 *
 * Messages: {url} starts polling, 'stop' ends it and answers with the samples.
 */
import { pollHealthz, type Sample } from '../helpers/hostile-bodies.ts'

declare const self: Worker

let poller: ReturnType<typeof pollHealthz> | undefined
self.onmessage = async (event: MessageEvent<{ url: string } | 'stop'>) => {
  if (event.data === 'stop') {
    const samples: Sample[] = (await poller?.stop()) ?? []
    self.postMessage(samples)
    return
  }
  poller = pollHealthz(event.data.url)
}
