/**
 * talosctl binaries of one version (factory-spec §5.4): root files of the `talosctl-all` image
 * named `talosctl-<os>-<arch>[.exe]`, sorted lexicographically.
 */
const TALOSCTL_RE = /^talosctl-([a-z0-9]+)-([a-z0-9]+)(\.exe)?$/

export function isTalosctlFile(name: string): boolean {
  return TALOSCTL_RE.test(name)
}

export function selectTalosctlFiles(names: readonly string[]): string[] {
  return names.filter(isTalosctlFile).sort()
}
