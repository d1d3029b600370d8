/**
 * Swagger UI renders in headless Chromium with every request staying on this machine, shows every
 * documented operation, and the document is valid OpenAPI 3.1 with JSON-Schema bodies.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { Validator } from '@seriousme/openapi-schema-validator'
import Ajv2020 from 'ajv/dist/2020.js'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { launchChromium } from '../helpers/browser.ts'


interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, { summary?: string; tags?: string[]; responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>; requestBody?: { content?: Record<string, { schema?: unknown }> } }>>
}

let edge: RunningEdge
let browser: Browser
let doc: OpenApiDoc

beforeAll(async () => {
  edge = await startEdge()
  doc = (await (await fetch(`${edge.url}/swagger/json`)).json()) as OpenApiDoc
  browser = await launchChromium()
}, 90_000) // Chromium takes seconds to start on a busy 2-core machine
afterAll(async () => {
  await browser?.close()
  await edge?.stop()
})

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch']
function operations(): { method: string; path: string; op: OpenApiDoc['paths'][string][string] }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ method, path, op })),
  )
}

describe('OpenAPI document', () => {
  test('validates as OpenAPI 3.1', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./)
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0])
    if (!result.valid) console.error(JSON.stringify(result.errors, null, 2))
    expect(result.valid).toBe(true)
    expect(operations().length).toBeGreaterThanOrEqual(4)
  })

  test('every operation has a summary, tags and JSON-Schema bodies', () => {
    const ajv = new Ajv2020({ strict: false })
    for (const { method, path, op } of operations()) {
      expect(`${method} ${path}: ${op.summary ?? ''}`).not.toEndWith(': ')
      expect(op.tags?.length ?? 0).toBeGreaterThan(0)
      const contents = [
        ...Object.values(op.responses ?? {}).flatMap((r) => Object.values(r.content ?? {})),
        ...Object.values(op.requestBody?.content ?? {}),
      ]
      expect(contents.length).toBeGreaterThan(0)
      for (const c of contents) {
        const schema = c.schema as Record<string, unknown>
        expect(schema).toBeDefined()
        // valibot internals must never leak into the document
        for (const k of ['kind', '~standard', 'async', 'pipe', 'expects']) expect(Object.keys(schema)).not.toContain(k)
        expect(() => ajv.compile(schema)).not.toThrow()
      }
    }
  })
})

describe('Swagger UI', () => {
  test('renders every documented operation without leaving the machine', async () => {
    const offHost: string[] = []
    const page = await browser.newPage()
    await page.route('**/*', (route) => {
      const u = new URL(route.request().url())
      if (u.hostname !== '127.0.0.1' && u.protocol !== 'data:' && u.protocol !== 'blob:') {
        offHost.push(u.href)
        return route.abort()
      }
      return route.continue()
    })
    const failed: string[] = []
    page.on('requestfailed', (r) => failed.push(r.url()))
    let rendered: { method: string; path: string }[]
    try {
      await page.goto(`${edge.url}/swagger`, { waitUntil: 'networkidle', timeout: 60_000 })
      await page.waitForSelector('.opblock', { timeout: 60_000 })
      rendered = await page.$$eval('.opblock', (els) =>
        els.map((el) => ({
          method: (el.querySelector('.opblock-summary-method')?.textContent ?? '').trim().toLowerCase(),
          path: el.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
        })),
      )
    } finally {
      await page.close()
    }
    expect(offHost).toEqual([])
    expect(failed).toEqual([])
    const got = new Set(rendered.map((r) => `${r.method} ${r.path}`))
    for (const { method, path } of operations()) expect(got).toContain(`${method} ${path}`)
  }, 150_000)
})
