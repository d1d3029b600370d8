/**
 * The wizard's step forms (factory-spec §3.12): hardware, version, cloud platform or board,
 * architecture (with SecureBoot), system extensions, customization. Each is a plain form that
 * works without JavaScript: GET to `/` (the resulting URL is the next step's deep link), except the
 * last one, which POSTs (it may carry an embedded machine configuration, which never goes into a
 * URL) to /ui/wizard.
 */
import type { OfficialExtension } from '../../src/catalog/extensions.ts'
import { METAL_PLATFORM, type Arch } from '../../src/talos/platforms.ts'
import { compareSemver, isPrerelease, parseSemver } from '../../src/talos/semver.ts'
import { html, type Html } from './html.ts'
import {
  atLeast,
  bootloaderOffered,
  boardsFor,
  cloudPlatformsFor,
  embeddedConfigOffered,
  NO_EXTENSIONS,
  overlayOptionsOffered,
  platformInfo,
  rememberedOr,
  SBC_MIN_VERSION,
  secureBootOffered,
  type WizardParams,
} from './params.ts'
import type { Prefill } from './schematic.ts'
import { formatBytes, type FactoryStatus } from './status.ts'

export interface StepView {
  p: WizardParams
  prefill: Prefill
  /** the previous step's URL, null on the first */
  back: string | null
  /** choices made before this step, carried as hidden fields */
  hidden: [string, string][]
}

/** Extensions the reference hides from the list. */
const HIDDEN_EXTENSIONS = new Set(['siderolabs/metal-agent'])

export function docsUrl(version: string, path = ''): string {
  const v = parseSemver(version)
  return `https://docs.siderolabs.com/talos/v${v.major}.${v.minor}${path}`
}

export function releaseNotesUrl(version: string): string {
  return `https://github.com/siderolabs/talos/releases/tag/v${version}`
}

function hiddenFields(pairs: readonly [string, string][]): Html {
  return html`${pairs.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`
}

function actions(back: string | null, next: string): Html {
  return html`<div class="actions">${back ? html`<a class="button secondary" href="${back}">Back</a>` : ''}<button type="submit" class="primary">${next}</button></div>`
}

function radio(name: string, value: string, checked: boolean, title: string, hint?: string, extra?: Html): Html {
  const id = `${name}-${value}`
  return html`<div class="choice"><input type="radio" id="${id}" name="${name}" value="${value}"${checked ? html` checked` : ''}><label for="${id}"><strong>${title}</strong>${hint ? html`<span class="hint">${hint}</span>` : ''}</label>${extra ?? ''}</div>`
}

function getForm(view: StepView, body: Html, next = 'Next'): Html {
  return html`<form method="get" action="/" class="step">${hiddenFields(view.hidden)}${body}${actions(view.back, next)}</form>`
}

// ---- hardware ----------------------------------------------------------------------------------

export function startStep(view: StepView, status: FactoryStatus): Html {
  const chosen = rememberedOr(view.p, 'target', view.prefill.target ? [view.prefill.target] : ['metal'])[0]
  const body = html`<fieldset><legend>What will Talos Linux run on?</legend>
${radio('target', 'metal', chosen === 'metal', 'Bare-metal machine', 'Servers and PCs: boot from an ISO, a disk image or the network (PXE).')}
${radio('target', 'cloud', chosen === 'cloud', 'Cloud server', 'Virtual machines on a cloud or virtualization platform (AWS, Azure, GCP, Hetzner, VMware, …).')}
${radio('target', 'sbc', chosen === 'sbc', 'Single-board computer', 'Raspberry Pi and other ARM boards (Talos 1.7 and later).')}
</fieldset>`
  return html`<h1>Build a Talos Linux boot image</h1>
<p class="lead">Choose the hardware, the Talos version, system extensions and kernel arguments: the factory records them as a <em>schematic</em> and gives you every download link, the PXE script and the installer image for it.</p>
${getForm(view, body)}
${statusSection(status)}`
}

function statusSection(s: FactoryStatus): Html {
  const upstream: Record<FactoryStatus['upstream'], string> = {
    reachable: 'reachable',
    stale: 'unreachable — serving the last known lists',
    unreachable: 'unreachable — no version list yet',
    checking: 'not answering yet — still checking',
  }
  const versions = [...s.versions].reverse()
  return html`<section class="status" aria-labelledby="status-heading">
<h2 id="status-heading">About this factory</h2>
<dl>
<div><dt>Factory version</dt><dd>v${s.version}</dd></div>
<div><dt>Upstream registry</dt><dd><code>${s.registry}</code>: <span class="state-${s.upstream}">${upstream[s.upstream]}</span></dd></div>
<div><dt>Talos versions</dt><dd>${versions.length === 0 ? 'none known yet' : html`${versions.length}: ${versions.map((v, i) => html`${i > 0 ? ', ' : ''}<code>${v}</code>`)}`}</dd></div>
<div><dt>Asset cache</dt><dd>${s.cache ? `${formatBytes(s.cache.bytes)} of ${formatBytes(s.cache.maxBytes)}` : 'unknown (builder not answering)'}</dd></div>
<div><dt>Builder</dt><dd>${s.builder === 'embedded' ? 'in the web process' : 'separate daemon'}</dd></div>
</dl>
<p>Scripts and tools: <a href="/swagger">the HTTP API (Swagger UI)</a>, <a href="/status">this state as JSON</a>, <a href="/llms.txt">llms.txt</a>.</p>
</section>`
}

// ---- version -----------------------------------------------------------------------------------

/** `1.12` for releases, `1.12-pre` for their pre-releases; newest first. */
function versionGroups(tags: readonly string[]): { label: string; versions: string[] }[] {
  const parsed = tags.map((t) => ({ text: t.replace(/^v/, ''), v: parseSemver(t) }))
  parsed.sort((a, b) => compareSemver(b.v, a.v))
  const groups: { label: string; versions: string[] }[] = []
  for (const { text, v } of parsed) {
    const label = `${v.major}.${v.minor}${isPrerelease(v) ? '-pre' : ''}`
    const last = groups.at(-1)
    if (last?.label === label) last.versions.push(text)
    else groups.push({ label, versions: [text] })
  }
  return groups
}

export function versionStep(view: StepView, tags: readonly string[]): Html {
  const sbc = view.p.target === 'sbc'
  const offered = tags.filter((t) => !sbc || atLeast(t.replace(/^v/, ''), SBC_MIN_VERSION))
  const groups = versionGroups(offered)
  const stable = groups.flatMap((g) => g.versions).find((t) => !isPrerelease(parseSemver(t)))
  const chosen = rememberedOr(view.p, 'version', [stable ?? groups[0]?.versions[0] ?? ''])[0] ?? ''
  const body = html`<div class="field">
<label for="version">Talos Linux version</label>
<select id="version" name="version" aria-describedby="version-hint">${groups.map(
    (g) => html`<optgroup label="${g.label}">${g.versions.map((t) => html`<option value="${t}"${t === chosen ? html` selected` : ''}>${t}</option>`)}</optgroup>`,
  )}</select>
<p class="hint" id="version-hint">${sbc ? `Single-board computers need Talos ${SBC_MIN_VERSION} or later, so only those versions are listed. ` : ''}The newest stable release is preselected.</p>
</div>
${chosen ? html`<p><a id="release-notes" href="${releaseNotesUrl(chosen)}" data-release-notes="https://github.com/siderolabs/talos/releases/tag/v">Release notes of Talos <span>${chosen}</span></a></p>` : ''}`
  return html`<h1>Choose the Talos Linux version</h1>${offered.length === 0 ? html`<p class="error">No Talos version is available: the upstream registry has not answered yet.</p>` : getForm(view, body)}`
}

// ---- platform / board --------------------------------------------------------------------------

export function cloudStep(view: StepView): Html {
  const version = view.p.version ?? ''
  const platforms = cloudPlatformsFor(version)
  const chosen = rememberedOr(view.p, 'platform', ['aws'])[0]
  const body = html`<fieldset><legend>Cloud or virtualization platform</legend>
<div class="choices">${platforms.map((pl) =>
    radio('platform', pl.name, pl.name === chosen, pl.label, pl.description, pl.documentation ? html`<a class="doc" href="${docsUrl(version, pl.documentation)}">${pl.label} guide</a>` : undefined),
  )}</div></fieldset>`
  return html`<h1>Choose the cloud platform</h1>${getForm(view, body)}`
}

export function sbcStep(view: StepView): Html {
  const version = view.p.version ?? ''
  const boards = boardsFor(version)
  const chosen = rememberedOr(view.p, 'board', [view.prefill.board ?? 'rpi_generic'])[0]
  const body = html`<fieldset><legend>Single-board computer</legend>
<div class="choices">${boards.map((b) =>
    radio('board', b.name, b.name === chosen, b.label, `Overlay ${b.overlayImage} (${b.overlayName})`, b.documentation ? html`<a class="doc" href="${docsUrl(version, b.documentation)}">${b.label} guide</a>` : undefined),
  )}</div></fieldset>`
  return html`<h1>Choose the board</h1>${getForm(view, body)}`
}

// ---- architecture ------------------------------------------------------------------------------

export function archStep(view: StepView): Html {
  const platform = platformInfo(view.p) ?? METAL_PLATFORM
  const arches: readonly Arch[] = platform.architectures
  const remembered = rememberedOr(view.p, 'arch', ['amd64'])[0] as Arch
  const chosen = arches.includes(remembered) ? remembered : arches[0]
  const sbOffered = secureBootOffered(view.p)
  const sbChecked = rememberedOr(view.p, 'secureboot')[0] === 'true'
  const labels: Record<Arch, [string, string]> = {
    amd64: ['amd64 (x86-64)', 'Intel and AMD 64-bit processors.'],
    arm64: ['arm64 (AArch64)', '64-bit ARM processors (Ampere, Graviton, …).'],
  }
  const body = html`<fieldset><legend>Processor architecture</legend>
${arches.map((a) => radio('arch', a, a === chosen, labels[a][0], labels[a][1]))}
</fieldset>
${sbOffered
    ? html`<div class="field checkbox"><input type="checkbox" id="secureboot" name="secureboot" value="true"${sbChecked ? html` checked` : ''} aria-describedby="secureboot-hint"><label for="secureboot">SecureBoot</label>
<p class="hint" id="secureboot-hint">Boot media signed with this factory's SecureBoot key (UEFI only). The machine must trust the key: enroll it first.</p></div>`
    : ''}`
  return html`<h1>Choose the architecture</h1>${getForm(view, body)}`
}

// ---- extensions --------------------------------------------------------------------------------

export function extensionsStep(view: StepView, all: readonly OfficialExtension[]): Html {
  const p = view.p
  const checked = new Set(p.filter ? p.extensions : rememberedOr(p, 'extensions', view.prefill.extensions))
  checked.delete(NO_EXTENSIONS)
  const search = p.search.toLowerCase()
  const offered = all.filter((e) => !HIDDEN_EXTENSIONS.has(e.name))
  const matches = (e: OfficialExtension) => search === '' || e.name.toLowerCase().includes(search) || e.description.toLowerCase().includes(search)
  // checked extensions stay listed whatever the filter says
  const shown = offered.filter((e) => checked.has(e.name) || matches(e))
  const body = html`<input type="hidden" name="extensions" value="${NO_EXTENSIONS}">
<div class="search field">
<label for="ext-search">Search extensions</label>
<div class="search-row"><input type="search" id="ext-search" name="search" value="${p.search}" autocomplete="off" aria-describedby="ext-count" aria-controls="ext-list"><button type="submit" name="filter" value="1" class="secondary" data-nojs>Filter</button></div>
<p class="hint" id="ext-count" aria-live="polite">Showing ${shown.length} of ${offered.length} extensions.</p>
</div>
<fieldset><legend>System extensions <span class="hint">(optional)</span></legend>
<ul class="ext-list" id="ext-list">${shown.map((e) => {
    const id = `ext-${e.name.replace(/[^A-Za-z0-9]/g, '-')}`
    const description = e.description.trim()
    return html`<li class="ext" data-search="${`${e.name} ${description}`.toLowerCase()}"><input type="checkbox" id="${id}" name="extensions" value="${e.name}"${checked.has(e.name) ? html` checked` : ''}><label for="${id}"><strong>${e.name}</strong> <span class="hint">${description || 'No description.'}</span></label></li>`
  })}</ul>
${offered.length === 0 ? html`<p>No official extensions are published for this version.</p>` : ''}
</fieldset>`
  return html`<h1>Choose system extensions</h1>
<p class="lead">Extensions add drivers, firmware and tools to the image. Leave everything unchecked for a plain image.</p>
${getForm(view, body)}`
}

// ---- customization (POST) ----------------------------------------------------------------------

export function cmdlineStep(view: StepView): Html {
  const p = view.p
  const cmdline = rememberedOr(p, 'cmdline', [view.prefill.cmdline])[0] ?? ''
  const bootloader = rememberedOr(p, 'bootloader', [view.prefill.bootloader ?? 'auto'])[0]
  const overlayOptions = rememberedOr(p, 'overlay-options', [view.prefill.overlayOptions])[0] ?? ''
  const bootloaders: [string, string, string][] = [
    ['auto', 'Automatic', 'The default for this version, architecture and SecureBoot setting.'],
    ['sd-boot', 'systemd-boot', 'UEFI only.'],
    ['grub', 'GRUB', 'BIOS and UEFI.'],
    ['dual-boot', 'Dual boot', 'GRUB for BIOS, systemd-boot for UEFI.'],
  ]
  const body = html`<input type="hidden" name="cmdline-set" value="true">
<div class="field">
<label for="cmdline">Extra kernel arguments <span class="hint">(optional)</span></label>
<input type="text" id="cmdline" name="cmdline" value="${cmdline}" autocomplete="off" spellcheck="false" aria-describedby="cmdline-hint">
<p class="hint" id="cmdline-hint">Separated by single spaces, for example <code>net.ifnames=0 console=ttyS0</code>.</p>
</div>
${bootloaderOffered(p)
    ? html`<fieldset><legend>Bootloader</legend>${bootloaders
        .filter(([v]) => !(p.secureboot && v === 'grub'))
        .map(([v, title, hint]) => radio('bootloader', v, v === bootloader, title, hint))}</fieldset>`
    : ''}
${overlayOptionsOffered(p)
    ? html`<div class="field"><label for="overlay-options">Overlay options <span class="hint">(optional, YAML)</span></label>
<textarea id="overlay-options" name="overlay-options" rows="4" spellcheck="false" aria-describedby="overlay-options-hint">${overlayOptions}</textarea>
<p class="hint" id="overlay-options-hint">Options for the board's overlay, as a YAML mapping.</p></div>`
    : ''}
${embeddedConfigOffered(p)
    ? html`<div class="field"><label for="embedded-config">Embedded machine configuration <span class="hint">(optional, YAML)</span></label>
<textarea id="embedded-config" name="embedded-config" rows="6" spellcheck="false" aria-describedby="embedded-config-hint">${view.prefill.embeddedConfig}</textarea>
<p class="hint" id="embedded-config-hint">Built into the image and applied on first boot. It is sent in the request body and never appears in a URL, but anyone who can download the image can read it.</p></div>`
    : ''}`
  return html`<h1>Customize</h1>
<form method="post" action="/ui/wizard" class="step">${hiddenFields(view.hidden)}${body}${actions(view.back, 'Create the schematic')}</form>`
}
