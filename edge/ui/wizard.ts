/**
 * The wizard controller: reads the choices (query or form), checks them against the catalogue,
 * picks the step and renders it; the last step creates the schematic exactly as POST /schematics
 * does (ctx.schematics.create on the canonical YAML of the choices) and redirects to the final
 * page's deep link, which names the schematic by ID.
 *
 * The final page with `schematic-id` shows that stored schematic (the machine configuration it
 * may embed cannot travel in the URL); without it, the page creates the schematic from the URL's
 * choices. Elsewhere `schematic-id` only pre-fills the steps.
 */
import { NotFoundError } from '../../src/errors.ts'
import type { Builder } from '../../builder/wiring.ts'
import type { AppContext } from '../context.ts'
import { renderPage, PAGE_HEADERS, STEP_LABELS } from './layout.ts'
import type { Html } from './html.ts'
import {
  backUrl,
  carriedPairs,
  currentStep,
  normalizeWizard,
  parseWizardParams,
  platformInfo,
  stepsFor,
  toPairs,
  urlOf,
  type WizardParams,
} from './params.ts'
import { EMPTY_PREFILL, prefillFrom, wizardSchematicYaml } from './schematic.ts'
import { archStep, cloudStep, cmdlineStep, docsUrl, extensionsStep, sbcStep, startStep, versionStep, type StepView } from './steps.ts'
import { finalPage } from './final.ts'
import { finalLinks } from './links.ts'
import { factoryStatus } from './status.ts'
import { METAL_PLATFORM, SBCS } from '../../src/talos/platforms.ts'

type Ctx = AppContext & { builder?: Builder }

export class Wizard {
  constructor(private readonly ctx: Ctx) {}

  /** GET /: the step the query's choices lead to. */
  async show(query: URLSearchParams): Promise<Response> {
    const p = await this.read(query, false)
    const stored = p.schematicId ? await this.stored(p.schematicId) : null
    const prefill = stored ? prefillFrom(stored.schematic) : EMPTY_PREFILL
    const step = currentStep(p)
    const steps = stepsFor(p)
    const view: StepView = { p, prefill, back: backUrl(p, step), hidden: carriedPairs(p, step) }
    let body: Html
    switch (step) {
      case 'start':
        body = startStep(view, await factoryStatus(this.ctx))
        break
      case 'version':
        body = versionStep(view, (await this.ctx.catalog.versions()).value)
        break
      case 'cloud':
        body = cloudStep(view)
        break
      case 'sbc':
        body = sbcStep(view)
        break
      case 'arch':
        body = archStep(view)
        break
      case 'extensions':
        body = extensionsStep(view, (await this.ctx.catalog.extensions(p.version ?? '')).value)
        break
      case 'cmdline':
        body = cmdlineStep(view)
        break
      case 'final':
        body = await this.final(p, stored, view.back)
        break
    }
    const title = step === 'final' ? 'Your schematic' : STEP_LABELS[step]
    return new Response(renderPage({ title, body, p, steps, step }), { headers: PAGE_HEADERS })
  }

  /** POST /ui/wizard: the last step's form; creates the schematic and redirects to its page. */
  async submit(form: URLSearchParams): Promise<Response> {
    const p = await this.read(form, true)
    if (currentStep(p) !== 'final') return redirect(urlOf(toPairs(p)))
    const { id } = await this.ctx.schematics.create(wizardSchematicYaml(p))
    return redirect(urlOf(toPairs({ ...p, schematicId: id, selected: {} })))
  }

  private async read(pairs: URLSearchParams, allowSecrets: boolean): Promise<WizardParams> {
    const p = normalizeWizard(parseWizardParams(pairs, { allowSecrets }))
    // 400 malformed / 404 not available, as /image answers
    if (p.version) await this.ctx.catalog.requireVersion(p.version)
    return p
  }

  private async stored(id: string) {
    const found = await this.ctx.schematics.get(id)
    if (!found) throw new NotFoundError(`schematic ID ${JSON.stringify(id)} not found`)
    return found
  }

  private async final(p: WizardParams, stored: { id: string; canonical: string } | null, back: string | null): Promise<Html> {
    const version = p.version ?? ''
    const schematic = stored ?? (await this.ctx.schematics.create(wizardSchematicYaml(p)))
    const platform = platformInfo(p) ?? METAL_PLATFORM
    const files = await this.ctx.catalog.talosctlFiles(version).then(
      (r) => r.files,
      (err: unknown) => {
        this.ctx.log.warn('talosctl list unavailable for the wizard', { version, error: err instanceof Error ? err.message : String(err) })
        return [] as string[]
      },
    )
    const board = p.target === 'sbc' ? SBCS.find((b) => b.name === p.board) : undefined
    const links = finalLinks({
      schematicId: schematic.id,
      version,
      target: p.target ?? 'metal',
      platform,
      arch: p.arch ?? 'amd64',
      secureboot: p.secureboot,
      externalUrl: this.ctx.config.http.externalUrl,
      externalPxeUrl: this.ctx.config.http.externalPxeUrl,
      talosctlFiles: files,
    })
    const documentation = board ? board.documentation : platform.documentation
    return finalPage({
      schematicId: schematic.id,
      canonical: schematic.canonical,
      version,
      platformLabel: board?.label ?? platform.label,
      platformDocs: documentation ? docsUrl(version, documentation) : undefined,
      links,
      back,
    })
  }
}

function redirect(location: string): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store' } })
}
