/**
 * The builder daemon's listener keeps a silent response open: a build can write nothing for longer
 * than Bun's default 10 s idle timeout (xorriso assembling an ISO, a compressor's first block), and
 * the edge is following that stream. On a unix socket (the `npm start` default) as on TCP.
 */
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serveBuilder } from '../../builder/daemon.ts'
import { freePort } from '../helpers/ports.ts'

const SILENCE_MS = 12_000
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const slowHandler = async () =>
  new Response(
    new ReadableStream({
      async start(c) {
        c.enqueue(new TextEncoder().encode('first '))
        await Bun.sleep(SILENCE_MS)
        c.enqueue(new TextEncoder().encode('last'))
        c.close()
      },
    }),
  )

async function unixListener() {
  const dir = mkdtempSync(join(tmpdir(), 'builder-sock-'))
  dirs.push(dir)
  return { listen: `unix:${join(dir, 'b.sock')}`, url: 'http://builder/', init: { unix: join(dir, 'b.sock') } }
}

async function tcpListener() {
  const port = await freePort()
  return { listen: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/`, init: {} }
}

test('a response silent for 12 s is not cut, on a unix socket and on TCP', async () => {
  // both at once: the test costs one silence, not two
  await Promise.all(
    [unixListener, tcpListener].map(async (where) => {
      const { listen, url, init } = await where()
      const server = await serveBuilder(listen, slowHandler)
      try {
        const res = await fetch(url, init)
        expect(await res.text()).toBe('first last')
      } finally {
        await server.stop(true)
      }
    }),
  )
}, 60_000)
