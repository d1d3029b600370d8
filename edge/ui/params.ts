/**
 * The wizard's state: the reference's parameter names (factory-spec §3.12), read from a query
 * string or a form body, validated, normalised (derived platform/arch, version gates), and
 * written back as the URL of each step — so every step is a deep link that re-opens it with the
 * same choices. Pure: the catalogue-dependent checks (version available, extension list) are the
 * controller's (edge/ui/wizard.ts).
 *
 * `selected-<name>` twins remember a choice when going back (the step shows it preselected
 * without counting it as made). `embedded-config` is a secret: it is accepted only in a POST body
 * and never written into a URL.
 */
import * as v from 'valibot'
import { InvalidInputError } from '../../src/errors.ts'
import { ARCHES, CLOUD_PLATFORMS, METAL_PLATFORM, SBCS, type Arch, type PlatformInfo, type SBCInfo } from '../../src/talos/platforms.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { compareSemver, semver, tryParseSemver } from '../../src/talos/semver.ts'

export const TARGETS = ['metal', 'cloud', 'sbc'] as const
export type Target = (typeof TARGETS)[number]
export const UI_BOOTLOADERS = ['auto', 'sd-boot', 'grub', 'dual-boot'] as const
export type UiBootloader = (typeof UI_BOOTLOADERS)[number]

/** Steps in the order the wizard walks them; a given set of choices skips some. */
export const STEPS = ['start', 'version', 'cloud', 'sbc', 'arch', 'extensions', 'cmdline', 'final'] as const
export type Step = (typeof STEPS)[number]

/** Choices a step makes, by URL parameter name (also the `selected-<name>` twins). */
const STEP_KEYS: Record<Step, readonly RememberedKey[]> = {
  start: ['target'],
  version: ['version'],
  cloud: ['platform'],
  sbc: ['board'],
  arch: ['arch', 'secureboot'],
  extensions: ['extensions'],
  cmdline: ['cmdline', 'bootloader', 'overlay-options'],
  final: [],
}
export const REMEMBERED = ['target', 'version', 'platform', 'board', 'arch', 'secureboot', 'extensions', 'cmdline', 'bootloader', 'overlay-options'] as const
export type RememberedKey = (typeof REMEMBERED)[number]

/** SBC images need Talos 1.7 (overlays). */
export const SBC_MIN_VERSION = '1.7.0'
/** The extension list's "none selected" placeholder (a step done with nothing checked). */
export const NO_EXTENSIONS = '-'

export interface WizardParams {
  target?: Target
  /** semver text without `v` */
  version?: string
  platform?: string
  board?: string
  arch?: Arch
  secureboot: boolean
  /** empty = step not done; otherwise the checked names, and usually the `-` placeholder */
  extensions: string[]
  cmdline: string
  cmdlineSet: boolean
  bootloader?: UiBootloader
  overlayOptions: string
  /** POST bodies only */
  embeddedConfig: string
  schematicId?: string
  selected: Partial<Record<RememberedKey, string[]>>
  /** the extension step's filter (no-JavaScript search) */
  search: string
  filter: boolean
}

const MAX_PAIRS = 2000
const MAX_TEXT = 64 * 1024
const SEMVER_TEXT = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

const Text = (max: number) => v.pipe(v.string(), v.maxLength(max, `at most ${max} characters`))
const ExtensionName = v.pipe(v.string(), v.regex(/^(?:-|[A-Za-z0-9][A-Za-z0-9._/-]{0,199})$/, 'not an extension name'))

const RawSchema = v.object({
  target: v.optional(v.picklist(TARGETS, 'must be metal, cloud or sbc')),
  version: v.optional(v.pipe(v.string(), v.regex(SEMVER_TEXT, 'must be a Talos version like 1.12.0'))),
  platform: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,64}$/, 'not a platform name'))),
  board: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a board name'))),
  arch: v.optional(v.picklist(ARCHES, 'must be amd64 or arm64')),
  secureboot: v.optional(v.picklist(['true', 'on', 'false'], 'must be true or false')),
  bootloader: v.optional(v.picklist(UI_BOOTLOADERS, 'must be auto, sd-boot, grub or dual-boot')),
  extensions: v.pipe(v.array(ExtensionName), v.maxLength(500, 'too many extensions')),
  cmdline: v.optional(Text(8192)),
  'cmdline-set': v.optional(Text(16)),
  'overlay-options': v.optional(Text(MAX_TEXT)),
  'embedded-config': v.optional(v.string()),
  'schematic-id': v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'))),
  search: v.optional(Text(200)),
  filter: v.optional(Text(16)),
})

/** Reads and validates wizard parameters; InvalidInputError names the first bad one. */
export function parseWizardParams(pairs: Iterable<[string, string]>, opts: { allowSecrets: boolean }): WizardParams {
  const single = new Map<string, string>()
  const extensions: string[] = []
  const selected: WizardParams['selected'] = {}
  let count = 0
  for (const [key, value] of pairs) {
    if (++count > MAX_PAIRS) throw new InvalidInputError('too many wizard parameters')
    if (key === 'embedded-config' && !opts.allowSecrets) {
      throw new InvalidInputError('embedded-config is a secret: send it in a POST body, never in a URL')
    }
    if (key === 'extensions') extensions.push(value)
    else if (key.startsWith('selected-')) {
      const name = key.slice('selected-'.length) as RememberedKey
      if (!(REMEMBERED as readonly string[]).includes(name) || value.length > MAX_TEXT) continue // only defaults: ignore junk
      ;(selected[name] ??= []).push(value)
    } else if (value !== '' && !single.has(key)) single.set(key, value)
  }
  const raw: Record<string, unknown> = { extensions }
  for (const key of Object.keys(RawSchema.entries)) if (key !== 'extensions' && single.has(key)) raw[key] = single.get(key)
  const parsed = v.safeParse(RawSchema, raw)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const where = issue.path?.map((p) => String(p.key)).join('.') ?? 'parameters'
    throw new InvalidInputError(`invalid wizard parameter ${where}: ${issue.message}`)
  }
  const r = parsed.output
  const embedded = r['embedded-config'] ?? ''
  return {
    target: r.target,
    version: r.version?.replace(/^v/, ''),
    platform: r.platform,
    board: r.board,
    arch: r.arch,
    secureboot: r.secureboot === 'true' || r.secureboot === 'on',
    extensions: r.extensions,
    cmdline: (r.cmdline ?? '').trim(),
    cmdlineSet: (r['cmdline-set'] ?? '') !== '',
    bootloader: r.bootloader,
    overlayOptions: (r['overlay-options'] ?? '').trim(),
    embeddedConfig: embedded.trim() === '' ? '' : embedded,
    schematicId: r['schematic-id'],
    selected,
    search: (r.search ?? '').trim(),
    filter: (r.filter ?? '') !== '',
  }
}

// ---- catalogue facts ---------------------------------------------------------------------------

export function atLeast(version: string, min: string): boolean {
  const v = tryParseSemver(version, { tolerant: true })
  return v !== null && compareSemver(v, semver(min)) >= 0
}

/** Cloud platforms offered for a version (per-platform minimum versions). */
export function cloudPlatformsFor(version: string): PlatformInfo[] {
  return CLOUD_PLATFORMS.filter((p) => !p.minVersion || atLeast(version, p.minVersion))
}

/** Boards offered for a version. */
export function boardsFor(version: string): SBCInfo[] {
  return SBCS.filter((b) => !b.minVersion || atLeast(version, b.minVersion))
}

/** The platform the choices stand for (metal for SBCs), when known. */
export function platformInfo(p: WizardParams): PlatformInfo | undefined {
  if (p.target === 'metal' || p.target === 'sbc') return METAL_PLATFORM
  return CLOUD_PLATFORMS.find((c) => c.name === p.platform)
}

export function boardInfo(p: WizardParams): SBCInfo | undefined {
  return SBCS.find((b) => b.name === p.board)
}

/** SecureBoot is offered from 1.5 for metal and for cloud platforms that support it. */
export function secureBootOffered(p: WizardParams): boolean {
  if (!p.version || p.target === 'sbc') return false
  const platform = platformInfo(p)
  return new Quirks(p.version).is('uiSecureBootAvailable') && (p.target === 'metal' || platform?.secureBootSupported === true)
}

export function bootloaderOffered(p: WizardParams): boolean {
  return !!p.version && new Quirks(p.version).is('uiSupportsBootloaderSelection')
}

export function embeddedConfigOffered(p: WizardParams): boolean {
  return !!p.version && new Quirks(p.version).supportsEmbeddedConfig()
}

export function overlayOptionsOffered(p: WizardParams): boolean {
  return p.target === 'sbc' && !!p.version && atLeast(p.version, SBC_MIN_VERSION)
}

/** The arch step is skipped for SBCs (arm64) and for cloud platforms with a single architecture. */
export function archIsDerived(p: WizardParams): boolean {
  if (p.target === 'sbc') return true
  const platform = p.target === 'cloud' ? platformInfo(p) : undefined
  return platform !== undefined && platform.architectures.length === 1
}

/**
 * Derives what the choices imply (metal/SBC platform, SBC and single-arch arch) and refuses
 * combinations the wizard never offers; drops options a version or platform cannot have.
 */
export function normalizeWizard(input: WizardParams): WizardParams {
  const p: WizardParams = { ...input, selected: { ...input.selected } }
  if (p.target === 'metal') {
    p.platform = 'metal'
    p.board = undefined
  } else if (p.target === 'sbc') {
    p.platform = 'metal'
    p.arch = 'arm64'
    if (p.version && !atLeast(p.version, SBC_MIN_VERSION)) throw new InvalidInputError(`single-board computers need Talos ${SBC_MIN_VERSION} or later`)
    if (p.board) {
      const board = boardInfo(p)
      if (!board) throw new InvalidInputError(`unknown board ${JSON.stringify(p.board)}`)
      if (p.version && board.minVersion && !atLeast(p.version, board.minVersion)) {
        throw new InvalidInputError(`board ${board.name} needs Talos ${board.minVersion} or later`)
      }
    }
  } else if (p.target === 'cloud') {
    p.board = undefined
    if (p.platform) {
      const platform = CLOUD_PLATFORMS.find((c) => c.name === p.platform)
      if (!platform) throw new InvalidInputError(`unknown cloud platform ${JSON.stringify(p.platform)}`)
      if (p.version && platform.minVersion && !atLeast(p.version, platform.minVersion)) {
        throw new InvalidInputError(`platform ${platform.name} needs Talos ${platform.minVersion} or later`)
      }
      if (platform.architectures.length === 1) p.arch = platform.architectures[0]
      else if (p.arch && !platform.architectures.includes(p.arch)) throw new InvalidInputError(`platform ${platform.name} has no ${p.arch} images`)
    }
  } else {
    p.platform = undefined
    p.board = undefined
  }
  if (!secureBootOffered(p)) p.secureboot = false
  if (!bootloaderOffered(p) || (p.secureboot && p.bootloader === 'grub')) p.bootloader = undefined
  if (!overlayOptionsOffered(p)) p.overlayOptions = ''
  if (p.embeddedConfig !== '' && p.version && !embeddedConfigOffered(p)) {
    throw new InvalidInputError('an embedded machine configuration needs Talos 1.12.0 or later')
  }
  return p
}

// ---- steps and URLs ----------------------------------------------------------------------------

export function currentStep(p: WizardParams): Step {
  if (!p.target) return 'start'
  if (!p.version) return 'version'
  if (p.target === 'cloud' && !p.platform) return 'cloud'
  if (p.target === 'sbc' && !p.board) return 'sbc'
  if (!p.arch) return 'arch'
  if (p.extensions.length === 0 || p.filter) return 'extensions'
  if (!p.cmdlineSet) return 'cmdline'
  return 'final'
}

/** The steps these choices walk through, in order. */
export function stepsFor(p: WizardParams): Step[] {
  return STEPS.filter((s) => {
    if (s === 'cloud') return p.target === 'cloud'
    if (s === 'sbc') return p.target === 'sbc'
    if (s === 'arch') return !archIsDerived(p)
    return true
  })
}

/** The choices as URL parameters, in a stable order; `omit` drops keys (a step's own inputs). */
export function toPairs(p: WizardParams, omit: ReadonlySet<string> = new Set()): [string, string][] {
  const out: [string, string][] = []
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '' && !omit.has(key)) out.push([key, value])
  }
  add('target', p.target)
  add('version', p.version)
  if (p.target === 'cloud') add('platform', p.platform)
  if (p.target === 'sbc') add('board', p.board)
  add('arch', p.arch)
  if (p.secureboot) add('secureboot', 'true')
  if (!omit.has('extensions')) for (const e of p.extensions) out.push(['extensions', e])
  add('cmdline', p.cmdline)
  if (p.cmdlineSet) add('cmdline-set', 'true')
  add('bootloader', p.bootloader)
  add('overlay-options', p.overlayOptions)
  add('schematic-id', p.schematicId)
  for (const key of REMEMBERED) {
    if (omit.has(`selected-${key}`)) continue
    for (const value of p.selected[key] ?? []) out.push([`selected-${key}`, value])
  }
  return out
}

export function urlOf(pairs: readonly [string, string][]): string {
  return pairs.length === 0 ? '/' : `/?${new URLSearchParams(pairs as [string, string][]).toString()}`
}

/** Keys of `step` and of every step after it. */
function keysFrom(step: Step): Set<string> {
  const keys = new Set<string>()
  for (const s of STEPS.slice(STEPS.indexOf(step))) for (const k of STEP_KEYS[s]) keys.add(k)
  return keys
}

function clearKeys(p: WizardParams, keys: ReadonlySet<string>): WizardParams {
  const q: WizardParams = { ...p, selected: { ...p.selected }, search: '', filter: false }
  if (keys.has('target')) q.target = undefined
  if (keys.has('version')) q.version = undefined
  if (keys.has('platform')) q.platform = undefined
  if (keys.has('board')) q.board = undefined
  if (keys.has('arch')) q.arch = undefined
  if (keys.has('secureboot')) q.secureboot = false
  if (keys.has('extensions')) q.extensions = []
  if (keys.has('cmdline')) {
    q.cmdline = ''
    q.cmdlineSet = false
  }
  if (keys.has('bootloader')) q.bootloader = undefined
  if (keys.has('overlay-options')) q.overlayOptions = ''
  return q
}

/** A choice's current value(s) as they appear in a URL. */
export function valuesOf(p: WizardParams, key: RememberedKey): string[] {
  switch (key) {
    case 'target':
      return p.target ? [p.target] : []
    case 'version':
      return p.version ? [p.version] : []
    case 'platform':
      return p.target === 'cloud' && p.platform ? [p.platform] : []
    case 'board':
      return p.board ? [p.board] : []
    case 'arch':
      return p.arch ? [p.arch] : []
    case 'secureboot':
      return p.secureboot ? ['true'] : []
    case 'extensions':
      return p.extensions // with the `-` placeholder: "none" is a choice too
    case 'cmdline':
      return p.cmdline ? [p.cmdline] : []
    case 'bootloader':
      return p.bootloader ? [p.bootloader] : []
    case 'overlay-options':
      return p.overlayOptions ? [p.overlayOptions] : []
  }
}

/**
 * The hidden fields of a step's form: every choice made before it (the step's own inputs and
 * the filter are the form's), minus the `selected-` twins the step consumes as defaults.
 */
export function carriedPairs(p: WizardParams, step: Step): [string, string][] {
  const omit = keysFrom(step)
  for (const k of STEP_KEYS[step]) omit.add(`selected-${k}`)
  omit.add('cmdline-set') // the last step's form sets it
  return toPairs(p, omit)
}

/**
 * The URL of the step before `step` (the last choice the user made themselves), with that
 * choice and everything after it undone but remembered as `selected-` defaults; null on the
 * first step.
 */
export function backUrl(p: WizardParams, step: Step): string | null {
  const steps = stepsFor(p)
  const i = steps.indexOf(step)
  const prev = i > 0 ? steps[i - 1] : undefined
  if (!prev) return null
  const undone = keysFrom(prev)
  const q = clearKeys(p, undone)
  for (const key of [...undone] as RememberedKey[]) {
    if (key === 'arch' && archIsDerived(p)) continue // never a choice the user made
    const values = valuesOf(p, key)
    if (values.length > 0) q.selected[key] = values
    // an unchecked box (secureboot) is a choice too; later steps keep what they remembered
    else if (STEP_KEYS[prev].includes(key)) delete q.selected[key]
  }
  return urlOf(toPairs(q))
}

/** The default a step shows for a choice: remembered (`selected-`), then `fallback`. */
export function rememberedOr(p: WizardParams, key: RememberedKey, fallback: string[] = []): string[] {
  const s = p.selected[key]
  return s && s.length > 0 ? s : fallback
}
