/**
 * Probes against the `npm start` stack (real Caddy in front): Caddy serves a hit only for a path
 * that is already canonical, so an encoded `/` or `..` can never make it serve one schematic's
 * asset under another's URL; everything else goes to the edge, which answers by its own grammar.
 * X-Request-ID is bounded on the hit path as on the edge.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connect } from 'node:net'
import { startStack, type RunningStack } from '../helpers/stack.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'

setDefaultTimeout(60_000)

const VERSION = 'v1.12.0'
let up: Upstream
let stack: RunningStack
let a: string
let b: string
let kernelA: string

/** Sends a raw HTTP/1.1 request (no client-side path normalisation) and returns status, headers and body. */
function rawGet(port: number, target: string, extra: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    let data = ''
    sock.setEncoding('latin1')
    sock.on('data', (d: string) => (data += d))
    sock.on('error', reject)
    sock.on('end', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n')
      const lines = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body: rest.join('\r\n\r\n') })
    })
    const hdrs = Object.entries({ host: `127.0.0.1:${port}`, connection: 'close', ...extra })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')
    sock.write(`GET ${target} HTTP/1.1\r\n${hdrs}\r\n`)
  })
}

beforeAll(async () => {
  up = await sharedUpstream()
  stack = await startStack(up.env)
  const create = async (body: string) => ((await (await fetch(`${stack.url}/schematics`, { method: 'POST', body })).json()) as { id: string }).id
  a = await create('{"customization":{"extraKernelArgs":["victim-a"]}}')
  b = await create('{"customization":{"extraKernelArgs":["attacker-b"]}}')
  // A's assets are cached (Caddy can serve them as hits); B has none yet
  kernelA = await (await fetch(`${stack.url}/image/${a}/${VERSION}/cmdline-metal-amd64`)).text()
  expect((await fetch(`${stack.url}/image/${a}/${VERSION}/cmdline-metal-amd64`)).headers.get('x-cache')).toBe('HIT')
}, 240_000)

afterAll(async () => {
  await stack?.stop()
  await up?.stop()
})

describe('Caddy serves hits for canonical paths only', () => {
  // Caddy must leave every non-canonical path to the edge. The edge parses the URL like any
  // WHATWG/RFC 3986 client: `%2F` stays inside one segment (a malformed version or file → 4xx),
  // while plain `..` segments and escaped unreserved characters are resolved first — `/image/B/v/../../A/…`
  // *is* A's URL, so A's asset is the right answer there (from the edge, by its own grammar).
  test.each([
    ['encoded slashes and dot segments in the version', (x: string, y: string) => `/image/${y}/v1%2F..%2F..%2F${x}%2F${VERSION}/cmdline-metal-amd64`, true],
    ['encoded slash in the file name', (x: string, y: string) => `/image/${y}/${VERSION}/..%2F..%2F${x}%2F${VERSION}%2Fcmdline-metal-amd64`, true],
    ['encoded dots', (x: string, y: string) => `/image/${y}/${VERSION}/%2E%2E/%2E%2E/${x}/${VERSION}/cmdline-metal-amd64`, false],
    ['plain dot segments', (x: string, y: string) => `/image/${y}/${VERSION}/../../${x}/${VERSION}/cmdline-metal-amd64`, false],
    ['an encoded letter', (x: string) => `/image/${x}/${VERSION}/cmdline-metal-amd6%34`, false],
    ['a double slash', (x: string) => `/image/${x}//${VERSION}/cmdline-metal-amd64`, false],
  ])('%s: left to the edge', async (_name, path, mustNotServeA) => {
    const res = await rawGet(stack.port, path(a, b))
    expect(res.headers.server ?? '').not.toContain('(caddy)')
    expect(res.headers.server ?? '').toMatch(/^Image Factory/)
    expect(res.status).toBeLessThan(500)
    if (mustNotServeA) {
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.body).not.toContain('victim-a')
    }
  })

  test('the canonical path is still a hit', async () => {
    const res = await rawGet(stack.port, `/image/${a}/${VERSION}/cmdline-metal-amd64`)
    expect(res.status).toBe(200)
    expect(res.headers['x-cache']).toBe('HIT')
    expect(res.body).toBe(kernelA)
  })
})

describe('X-Request-ID is bounded', () => {
  const hitPath = () => `/image/${a}/${VERSION}/cmdline-metal-amd64`
  test.each([
    ['on a Caddy hit', hitPath],
    ['on the edge', () => '/versions'],
  ])('%s: a 16 KB or 129-character ID is replaced, a sane one is echoed', async (_name, path) => {
    const huge = await rawGet(stack.port, path(), { 'x-request-id': 'x'.repeat(16 * 1024) })
    // Bun refuses headers over 16 KB outright (431); either way nothing unbounded is echoed
    if (huge.status !== 431) expect(huge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect((huge.headers['x-request-id'] ?? '').length).toBeLessThanOrEqual(128)
    const long = await rawGet(stack.port, path(), { 'x-request-id': 'x'.repeat(129) })
    expect(long.status).toBe(200)
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    const ok = await rawGet(stack.port, path(), { 'x-request-id': 'trace-42' })
    expect(ok.headers['x-request-id']).toBe('trace-42')
    const bad = await rawGet(stack.port, path(), { 'x-request-id': 'a b' })
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })
})
