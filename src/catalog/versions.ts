/**
 * The Talos version list from the imager repository's tags (factory-spec §5.1): tolerant parse,
 * unparsable tags skipped, minimum version and broken list applied, pre-releases kept only for
 * the newest minor line and only in the `alpha|beta|rc.N` form, sorted ascending.
 */
import { compareSemver, formatVersionTag, parseSemverTolerant, semverEquals, sortSemver, type SemVer } from '../talos/semver.ts'

export interface VersionFilter {
  min: SemVer
  broken: readonly SemVer[]
}

function parseTag(tag: string): SemVer | null {
  try {
    return parseSemverTolerant(tag)
  } catch {
    return null
  }
}

function acceptablePrerelease(v: SemVer, max: SemVer): boolean {
  if (v.prerelease.length === 0) return true
  if (v.major !== max.major || v.minor !== max.minor) return false
  if (v.prerelease.length !== 2) return false
  const [kind, num] = v.prerelease
  return (kind === 'alpha' || kind === 'beta' || kind === 'rc') && /^\d+$/.test(num ?? '')
}

/** Tags → available versions, ascending, as `vX.Y.Z[-pre]` strings. */
export function selectVersions(tags: readonly string[], filter: VersionFilter): string[] {
  const parsed = tags.map(parseTag).filter((v): v is SemVer => v !== null)
  if (parsed.length === 0) return []
  const max = parsed.reduce((a, b) => (compareSemver(a, b) >= 0 ? a : b))
  const kept = parsed.filter(
    (v) => compareSemver(v, filter.min) >= 0 && !filter.broken.some((b) => semverEquals(b, v)) && acceptablePrerelease(v, max),
  )
  const unique = new Map<string, SemVer>()
  for (const v of sortSemver(kept)) unique.set(formatVersionTag({ ...v, build: [] }), v)
  return [...unique.keys()]
}
