/**
 * Whether this builder's extension layers can carry SELinux labels (builder/imager/xattrs.ts),
 * decided once at start-up for the imager work directory and then passed to every imager run
 * (`--selinux-labels on|off`), logged and exported as a metric.
 *
 * With squashfs-tools ≥ 4.6 labels are pseudo xattrs and need nothing from the filesystem. With
 * 4.5.x (Debian 12) they are written onto the work tree, so the work directory's filesystem must
 * take `security.*` xattrs; where it refuses them (or labels fresh files itself, as an SELinux
 * host does), layers are built with `-no-xattrs`: they boot, but a node running with
 * `enforcing=1` sees the embedded config and extension files unlabelled.
 */
import { mkdir } from 'node:fs/promises'
import type { Logger } from '../src/log.ts'
import type { Registry } from '../src/metrics.ts'
import { squashfsFlavour } from './imager/squashfs.ts'
import { probeSecurityXattrs, type XattrProbe } from './imager/xattrs.ts'

export interface SelinuxLabelSupport {
  readonly enabled: boolean
  /** Why not, when disabled. */
  readonly reason?: string
}

export interface DetectOptions {
  /** Replaces the filesystem probe (tests). */
  readonly probe?: (dir: string) => Promise<XattrProbe>
  /** Replaces the mksquashfs ≥ 4.6 check (tests). */
  readonly pseudoXattrs?: boolean
}

/** Probes `workDir` once; logs a warning when layers will carry no labels. */
export async function detectSelinuxLabelSupport(workDir: string, log: Logger, opts: DetectOptions = {}): Promise<SelinuxLabelSupport> {
  const pseudo = opts.pseudoXattrs ?? (await squashfsFlavour().then((f) => f.pseudoXattrs, () => false))
  if (pseudo) return { enabled: true }
  await mkdir(workDir, { recursive: true })
  const probe = await (opts.probe ?? probeSecurityXattrs)(workDir)
  if (probe.ok) return { enabled: true }
  log.warn('extension layers are built without SELinux labels (mksquashfs -no-xattrs)', { reason: probe.reason, work_dir: workDir })
  return { enabled: false, reason: probe.reason }
}

/** `image_factory_selinux_labels_enabled`: 1 when layers carry labels, 0 in the fallback. */
export function registerSelinuxLabelMetric(registry: Registry, support: SelinuxLabelSupport): void {
  registry.gauge(
    'image_factory_selinux_labels_enabled',
    "1 when extension layers carry SELinux labels; 0 when the work directory's filesystem refuses security.* xattrs and layers are built with -no-xattrs.",
    () => (support.enabled ? 1 : 0),
  )
}
