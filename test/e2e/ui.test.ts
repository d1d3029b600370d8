/**
 * The web wizard in headless Chromium against the stand-in release: metal, cloud and SBC paths
 * walked by clicking and typing (one step with the keyboard only), the schematic ID equal to what
 * POST /schematics returns for the same choices, every factory link on the final page answering
 * (200, or 501 for kinds this factory does not build yet, or 400 for SecureBoot while the factory
 * has no SecureBoot keys), "Build now" with its progress bar, copy to clipboard, deep links that
 * re-open each step with the same choices, no request leaving the machine, no console errors, no
 * critical axe-core violation, and screenshots at desktop and phone widths in light and dark
 * (test/helpers/browser.ts). The same pages without a browser: test/integration/ui-http.test.ts.
 *
 * Screenshots: test-output/ui/ (gitignored).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { freePort } from '../helpers/ports.ts'
import { BUILT_KINDS } from '../../src/asset/kinds.ts'
import { arrive, expectDeepLinksReopen, finishSession, launchChromium, newSession, screenshots } from '../helpers/browser.ts'

const VERSION = '1.12.0'
const OUT = resolve(import.meta.dir, '../../test-output/ui')

let up: Upstream
let edge: RunningEdge
let browser: Browser

beforeAll(async () => {
  await mkdir(OUT, { recursive: true })
  up = await sharedUpstream()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  edge = await startEdge({ ...up.env, FACTORY_HTTP_ADDR: `127.0.0.1:${port}`, FACTORY_EXTERNAL_URL: url, FACTORY_EXTERNAL_PXE_URL: url })
  browser = await launchChromium()
}, 240_000)
afterAll(async () => {
  await browser?.close()
  await edge?.stop()
  await up?.stop()
})

// ---- helpers -----------------------------------------------------------------------------------

async function next(page: Page, name = 'Next'): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click()
  await page.waitForLoadState('load')
}

/** The ID POST /schematics gives the same choices (the reference UI's rules, written out). */
async function apiSchematicId(schematic: object): Promise<string> {
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify(schematic) })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

/** Every link to the factory on the final page answers as documented. */
async function checkFactoryLinks(page: Page): Promise<number> {
  const links = await page.$$eval('a[data-factory-link]', (as) => as.map((a) => ({ href: a.getAttribute('href') ?? '', kind: a.getAttribute('data-kind') ?? '' })))
  const canonical = (await page.textContent('#schematic-yaml')) ?? ''
  const answers: string[] = []
  const problems: string[] = []
  for (const { href, kind } of links) {
    const u = new URL(href)
    expect(`${u.protocol}//${u.host}`).toBe(edge.url)
    const secure = u.pathname.includes('-secureboot')
    let expected = 200
    let reason: string | undefined
    if (u.pathname.startsWith('/image/') && !BUILT_KINDS.has(kind)) expected = 501
    else if ((u.pathname.startsWith('/image/') || u.pathname.startsWith('/pxe/')) && secure) {
      // no SecureBoot signing keys in this factory yet: the documented 400
      expected = 400
      reason = 'error enhancing profile from schematic: secure boot is disabled'
    }
    const method = u.pathname.startsWith('/image/') || u.pathname.startsWith('/talosctl/') ? 'HEAD' : 'GET'
    const res = await fetch(href, { method })
    const body = method === 'GET' || res.status >= 400 ? await res.text() : ''
    answers.push(`${method} ${u.pathname} ${res.status}`)
    if (res.status !== expected) problems.push(`${method} ${u.pathname}: ${res.status} ${body.trim()} (expected ${expected})`)
    if (reason && method === 'GET' && body.trim() !== reason) problems.push(`${u.pathname}: ${body.trim()}`)
    if (res.status === 200 && u.pathname.startsWith('/pxe/')) expect(body.startsWith('#!ipxe\n')).toBe(true)
    if (res.status === 200 && u.pathname.startsWith('/schematics/')) expect(body).toBe(canonical)
  }
  console.info(`links: ${answers.join(', ')}`)
  expect(problems).toEqual([])
  return links.length
}

const sha256 = (b: ArrayBuffer) => new Bun.CryptoHasher('sha256').update(new Uint8Array(b)).digest('hex')

// ---- walks -------------------------------------------------------------------------------------

describe('wizard in Chromium', () => {
  test('metal: extensions, kernel args, bootloader; Build now with progress; copy; every link answers', async () => {
    const s = await newSession(browser)
    await s.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: edge.url })
    const { page } = s
    try {
      const t0 = performance.now()
      await page.goto(`${edge.url}/`, { waitUntil: 'load' })
      await arrive(s, 'Build a Talos Linux boot image', 'start')
      expect(await page.textContent('.status')).toContain(`v${VERSION}`)
      expect(await page.textContent('.status')).toContain('reachable')
      await screenshots(page, OUT, 'metal-1-start')
      await page.click('label[for="target-metal"]')
      await next(page)

      await arrive(s, 'Choose the Talos Linux version', 'version')
      await page.selectOption('#version', VERSION)
      await next(page)

      await arrive(s, 'Choose the architecture', 'arch')
      await page.click('label[for="arch-amd64"]')
      await next(page)

      await arrive(s, 'Choose system extensions', 'extensions')
      await page.fill('#ext-search', '')
      await page.type('#ext-search', 'ucode')
      const visible = await page.$$eval('#ext-list li.ext:not([hidden]) input', (els) => els.map((e) => e.getAttribute('value')))
      expect(visible).toEqual(['siderolabs/amd-ucode', 'siderolabs/intel-ucode'])
      expect(await page.textContent('#ext-count')).toBe('Showing 2 of 6 extensions.')
      await page.click('label[for="ext-siderolabs-amd-ucode"]')
      await page.fill('#ext-search', '')
      await page.type('#ext-search', 'gVisor')
      await page.click('label[for="ext-siderolabs-gvisor"]')
      // the checked extension stays listed while another is searched
      expect(await page.isVisible('label[for="ext-siderolabs-amd-ucode"]')).toBe(true)
      await screenshots(page, OUT, 'metal-2-extensions')
      await next(page)

      await arrive(s, 'Customize', 'customization')
      await page.type('#cmdline', 'net.ifnames=0 console=ttyS0')
      await page.click('label[for="bootloader-sd-boot"]')
      await next(page, 'Create the schematic')

      await arrive(s, 'Your schematic is ready', 'final')
      console.info(`metal walk reached the final page in ${Math.round(performance.now() - t0)} ms`)
      const id = (await page.textContent('#schematic-id'))?.trim()
      expect(id).toBe(
        await apiSchematicId({
          customization: { extraKernelArgs: ['net.ifnames=0', 'console=ttyS0'], systemExtensions: { officialExtensions: ['siderolabs/amd-ucode', 'siderolabs/gvisor'] }, bootloader: 'sd-boot' },
        }),
      )
      expect(await page.textContent('#installer-image')).toBe(`127.0.0.1:${new URL(edge.url).port}/metal-installer/${id}:v${VERSION}`)
      expect(await page.textContent('#upgrade-command')).toBe(`talosctl upgrade --image 127.0.0.1:${new URL(edge.url).port}/metal-installer/${id}:v${VERSION}`)
      expect(await page.textContent('#pxe-url')).toBe(`${edge.url}/pxe/${id}/v${VERSION}/metal-amd64`)

      // copy to clipboard
      await page.click('button[data-copy="schematic-id"]')
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(id!)

      // Build now: a cold initramfs build followed to the end, then the download matches
      const row = page.locator('.build[data-progress$="/initramfs-amd64.xz"]')
      await page.evaluate(`(() => {
        window.seen = []
        const status = document.querySelector('.build[data-progress$="/initramfs-amd64.xz"] .build-status')
        new MutationObserver(() => window.seen.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true })
      })()`)
      const built0 = performance.now()
      await row.locator('button').click()
      await page.waitForSelector('.build[data-progress$="/initramfs-amd64.xz"] .build-status.ok', { timeout: 150_000 })
      const seen = (await page.evaluate('window.seen')) as string[]
      console.info(`Build now: ${Math.round(performance.now() - built0)} ms; statuses: ${JSON.stringify(seen)}`)
      expect(seen.some((t) => t.startsWith('Building: ') || t.startsWith('Preparing'))).toBe(true)
      expect(await row.locator('progress').getAttribute('value')).toBe('1')
      const download = await (await fetch(`${edge.url}/image/${id}/v${VERSION}/initramfs-amd64.xz`)).arrayBuffer()
      expect(await row.locator('.build-status').textContent()).toContain(`sha256 ${sha256(download)}`)
      await screenshots(page, OUT, 'metal-3-final')

      expect(await checkFactoryLinks(page)).toBeGreaterThan(15)
      await expectDeepLinksReopen(s)
    } finally {
      await finishSession(s)
    }
  }, 400_000)

  test('cloud: keyboard on the first step, arm64 with SecureBoot, Back keeps the choices', async () => {
    const s = await newSession(browser)
    const { page } = s
    try {
      await page.goto(`${edge.url}/`, { waitUntil: 'load' })
      await arrive(s, 'Build a Talos Linux boot image', 'start')
      // keyboard only: arrow to "Cloud server", tab to Next, Enter
      await page.focus('#target-metal')
      await page.keyboard.press('ArrowDown')
      expect(await page.isChecked('#target-cloud')).toBe(true)
      await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Next')
      await page.keyboard.press('Enter')
      await page.waitForLoadState('load')

      await arrive(s, 'Choose the Talos Linux version', 'version')
      await page.selectOption('#version', VERSION)
      await next(page)

      await arrive(s, 'Choose the cloud platform', 'cloud')
      await page.click('label[for="platform-nocloud"]')
      await next(page)

      await arrive(s, 'Choose the architecture', 'arch')
      await page.click('label[for="arch-arm64"]')
      await page.click('label[for="secureboot"]')
      await next(page)

      await arrive(s, 'Choose system extensions', 'extensions')
      // Back re-opens the architecture step with arm64 and SecureBoot still chosen
      await page.getByRole('link', { name: 'Back' }).click()
      await page.waitForSelector('h1:text-is("Choose the architecture")')
      expect(await page.isChecked('#arch-arm64')).toBe(true)
      expect(await page.isChecked('#secureboot')).toBe(true)
      await next(page)
      await page.waitForSelector('h1:text-is("Choose system extensions")')
      await next(page)

      await arrive(s, 'Customize', 'customization')
      // GRUB cannot boot with SecureBoot: not offered
      expect(await page.$('#bootloader-grub')).toBeNull()
      await page.type('#cmdline', 'console=ttyAMA0')
      await next(page, 'Create the schematic')

      await arrive(s, 'Your schematic is ready', 'final')
      const id = (await page.textContent('#schematic-id'))?.trim()
      expect(id).toBe(await apiSchematicId({ customization: { extraKernelArgs: ['console=ttyAMA0'] } }))
      expect(await page.textContent('#installer-image')).toBe(`127.0.0.1:${new URL(edge.url).port}/nocloud-installer-secureboot/${id}:v${VERSION}`)
      const files = await page.$$eval('.asset code.file', (els) => els.map((e) => e.textContent))
      expect(files).toEqual(['nocloud-arm64-secureboot.raw.xz', 'nocloud-arm64-secureboot.iso'])
      expect(await page.textContent('#pxe-url')).toBe(`${edge.url}/pxe/${id}/v${VERSION}/nocloud-arm64-secureboot`)
      await screenshots(page, OUT, 'cloud-final')
      await checkFactoryLinks(page)
      await expectDeepLinksReopen(s)
    } finally {
      await finishSession(s)
    }
  }, 300_000)

  test('SBC: board, overlay options; arm64 disk image', async () => {
    const s = await newSession(browser)
    const { page } = s
    try {
      await page.goto(`${edge.url}/`, { waitUntil: 'load' })
      await arrive(s, 'Build a Talos Linux boot image', 'start')
      await page.click('label[for="target-sbc"]')
      await next(page)

      await arrive(s, 'Choose the Talos Linux version', 'version')
      expect(await page.textContent('#version-hint')).toContain('Single-board computers need Talos 1.7.0 or later')
      await page.selectOption('#version', VERSION)
      await next(page)

      await arrive(s, 'Choose the board', 'board')
      await page.click('label[for="board-rpi_generic"]')
      await next(page)

      // no architecture step: SBC images are arm64
      await arrive(s, 'Choose system extensions', 'extensions')
      await next(page)

      await arrive(s, 'Customize', 'customization')
      await page.type('#overlay-options', 'configTxtAppend: dtoverlay=vc4-kms-v3d')
      await next(page, 'Create the schematic')

      await arrive(s, 'Your schematic is ready', 'final')
      const id = (await page.textContent('#schematic-id'))?.trim()
      expect(id).toBe(
        await apiSchematicId({ overlay: { image: 'siderolabs/sbc-raspberrypi', name: 'rpi_generic', options: { configTxtAppend: 'dtoverlay=vc4-kms-v3d' } }, customization: {} }),
      )
      expect(await page.$$eval('.asset code.file', (els) => els.map((e) => e.textContent))).toEqual(['metal-arm64.raw.xz'])
      expect(await page.textContent('#installer-image')).toBe(`127.0.0.1:${new URL(edge.url).port}/metal-installer/${id}:v${VERSION}`)
      await screenshots(page, OUT, 'sbc-final')
      await checkFactoryLinks(page)
      await expectDeepLinksReopen(s)
    } finally {
      await finishSession(s)
    }
  }, 300_000)
})
