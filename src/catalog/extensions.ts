/**
 * The official extension catalogue of one Talos version (factory-spec §5.2): the `image-digests`
 * list of `<registry>/<repo>:<tag>@sha256:<hex>` lines and `descriptions.yaml` keyed by the whole
 * line. References are re-homed onto the configured registry (without the mirror namespace), as
 * the reference does.
 */
import YAML from 'yaml'

export interface OfficialExtension {
  /** repository path without registry, e.g. `siderolabs/gvisor` */
  name: string
  /** `<configured registry>/<repo path>:<tag>` */
  ref: string
  digest: string
  author: string
  description: string
}

export interface ImageLine {
  registry: string
  repository: string
  tag: string
  digest: string
}

/** Splits `ghcr.io/siderolabs/gvisor:1.0@sha256:...` (registry = first segment with `.` or `:` or `localhost`). */
export function parseImageLine(line: string): ImageLine | null {
  const at = line.indexOf('@')
  if (at < 0) return null
  const name = line.slice(0, at)
  const digest = line.slice(at + 1)
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) return null
  const slash = name.indexOf('/')
  const first = slash < 0 ? '' : name.slice(0, slash)
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost'
  const registry = hasRegistry ? first : ''
  const rest = hasRegistry ? name.slice(slash + 1) : name
  const colon = rest.lastIndexOf(':')
  if (colon < 0) return null
  const repository = rest.slice(0, colon)
  const tag = rest.slice(colon + 1)
  if (!repository || !tag) return null
  return { registry, repository, tag, digest }
}

export function parseExtensionCatalog(imageDigests: string, descriptionsYaml: string | null, registry: string): OfficialExtension[] {
  let descriptions: Record<string, { author?: unknown; description?: unknown }> = {}
  if (descriptionsYaml) {
    const parsed = YAML.parse(descriptionsYaml) as unknown
    if (parsed && typeof parsed === 'object') descriptions = parsed as typeof descriptions
  }
  const out: OfficialExtension[] = []
  for (const raw of imageDigests.split('\n')) {
    const line = raw.trim()
    const img = parseImageLine(line)
    if (!img) continue
    const d = descriptions[line] ?? {}
    out.push({
      name: img.repository,
      ref: `${registry}/${img.repository}:${img.tag}`,
      digest: img.digest,
      author: typeof d.author === 'string' ? d.author : '',
      description: typeof d.description === 'string' ? d.description : '',
    })
  }
  return out
}
