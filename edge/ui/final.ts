/**
 * The wizard's final page: the schematic ID and canonical YAML, every download link for the
 * chosen hardware (boot media, PXE, the metal boot assets), the installer image and the upgrade
 * command, talosctl, and "Build now" buttons with a progress bar for the kinds this factory builds
 * (shown by the page's JavaScript; without it the download links build on demand).
 *
 * Links to the factory carry `data-factory-link`, so tests can check that every one answers.
 */
import { html, type Html } from './html.ts'
import type { AssetLink, FinalLinks } from './links.ts'
import { docsUrl, releaseNotesUrl } from './steps.ts'

function copyable(id: string, text: string, label: string): Html {
  return html`<div class="copyable"><code id="${id}">${text}</code><button type="button" class="copy secondary" data-copy="${id}" hidden>Copy<span class="visually-hidden"> ${label}</span></button></div>`
}

function assetItem(a: AssetLink): Html {
  return html`<li class="asset">
<div class="asset-main"><a href="${a.url}" data-factory-link data-kind="${a.kind}">${a.label}</a> <code class="file">${a.file}</code> <a class="checksum" href="${a.checksumUrl}" data-factory-link data-kind="${a.kind}">sha256<span class="visually-hidden"> of ${a.file}</span></a></div>
${a.built
    ? html`<div class="build" data-progress="${a.progressPath}" hidden><button type="button" class="secondary build-now">Build now<span class="visually-hidden"> ${a.file}</span></button><progress max="1" aria-label="Build progress of ${a.file}" hidden></progress><span class="build-status" role="status"></span></div>`
    : html`<p class="hint">This factory does not build ${a.kind === 'image' ? 'disk images' : `${a.kind.toUpperCase()} files`} yet (the link answers 501).</p>`}
</li>`
}

export interface FinalView {
  schematicId: string
  canonical: string
  version: string
  platformLabel: string
  platformDocs?: string
  links: FinalLinks
  back: string | null
}

export function finalPage(v: FinalView): Html {
  const l = v.links
  return html`<h1>Your schematic is ready</h1>
<section aria-labelledby="id-heading">
<h2 id="id-heading">Schematic ID</h2>
<p>This ID names your choices on this factory and on any other with the same schematic. Keep it to come back to these downloads.</p>
${copyable('schematic-id', v.schematicId, 'schematic ID')}
<details><summary>Schematic (YAML)</summary>
<div class="copyable block"><pre id="schematic-yaml">${v.canonical}</pre><button type="button" class="copy secondary" data-copy="schematic-yaml" hidden>Copy<span class="visually-hidden"> schematic YAML</span></button></div>
<p><a href="${l.schematicUrl}" data-factory-link>Download the schematic</a> (for <code>POST /schematics</code> on another factory).</p>
</details>
</section>

<section aria-labelledby="boot-heading">
<h2 id="boot-heading">First boot</h2>
<p>Talos Linux ${v.version} for ${v.platformLabel}.${v.platformDocs ? html` <a href="${v.platformDocs}">Installation guide</a>.` : ''}</p>
${l.boot.map(
  (s) => html`<h3>${s.title}</h3><p>${s.description}</p>${s.links.length > 0 ? html`<ul class="assets">${s.links.map(assetItem)}</ul>` : ''}${
    s.pxeUrl ? html`${copyable('pxe-url', s.pxeUrl, 'PXE script URL')}<p>In iPXE: <code>chain ${s.pxeUrl}</code> · <a href="${s.pxeUrl}" data-factory-link>View the script</a></p>` : ''
  }`,
)}
</section>

<section aria-labelledby="install-heading">
<h2 id="install-heading">Installation and upgrades</h2>
<p>The installer image for this schematic (set it as <code>machine.install.image</code> in the machine configuration when installing to disk from an ISO or PXE boot):</p>
${copyable('installer-image', l.installerImage, 'installer image')}
<p>To upgrade a running machine to this schematic and version:</p>
${copyable('upgrade-command', l.upgradeCommand, 'upgrade command')}
</section>

${l.extra.length > 0
  ? html`<section aria-labelledby="extra-heading"><h2 id="extra-heading">Boot assets</h2><p>For custom boot setups (your own PXE server, kexec, virtual machines).</p><ul class="assets">${l.extra.map(assetItem)}</ul></section>`
  : ''}

${l.talosctl.length > 0
  ? html`<section aria-labelledby="talosctl-heading"><h2 id="talosctl-heading">talosctl ${v.version}</h2><ul class="talosctl">${l.talosctl.map(
      (t) => html`<li><a href="${t.url}" data-factory-link>${t.name}</a></li>`,
    )}</ul></section>`
  : ''}

<section aria-labelledby="docs-heading">
<h2 id="docs-heading">Documentation</h2>
<ul><li><a href="${docsUrl(v.version)}">Talos Linux ${v.version} documentation</a></li><li><a href="${releaseNotesUrl(v.version)}">Release notes</a></li></ul>
</section>

<div class="actions">${v.back ? html`<a class="button secondary" href="${v.back}">Back</a>` : ''}<a class="button secondary" href="/">Start over</a></div>`
}
