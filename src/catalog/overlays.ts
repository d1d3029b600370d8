/**
 * The official overlay catalogue of one Talos version (factory-spec §5.3): `overlays.yaml` with
 * `overlays: [{name, image, digest}]`, where `image` is a full tagged reference kept as written.
 */
import YAML from 'yaml'
import { parseImageLine } from './extensions.ts'

export interface OfficialOverlay {
  name: string
  /** repository path without registry, e.g. `siderolabs/sbc-raspberrypi` */
  image: string
  /** full tagged reference as written in overlays.yaml */
  ref: string
  digest: string
}

export function parseOverlayCatalog(text: string): OfficialOverlay[] {
  const doc = YAML.parse(text) as { overlays?: unknown } | null
  const list = Array.isArray(doc?.overlays) ? doc.overlays : []
  const out: OfficialOverlay[] = []
  for (const item of list as { name?: unknown; image?: unknown; digest?: unknown }[]) {
    if (typeof item?.name !== 'string' || typeof item.image !== 'string' || typeof item.digest !== 'string') continue
    const parsed = parseImageLine(`${item.image}@${item.digest}`)
    out.push({ name: item.name, image: parsed?.repository ?? item.image, ref: item.image, digest: item.digest })
  }
  return out
}
