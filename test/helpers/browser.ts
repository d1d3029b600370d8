/**
 * Headless Debian Chromium for the UI tests (playwright-core): a session per walk that keeps every
 * request on this machine and records console errors, the state of each wizard step for deep-link
 * checks, axe-core accessibility checks (injected from node_modules), and screenshots at desktop
 * and phone widths in light and dark.
 *
 * Browser-side code is passed as text: the project's TypeScript has no DOM library.
 */
import { expect } from 'bun:test'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { AxeResults } from 'axe-core'
import { join } from 'node:path'
import { createRequire } from 'node:module'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
export const DESKTOP = { width: 1280, height: 900 }
export const PHONE = { width: 390, height: 844 }
const AXE_SOURCE = await Bun.file(createRequire(import.meta.url).resolve('axe-core/axe.min.js')).text()

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
}

export interface Session {
  context: BrowserContext
  page: Page
  offHost: string[]
  consoleErrors: string[]
  /** (label, URL, state) of each step as it was reached */
  visited: { label: string; url: string; state: string }[]
}

export async function newSession(browser: Browser): Promise<Session> {
  const context = await browser.newContext({ viewport: DESKTOP })
  const s: Session = { context, page: await context.newPage(), offHost: [], consoleErrors: [], visited: [] }
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url())
    if (u.hostname !== '127.0.0.1' && u.protocol !== 'data:' && u.protocol !== 'blob:') {
      s.offHost.push(u.href)
      return route.abort()
    }
    return route.continue()
  })
  s.page.on('console', (m) => {
    if (m.type() === 'error') s.consoleErrors.push(m.text())
  })
  s.page.on('pageerror', (e) => s.consoleErrors.push(`pageerror: ${e.message}`))
  return s
}

/** Closes the session; nothing left the machine and the console stayed clean. */
export async function finishSession(s: Session): Promise<void> {
  await s.context.close()
  expect(s.offHost).toEqual([])
  expect(s.consoleErrors).toEqual([])
}

const STATE_JS = `(() => {
  const h1 = document.querySelector('h1')?.textContent ?? ''
  const form = document.querySelector('form.step')
  const fields = form ? [...new FormData(form)].map(([k, v]) => k + '=' + String(v)) : []
  const id = document.getElementById('schematic-id')?.textContent ?? ''
  return JSON.stringify({ h1, fields, id })
})()`
const AXE_RUN_JS = `axe.run(document, { resultTypes: ['violations'] }).then((r) =>
  r.violations.map((v) => ({ id: v.id, impact: v.impact || '', nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })))`

/** What a step shows: its heading and its form's fields (or the final page's schematic ID). */
export async function pageState(page: Page): Promise<string> {
  return (await page.evaluate(STATE_JS)) as string
}

/** Waits for a step, records its URL and state, and checks it with axe-core. */
export async function arrive(s: Session, heading: string, label: string): Promise<void> {
  await s.page.waitForSelector(`h1:text-is("${heading}")`, { timeout: 30_000 })
  s.visited.push({ label, url: s.page.url(), state: await pageState(s.page) })
  await expectAccessible(s.page, label)
}

/** Each recorded step URL re-opens the same step with the same choices. */
export async function expectDeepLinksReopen(s: Session): Promise<void> {
  const page = await s.context.newPage()
  try {
    for (const v of s.visited) {
      await page.goto(v.url, { waitUntil: 'load' })
      expect(`${v.label}: ${await pageState(page)}`).toBe(`${v.label}: ${v.state}`)
    }
  } finally {
    await page.close()
  }
}

/** No critical axe-core violation (serious ones are printed). */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(AXE_SOURCE)
  const results = (await page.evaluate(AXE_RUN_JS)) as { id: string; impact: NonNullable<AxeResults['violations'][number]['impact']> | ''; nodes: string[] }[]
  const serious = results.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  if (serious.length > 0) console.warn(`axe ${label}: ${JSON.stringify(serious)}`)
  expect(`${label}: ${JSON.stringify(results.filter((v) => v.impact === 'critical'))}`).toBe(`${label}: []`)
}

/** Desktop and phone widths, light and dark (axe-checked in dark too); back to desktop light. */
export async function screenshots(page: Page, dir: string, name: string): Promise<void> {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      await page.setViewportSize(viewport)
      await page.emulateMedia({ colorScheme: scheme })
      await page.screenshot({ path: join(dir, `${name}-${size}-${scheme}.png`), fullPage: true })
      if (scheme === 'dark' && size === 'desktop') await expectAccessible(page, `${name} (dark)`)
    }
  }
  await page.setViewportSize(DESKTOP)
  await page.emulateMedia({ colorScheme: 'light' })
}
