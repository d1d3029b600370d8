/**
 * The page shell shared by every wizard step: document head (our own CSS and JS, served by the
 * factory), header, the step indicator, the summary of choices so far, and the footer with the
 * factory version and the API links. No inline script or style, so the pages run under a strict
 * Content-Security-Policy.
 */
import pkg from '../../package.json'
import { html, type Html } from './html.ts'
import { NO_EXTENSIONS, type Step, type WizardParams } from './params.ts'
import { CLOUD_PLATFORMS, SBCS } from '../../src/talos/platforms.ts'

export const STEP_LABELS: Record<Step, string> = {
  start: 'Hardware',
  version: 'Version',
  cloud: 'Cloud',
  sbc: 'Board',
  arch: 'Architecture',
  extensions: 'Extensions',
  cmdline: 'Customization',
  final: 'Schematic',
}

const TARGET_LABELS = { metal: 'Bare-metal machine', cloud: 'Cloud server', sbc: 'Single-board computer' } as const

/** Asset URL with the factory version, so a new release is never served a cached old file. */
export const uiAsset = (file: string) => `/ui/assets/${file}?v=${encodeURIComponent(pkg.version)}`

export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}

function stepIndicator(steps: readonly Step[], current: Step): Html {
  const at = steps.indexOf(current)
  return html`<nav class="steps" aria-label="Wizard steps"><ol>${steps.map((s, i) => {
    const state = i < at ? 'done' : i === at ? 'current' : 'todo'
    return html`<li class="${state}"${i === at ? html` aria-current="step"` : ''}><span class="num" aria-hidden="true">${i + 1}</span> ${STEP_LABELS[s]}${
      i < at ? html`<span class="visually-hidden"> (done)</span>` : ''
    }</li>`
  })}</ol></nav>`
}

/** What was chosen so far, in words. */
function summary(p: WizardParams, current: Step): Html {
  const rows: [string, string][] = []
  if (p.target) rows.push(['Hardware', TARGET_LABELS[p.target]])
  if (p.version) rows.push(['Talos version', p.version])
  if (p.target === 'cloud' && p.platform) rows.push(['Platform', CLOUD_PLATFORMS.find((c) => c.name === p.platform)?.label ?? p.platform])
  if (p.target === 'sbc' && p.board) rows.push(['Board', SBCS.find((b) => b.name === p.board)?.label ?? p.board])
  if (p.arch) rows.push(['Architecture', p.arch + (p.secureboot ? ' with SecureBoot' : '')])
  if (p.extensions.length > 0 && current !== 'extensions') {
    const n = p.extensions.filter((e) => e !== NO_EXTENSIONS).length
    rows.push(['System extensions', n === 0 ? 'none' : String(n)])
  }
  if (rows.length === 0) return html``
  return html`<dl class="summary">${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`
}

export interface PageInput {
  title: string
  body: Html
  p?: WizardParams
  steps?: readonly Step[]
  step?: Step
}

export function renderPage(input: PageInput): string {
  const progress = input.steps && input.step ? stepIndicator(input.steps, input.step) : ''
  const chosen = input.p && input.step && input.step !== 'start' ? summary(input.p, input.step) : ''
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${input.title} · Talos Linux Image Factory</title>
<link rel="icon" type="image/svg+xml" href="${uiAsset('favicon.svg')}">
<link rel="stylesheet" href="${uiAsset('ui.css')}">
<script src="${uiAsset('ui.js')}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="site"><div class="wrap">
<a class="brand" href="/"><img src="${uiAsset('favicon.svg')}" alt="" width="28" height="28"> Talos Linux Image Factory</a>
<nav aria-label="Factory"><ul><li><a href="/swagger">API</a></li><li><a href="/llms.txt">llms.txt</a></li></ul></nav>
</div></header>
<main id="main" class="wrap">
${progress}
${chosen}
${input.body}
</main>
<footer class="site"><div class="wrap">
<p>Image Factory v${pkg.version} · <a href="/swagger">API documentation (Swagger UI)</a> · <a href="/versions">Versions (JSON)</a> · <a href="/llms.txt">llms.txt</a></p>
</div></footer>
<div id="announce" class="visually-hidden" aria-live="polite"></div>
</body>
</html>`}\n`
}
