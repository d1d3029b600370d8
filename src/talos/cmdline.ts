/**
 * Kernel command line algebra and the imager's cmdline recipe.
 *
 * Why: the cmdline is asserted byte for byte by clients and tests (cmdline assets, UKI `.cmdline`,
 * GRUB entries, iPXE scripts). It is built with go-procfs semantics — an ordered multimap where a
 * key keeps its first position, values keep insertion order, `Set` replaces in place and `-arg`
 * deletes — so reproducing the exact text needs the same data model, not string concatenation.
 */
import type { MetaValue } from '../schematic/types.ts'
import { KERNEL_PARAM_ENVIRONMENT, metaEnvironmentValue } from './meta.ts'
import { platformKernelArgs, talosPlatformName } from './platforms.ts'
import { Quirks } from './quirks.ts'

interface Parameter {
  readonly key: string
  values: string[]
}

export interface AppendAllOptions {
  /** keys whose values are replaced (in place) instead of appended, e.g. `console` */
  readonly overwrite?: readonly string[]
  /** `-key` removes the key, `-key=value` removes that value */
  readonly deleteNegated?: boolean
}

/** Go `strings.Fields`: split on runs of Unicode white space (`unicode.IsSpace`). */
function fields(text: string): string[] {
  return text.split(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/).filter((f) => f.length > 0)
}

/** Parse text into parameters; repeated keys gather their values under the first occurrence. */
function parse(text: string): Parameter[] {
  const out: Parameter[] = []
  for (const arg of fields(text.endsWith('\n') ? text.slice(0, -1) : text)) {
    const eq = arg.indexOf('=')
    const key = eq === -1 ? arg : arg.slice(0, eq)
    const value = eq === -1 ? '' : arg.slice(eq + 1)
    const existing = out.find((p) => p.key === key)
    if (existing) existing.values.push(value)
    else out.push({ key, values: [value] })
  }
  return out
}

/** An ordered multimap kernel command line (go-procfs `Cmdline`). */
export class Cmdline {
  private params: Parameter[]

  constructor(text = '') {
    this.params = parse(text)
  }

  /** Values of a key (empty string = bare flag), or undefined when the key is absent. */
  get(key: string): readonly string[] | undefined {
    return this.params.find((p) => p.key === key)?.values
  }

  /** Add a value; a new key goes to the end. */
  append(key: string, value: string): this {
    const p = this.params.find((q) => q.key === key)
    if (p) p.values.push(value)
    else this.params.push({ key, values: [value] })
    return this
  }

  /** Replace a key's values in place (position kept), or add the key at the end. */
  set(key: string, values: readonly string[]): this {
    const i = this.params.findIndex((p) => p.key === key)
    const param = { key, values: [...values] }
    if (i === -1) this.params.push(param)
    else this.params[i] = param
    return this
  }

  /** Parse `args` and `set` each key. */
  setAll(args: readonly string[]): this {
    for (const p of parse(args.join(' '))) this.set(p.key, p.values)
    return this
  }

  /** Remove the given values of a key (the key keeps its position, possibly with no values). */
  deleteValues(key: string, values: readonly string[]): this {
    const p = this.params.find((q) => q.key === key)
    if (p) p.values = p.values.filter((v) => !values.includes(v))
    return this
  }

  /** Remove a key entirely. */
  deleteAll(key: string): this {
    const i = this.params.findIndex((p) => p.key === key)
    if (i !== -1) this.params.splice(i, 1)
    return this
  }

  /** Parse `args` and merge them: negation, overwrite or append per key (go-procfs `AppendAll`). */
  appendAll(args: readonly string[], opts: AppendAllOptions = {}): this {
    for (const p of parse(args.join(' '))) {
      if (opts.deleteNegated && p.key.length > 1 && p.key[0] === '-') {
        const target = p.key.slice(1)
        if (p.values[0] === '') this.deleteAll(target)
        else this.deleteValues(target, p.values)
        continue
      }
      if (opts.overwrite?.includes(p.key)) {
        this.set(p.key, p.values)
        continue
      }
      for (const v of p.values) this.append(p.key, v)
    }
    return this
  }

  /** Individual `key[=value]` tokens in order. */
  toArgs(): string[] {
    const out: string[] = []
    for (const p of this.params) for (const v of p.values) out.push(v === '' ? p.key : `${p.key}=${v}`)
    return out
  }

  /** Single line, single spaces, no trailing newline. */
  toString(): string {
    return this.toArgs().join(' ')
  }
}

/** Talos default kernel args for a target version (talos `kernel.DefaultArgs`), in order. */
export function defaultKernelArgs(q: Quirks): string[] {
  const args: string[] = []
  if (!q.dropInitOnAllocInArgs()) args.push('init_on_alloc=1')
  args.push('slab_nomerge=', 'pti=on', 'consoleblank=0')
  if (!q.nvmeCoreIoTimeoutAWSOnly()) args.push('nvme_core.io_timeout=4294967295')
  args.push('printk.devkmsg=on')
  if (q.supportsIMA()) args.push('ima_template=ima-ng', 'ima_appraise=fix', 'ima_hash=sha512')
  if (q.supportsSELinux()) args.push('selinux=1')
  if (q.supportsDisablingModuleSignatureVerification()) args.push('module.sig_enforce=1')
  if (q.procMemOverrideNever()) args.push('proc_mem.force_override=never')
  return args
}

/** Extra args for SecureBoot builds (talos `kernel.SecureBootArgs`). */
export function secureBootKernelArgs(q: Quirks): string[] {
  return q.forcesLockdownConfidentiality() ? ['lockdown=confidentiality'] : []
}

/** Keys that schematic extra args replace instead of appending to. */
export const OVERWRITE_KEYS: readonly string[] = ['console', 'talos.platform']

export interface CmdlineInput {
  /** profile platform (`metal`, `aws`, `packet`, …) */
  readonly platform: string
  readonly arch: string
  /** target Talos version (tag or semver text) */
  readonly version: string
  /** imager output kind name: `iso`, `image`, `installer`, `kernel`, `initramfs`, `uki`, `cmdline` */
  readonly outputKind: string
  readonly secureboot: boolean
  /** overlay installer `get-options` kernel args, when an overlay is used */
  readonly overlayKernelArgs?: readonly string[]
  readonly metaContents?: readonly MetaValue[]
  readonly extraKernelArgs?: readonly string[]
}

/**
 * The imager's cmdline (imager-spec §3.2): platform, platform args, ISO halt flag, overlay args,
 * defaults, SecureBoot args, META (non-disk outputs) and finally the schematic's extra args with
 * `console`/`talos.platform` overwrite and `-arg` deletion. Throws InvalidInputError for an unknown
 * platform.
 */
export function buildCmdline(input: CmdlineInput): string {
  const q = new Quirks(input.version)
  const platformArgs = platformKernelArgs(input.platform, input.arch, q)
  const c = new Cmdline()
  c.append('talos.platform', talosPlatformName(input.platform))
  c.setAll(platformArgs)
  if (q.supportsHaltIfInstalled() && input.outputKind === 'iso') c.append('talos.halt_if_installed', '1')
  if (input.overlayKernelArgs !== undefined) c.setAll(input.overlayKernelArgs)
  c.appendAll(defaultKernelArgs(q))
  if (input.secureboot) c.appendAll(secureBootKernelArgs(q))
  const meta = input.metaContents ?? []
  if (meta.length > 0 && input.outputKind !== 'image') {
    c.append(KERNEL_PARAM_ENVIRONMENT, metaEnvironmentValue(meta, { allowGzip: q.supportsCompressedEncodedMETA() }))
  }
  c.appendAll(input.extraKernelArgs ?? [], { overwrite: OVERWRITE_KEYS, deleteNegated: true })
  return c.toString()
}
