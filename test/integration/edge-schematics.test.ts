/**
 * The schematic API through real HTTP, as talosctl/Omni/curl use it (factory-spec §1, §3.1–3.2).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'

let edge: RunningEdge
beforeAll(async () => {
  edge = await startEdge()
})
afterAll(async () => {
  await edge.stop()
})

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${edge.url}/schematics`, { method: 'POST', body, headers: { 'content-type': 'application/yaml', ...headers } })

// [input, expected ID] — factory-spec §4.6
const VECTORS: [string, string][] = [
  ['{}', '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'],
  ['customization: {}', '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'],
  ['', 'EOF'],
  ['{"customization": {"extraKernelArgs": ["noapic", "nolapic"]}}', '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'],
  ['{"customization": {"meta": [{"key": 10, "value": "foo"}], "extraKernelArgs": [], "systemExtensions": {}}}', 'd308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f'],
  ['{"customization":{"secureboot": {"includeWellKnownCertificates": true}}}', 'fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6'],
  ['customization:\n  diskImage:\n    sectorSize: 4096\n', '92833e9ddd9bb9e11b2464fa5525429f01866306d52ebd882ee08d7918f6d1ea'],
  ['{"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}}', 'ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9'],
  [
    'customization:\n  extraKernelArgs: [noapic, nolapic]\n  meta:\n    - key: 0xa\n      value: foo\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/intel-ucode]\n',
    '6ba13d510dcc57f233b9b498d34a3c919c1abdd5675b46ad53cf4f2e66362f82',
  ],
  [
    'customization:\n  embeddedMachineConfiguration: "apiVersion: v1alpha1\\nkind: HostnameConfig\\nhostname: worker-33"\n',
    '02f29f9a702fceec4fc2e2e51314d63710fc1b192ebb1629ac12301949d49c8c',
  ],
  ['customization:\n  bootloader: grub\n', '39d496b2cbdb6265d3b714514c5334bf010f1b4d31b23b9e38c80fb2f3ad7ecb'],
  ['customization:\n  meta:\n    - key: 0xa\n      value: \'{"externalIPs":["1.2.3.4"]}\'\n', 'fe866116408a5a13dab7d5003eb57a00954ea81ebeec3fbbcd1a6d4462a00036'],
  ['customization:\n  extraKernelArgs: [vga=791]\n', 'eea1f9534c46d95c4715a2f13d17eacb927c13a42ef087c79b22c3bd0c49d073'],
]

describe('POST /schematics', () => {
  test.each(VECTORS.filter(([, id]) => id !== 'EOF'))('%p → %s', async (input, id) => {
    const res = await post(input)
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toBe('application/json')
    const text = await res.text()
    expect(text.endsWith('}\n')).toBe(true)
    const body = JSON.parse(text) as { id: string; schematic: string }
    expect(body.id).toBe(id)
    expect(new Bun.CryptoHasher('sha256').update(body.schematic).digest('hex')).toBe(id)
    // and it can be read back byte for byte
    const got = await fetch(`${edge.url}/schematics/${id}`)
    expect(got.status).toBe(200)
    expect(got.headers.get('content-type')).toBe('application/yaml')
    expect(await got.text()).toBe(body.schematic)
  })

  test('response bytes are exactly the reference encoding', async () => {
    const res = await post('customization: {"extraKernelArgs": ["noapic", "nolapic"]}')
    expect(await res.text()).toBe(
      '{"id":"9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c","schematic":"customization:\\n    extraKernelArgs:\\n        - noapic\\n        - nolapic\\n"}\n',
    )
  })

  test('posting twice is idempotent and counted as a duplicate', async () => {
    const before = edge.ctx.schematics.counters.duplicates
    const a = await (await post('customization:\n  extraKernelArgs: [a]\n')).json()
    const b = await (await post('customization:\n  extraKernelArgs: [a]\n---\nsecond: doc\n')).json()
    expect(a).toEqual(b)
    expect(edge.ctx.schematics.counters.duplicates).toBe(before + 1)
  })

  test('Content-Type is ignored (JSON body sent as application/json or form)', async () => {
    for (const ct of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
      const res = await post('{"customization": {"extraKernelArgs": ["noapic", "nolapic"]}}', { 'content-type': ct })
      expect(res.status).toBe(201)
      expect(((await res.json()) as { id: string }).id).toBe('9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c')
    }
  })

  test('unknown field: exact reference message', async () => {
    const res = await post('something:')
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await res.text()).toBe('yaml: construct errors: line 1: field something not found in type schematic.Schematic\n')
  })

  test('empty body → 400 EOF', async () => {
    const res = await post('')
    expect(res.status).toBe(400)
    expect(await res.text()).toBe('EOF\n')
  })
})

describe('GET /schematics/:id', () => {
  test('unknown and malformed IDs → 404 schematic not found', async () => {
    for (const id of ['0'.repeat(64), 'abc', 'Z'.repeat(64)]) {
      const res = await fetch(`${edge.url}/schematics/${id}`)
      expect(res.status).toBe(404)
      expect(await res.text()).toBe('schematic not found\n')
    }
  })
})

describe('common HTTP behaviour', () => {
  test('X-Request-ID is echoed or generated; Server names the factory', async () => {
    const echoed = await fetch(`${edge.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } })
    expect(echoed.headers.get('x-request-id')).toBe('abc-123')
    const generated = await fetch(`${edge.url}/schematics/nope`)
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(generated.headers.get('server')).toContain('Image Factory')
    expect(generated.headers.get('server')).not.toContain('Enterprise')
  })

  test('/metrics counts requests by route pattern and schematic creations', async () => {
    await fetch(`${edge.url}/schematics/${'0'.repeat(64)}`)
    const text = await (await fetch(`${edge.url}/metrics`)).text()
    expect(text).toMatch(/image_factory_http_requests_total\{code="404",method="GET",route="\/schematics\/:schematic"\} \d+/)
    expect(text).toMatch(/image_factory_schematic_create_total [1-9]\d*/)
    expect(text).toContain('# TYPE image_factory_http_request_duration_seconds histogram')
  })

  test('/metrics shows the schematic parser pool: workers, load, and a parse stopped at its time budget', async () => {
    const strict = await startEdge({ FACTORY_SCHEMATIC_PARSE_TIMEOUT: '1ms' })
    try {
      const before = await (await fetch(`${strict.url}/metrics`)).text()
      expect(before).toContain('image_factory_schematic_parser_workers 2\n')
      expect(before).toContain('image_factory_schematic_parser_queued 0\n')
      expect(before).toContain('image_factory_schematic_parser_timeouts_total 0\n')
      // a large body cannot be parsed in a millisecond
      const big = `customization:\n  extraKernelArgs:\n${Array.from({ length: 20_000 }, (_, i) => `    - a${i}`).join('\n')}\n`
      const res = await fetch(`${strict.url}/schematics`, { method: 'POST', body: big })
      expect(res.status).toBe(400)
      expect(await res.text()).toContain('time budget')
      const after = await (await fetch(`${strict.url}/metrics`)).text()
      expect(after).toContain('image_factory_schematic_parser_timeouts_total 1\n')
      expect(after).toContain('# TYPE image_factory_schematic_parser_crashes_total counter')
    } finally {
      await strict.stop()
    }
  }, 60_000)

  test('healthz and readyz: 200, empty body', async () => {
    for (const p of ['/healthz', '/readyz']) {
      const res = await fetch(`${edge.url}${p}`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('')
    }
  })

  test('unknown path → 404 page not found; wrong method → 405 with Allow', async () => {
    const nf = await fetch(`${edge.url}/nope`)
    expect(nf.status).toBe(404)
    expect(await nf.text()).toBe('404 page not found\n')
    const wrong = await fetch(`${edge.url}/schematics`, { method: 'GET' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toContain('POST')
    expect(await wrong.text()).toBe('Method Not Allowed\n')
  })

  test('HEAD and Allow follow the registered methods (factory-spec §2)', async () => {
    const id = '0'.repeat(64)
    const cases: [method: string, path: string, status: number, allow: string | null][] = [
      // POST-only path
      ['HEAD', '/schematics', 405, 'OPTIONS, POST'],
      ['GET', '/schematics', 405, 'OPTIONS, POST'],
      // GET-only routes: no HEAD, and Allow does not advertise it
      ['HEAD', `/schematics/${id}`, 405, 'GET, OPTIONS'],
      ['DELETE', `/schematics/${id}`, 405, 'GET, OPTIONS'],
      ['HEAD', `/pxe/${id}/v1.12.0/metal-amd64`, 405, 'GET, OPTIONS'],
      ['POST', `/pxe/${id}/v1.12.0/metal-amd64`, 405, 'GET, OPTIONS'],
      ['HEAD', '/versions', 405, 'GET, OPTIONS'],
      ['HEAD', '/version/v1.12.0/extensions/official', 405, 'GET, OPTIONS'],
      ['HEAD', '/version/v1.12.0/overlays/official', 405, 'GET, OPTIONS'],
      ['HEAD', '/talosctl/v1.12.0', 405, 'GET, OPTIONS'],
      // GET and HEAD
      ['HEAD', '/healthz', 200, null],
      ['HEAD', '/readyz', 200, null],
      ['DELETE', '/healthz', 405, 'GET, HEAD, OPTIONS'],
      ['PUT', `/image/${id}/v1.12.0/kernel-amd64`, 405, 'GET, HEAD, OPTIONS'],
      ['POST', '/talosctl/v1.12.0/talosctl-linux-amd64', 405, 'GET, HEAD, OPTIONS'],
      // automatic OPTIONS lists every method
      ['OPTIONS', '/schematics', 200, 'OPTIONS, POST'],
      ['OPTIONS', `/image/${id}/v1.12.0/kernel-amd64`, 200, 'GET, HEAD, OPTIONS'],
    ]
    for (const [method, path, status, allow] of cases) {
      const res = await fetch(`${edge.url}${path}`, { method })
      expect(`${method} ${path} → ${res.status} ${res.headers.get('allow')}`).toBe(`${method} ${path} → ${status} ${allow}`)
      await res.arrayBuffer()
    }
  })

  test('/metrics and the request log record the status actually sent', async () => {
    const lines: string[] = []
    const logged = await startEdge({}, { log: (line) => lines.push(line) })
    try {
      const count = async (code: string, route: string) => {
        const text = await (await fetch(`${logged.url}/metrics`)).text()
        const m = new RegExp(`image_factory_http_requests_total\\{code="${code}",method="[A-Z]+",route="${route.replace(/[/]/g, '\\/')}"\\} (\\d+)`).exec(text)
        return m ? Number(m[1]) : 0
      }
      expect((await fetch(`${logged.url}/schematics`, { method: 'POST', body: '{}' })).status).toBe(201)
      expect((await fetch(`${logged.url}/nope`)).status).toBe(404)
      expect((await fetch(`${logged.url}/schematics`, { method: 'HEAD' })).status).toBe(405)
      // metrics and the log line are recorded after the response is sent: wait for them, not a fixed time
      for (let i = 0; i < 200 && ((await count('405', 'unmatched')) === 0 || lines.filter((l) => l.includes('"request"')).length < 3); i++) await Bun.sleep(20)
      expect(await count('201', '/schematics')).toBe(1)
      expect(await count('200', '/schematics')).toBe(0)
      expect(await count('404', 'unmatched')).toBe(1)
      expect(await count('405', 'unmatched')).toBe(1)
      const requests = lines.map((l) => JSON.parse(l) as { msg: string; path?: string; status?: number; method?: string }).filter((r) => r.msg === 'request')
      expect(requests.find((r) => r.path === '/schematics' && r.method === 'POST')?.status).toBe(201)
      expect(requests.find((r) => r.path === '/nope')?.status).toBe(404)
    } finally {
      await logged.stop()
    }
  })

  test('a trailing slash still reaches the route (httprouter redirects; Elysia matches directly)', async () => {
    const res = await fetch(`${edge.url}/healthz/`, { redirect: 'manual' })
    expect([200, 301]).toContain(res.status)
  })

  test('CORS preflight and simple requests as the reference', async () => {
    const pre = await fetch(`${edge.url}/schematics/${'0'.repeat(64)}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'cache-control' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET')
    expect(pre.headers.get('access-control-allow-headers')).toBe('cache-control')
    const postPre = await fetch(`${edge.url}/schematics`, {
      method: 'OPTIONS',
      headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' },
    })
    expect(postPre.headers.get('access-control-allow-origin')).toBeNull()
    const simple = await fetch(`${edge.url}/healthz`, { headers: { origin: 'https://example.com' } })
    expect(simple.headers.get('access-control-allow-origin')).toBe('*')
    for (const h of ['Content-Disposition', 'Content-Length', 'Content-Type']) {
      expect(simple.headers.get('access-control-expose-headers')).toContain(h)
    }
  })
})
