/**
 * The wizard's pages without a browser (as a no-JavaScript client sees them): GET and HEAD /, the
 * router's 404/405 unchanged, one-line 4xx answers for bad parameters, the last step's POST that
 * keeps the machine configuration out of URLs, schematic-id pre-filling, the plain-form extension
 * filter, llms.txt, the UI's static files and the progress endpoint in the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { freePort } from '../helpers/ports.ts'

const VERSION = '1.12.0'
let up: Upstream
let edge: RunningEdge

beforeAll(async () => {
  up = await sharedUpstream()
  const port = await freePort()
  edge = await startEdge({ ...up.env, FACTORY_HTTP_ADDR: `127.0.0.1:${port}`, FACTORY_EXTERNAL_URL: `http://127.0.0.1:${port}/` })
}, 180_000)
afterAll(async () => {
  await edge?.stop()
  await up?.stop()
})

async function apiSchematicId(schematic: object): Promise<string> {
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify(schematic) })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

describe('wizard over HTTP', () => {
  const get = (path: string, init?: RequestInit) => fetch(`${edge.url}${path}`, { redirect: 'manual', ...init })
  const form = (pairs: [string, string][]) =>
    get('/ui/wizard', { method: 'POST', body: new URLSearchParams(pairs).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })

  test('GET and HEAD /; the router\'s 404 and 405 are unchanged', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('server')).toMatch(/^Image Factory v/)
    expect(page.headers.get('x-request-id')).toBeTruthy()
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const head = await get('/', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const missing = await get('/no-such-page')
    expect(missing.status).toBe(404)
    expect(await missing.text()).toBe('404 page not found\n')
    const post = await get('/', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
    const wizardGet = await get('/ui/wizard')
    expect(wizardGet.status).toBe(405)
    expect(wizardGet.headers.get('allow')).toBe('OPTIONS, POST')
  })

  test('bad parameters are one-line 4xx answers; a machine configuration is refused in a URL', async () => {
    const cases: [string, number, string][] = [
      ['/?target=desktop', 400, 'invalid wizard parameter target: must be metal, cloud or sbc'],
      ['/?target=metal&version=one', 400, 'invalid wizard parameter version: must be a Talos version like 1.12.0'],
      ['/?target=metal&version=1.99.0', 404, 'version 1.99.0 is not available'],
      ['/?target=cloud&version=1.12.0&platform=nimbus', 400, 'unknown cloud platform "nimbus"'],
      ['/?target=sbc&version=1.12.0&board=pi', 400, 'unknown board "pi"'],
      ['/?embedded-config=machine%3A+%7B%7D', 400, 'embedded-config is a secret: send it in a POST body, never in a URL'],
      [`/?target=metal&schematic-id=${'0'.repeat(64)}`, 404, `schematic ID "${'0'.repeat(64)}" not found`],
    ]
    for (const [path, status, reason] of cases) {
      const res = await get(path)
      expect(`${path} → ${res.status} ${(await res.text()).trim()}`).toBe(`${path} → ${status} ${reason}`)
    }
    const notForm = await get('/ui/wizard', { method: 'POST', body: 'target=metal', headers: { 'content-type': 'text/plain' } })
    expect(notForm.status).toBe(400)
  })

  test('without JavaScript: the last step POSTs, the machine configuration stays out of the URL, schematic-id pre-fills', async () => {
    const config = 'machine:\n  type: worker\n'
    const res = await form([
      ['target', 'metal'],
      ['version', VERSION],
      ['arch', 'amd64'],
      ['extensions', '-'],
      ['extensions', 'siderolabs/intel-ucode'],
      ['cmdline-set', 'true'],
      ['cmdline', 'talos.dashboard.disabled=1'],
      ['embedded-config', config],
    ])
    expect(res.status).toBe(303)
    const location = res.headers.get('location') ?? ''
    expect(location).not.toContain('embedded')
    expect(location).not.toContain('worker')
    const id = new URLSearchParams(location.slice(2)).get('schematic-id')
    expect(id).toBe(await apiSchematicId({ customization: { embeddedMachineConfiguration: config, extraKernelArgs: ['talos.dashboard.disabled=1'], systemExtensions: { officialExtensions: ['siderolabs/intel-ucode'] } } }))
    const final = await (await get(location)).text()
    expect(final).toContain(`<code id="schematic-id">${id}</code>`)
    expect(final).toContain('embeddedMachineConfiguration')

    // going back from the final page: the stored schematic pre-fills the customization step
    const back = /<a class="button secondary" href="([^"]+)">Back<\/a>/.exec(final)?.[1]?.replaceAll('&amp;', '&')
    expect(back).toBeDefined()
    const step = await (await get(back!)).text()
    expect(step).toContain('<h1>Customize</h1>')
    expect(step).toContain('value="talos.dashboard.disabled=1"')
    expect(step).toContain('>machine:\n  type: worker\n</textarea>')

    // a deep link with only schematic-id pre-checks its extensions
    const ext = await (await get(`/?target=metal&version=${VERSION}&arch=amd64&schematic-id=${id}`)).text()
    expect(ext).toContain('<h1>Choose system extensions</h1>')
    expect(ext).toMatch(/value="siderolabs\/intel-ucode" checked/)
    expect(ext).not.toMatch(/value="siderolabs\/gvisor" checked/)
  })

  test('the extension filter works as a plain form', async () => {
    const page = await (await get(`/?target=metal&version=${VERSION}&arch=amd64&extensions=-&extensions=siderolabs/gvisor&search=firmware&filter=1`)).text()
    expect(page).toContain('<h1>Choose system extensions</h1>')
    const listed = [...page.matchAll(/name="extensions" value="(siderolabs\/[^"]+)"/g)].map((m) => m[1])
    expect(listed).toEqual(['siderolabs/gvisor', 'siderolabs/realtek-firmware']) // the checked one stays
    expect(page).toMatch(/value="siderolabs\/gvisor" checked/)
  })

  test('llms.txt, static assets, and the progress endpoint in the OpenAPI document', async () => {
    const llms = await get('/llms.txt')
    expect(llms.status).toBe(200)
    expect(llms.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    const text = await llms.text()
    expect(text).toContain(`${edge.url}/schematics`)
    expect(text).toContain('/progress/')
    for (const [file, type] of [['ui.css', 'text/css; charset=utf-8'], ['ui.js', 'text/javascript; charset=utf-8'], ['favicon.svg', 'image/svg+xml']]) {
      const res = await get(`/ui/assets/${file}`)
      expect(`${file} ${res.status} ${res.headers.get('content-type')}`).toBe(`${file} 200 ${type}`)
    }
    for (const bad of ['nope.js', 'constructor', '__proto__', '..%2Fui.ts']) expect((await get(`/ui/assets/${bad}`)).status).toBe(404)
    const doc = (await (await get('/swagger/json')).json()) as { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>> }
    expect(Object.keys(doc.paths['/progress/{schematic}/{version}/{path}']?.get?.responses?.['200']?.content ?? {})).toEqual(['text/event-stream'])
    expect(doc.paths['/']).toBeUndefined()
    expect(doc.paths['/ui/wizard']).toBeUndefined()
  })
})
