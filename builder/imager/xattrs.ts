/**
 * SELinux labels in extension layers (imager-spec §4.3, §4.7).
 *
 * The reference passes each label to mksquashfs as a pseudo xattr and excludes every xattr of the
 * source tree (`-xattrs-exclude '.*' -p "<path> x security.selinux=<label>"`, squashfs-tools ≥ 4.6).
 * Debian 12's mksquashfs 4.5.1 has neither option, but stores the source tree's own xattrs with
 * `-xattrs`. So with 4.5.x the labels are written onto a tree that has no other xattrs — one the
 * imager created itself (an extraction, a virtual extension, or a copy of a directory input) — with
 * one `setfattr --restore` process, and mksquashfs copies them ('staged' mode).
 *
 * That needs a filesystem that takes `security.*` xattrs from us and gives fresh files none of its
 * own (an SELinux host would label them); `probeSecurityXattrs` checks both on a temp file. Where
 * it fails, layers are built with `-no-xattrs` ('none'): no labels, as before.
 */
import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ImagerToolError, isErrno } from './errors.ts'
import { runTool } from './exec.ts'

/** How a layer gets its labels: pseudo xattrs (mksquashfs ≥ 4.6), a labelled tree, or none. */
export type XattrMode = 'pseudo' | 'staged' | 'none'

/** `auto`: probe the work directory; `on`: label without probing (the caller probed); `off`: no labels. */
export type SelinuxLabelsSetting = 'auto' | 'on' | 'off'

export type XattrProbe = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const PROBE_LABEL = 'system_u:object_r:unlabeled_t:s0'

/** Hex form of a value for getfattr/setfattr (`0x…`, exact bytes). */
function hex(value: string): string {
  return `0x${Buffer.from(value, 'utf8').toString('hex')}`
}

/** All xattrs of one file (`getfattr -d -m - -e hex`), names → hex values. */
async function xattrsOf(path: string): Promise<Map<string, string>> {
  const out = await runTool('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', path], { stdout: 'capture' })
  const found = new Map<string, string>()
  for (const line of out.split('\n')) {
    const m = /^([^#=][^=]*)=(.*)$/.exec(line)
    if (m) found.set(m[1] as string, m[2] as string)
  }
  return found
}

/**
 * Can layers built from trees under `dir` carry exactly the labels we set? Creates a temp file
 * there, checks that it starts without xattrs, sets `security.selinux` and reads it back.
 */
export async function probeSecurityXattrs(dir: string): Promise<XattrProbe> {
  let tmp: string
  try {
    tmp = await mkdtemp(join(dir, '.xattr-probe-'))
  } catch (err) {
    return { ok: false, reason: `cannot create a probe file in ${dir}: ${(err as Error).message}` }
  }
  try {
    const file = join(tmp, 'f')
    await writeFile(file, '')
    const own = await xattrsOf(file)
    if (own.size > 0) return { ok: false, reason: `new files in ${dir} get xattrs of their own (${[...own.keys()].join(', ')}; an SELinux host?)` }
    try {
      await runTool('setfattr', ['-h', '-n', 'security.selinux', '-v', hex(PROBE_LABEL), '--', file])
    } catch (err) {
      if (!(err instanceof ImagerToolError)) throw err
      // EOPNOTSUPP: the filesystem; EPERM: not root (security.* needs CAP_SYS_ADMIN without SELinux)
      return { ok: false, reason: `the filesystem of ${dir} refuses security.* xattrs, or this process may not set them (${err.message})` }
    }
    const back = await xattrsOf(file)
    if (back.size !== 1 || back.get('security.selinux') !== hex(PROBE_LABEL)) return { ok: false, reason: `the filesystem of ${dir} does not keep security.selinux as set` }
    return { ok: true }
  } catch (err) {
    // e.g. setfattr/getfattr missing (ImagerEnvironmentError names the package to install)
    return { ok: false, reason: `cannot probe xattrs in ${dir}: ${(err as Error).message}` }
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
  }
}

const probes = new Map<string, Promise<XattrProbe>>()

/** `probeSecurityXattrs`, once per directory per process. */
export function probeSecurityXattrsOnce(dir: string): Promise<XattrProbe> {
  let p = probes.get(dir)
  if (p === undefined) {
    p = probeSecurityXattrs(dir)
    probes.set(dir, p)
  }
  return p
}

/** A path for a getfattr/setfattr dump: every byte outside a safe set as `\ooo` (attr's `unquote`). */
function quotePath(rel: string): string {
  let out = ''
  for (const b of Buffer.from(rel, 'utf8')) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9._\-+,:@%/]/.test(c) ? c : `\\${b.toString(8).padStart(3, '0')}`
  }
  return out
}

/**
 * True when every parent of `rel` inside `root` is a real directory (no symlink on the way, so a
 * label never lands outside the tree) and `rel` itself exists (it may be a symlink: labels are
 * set on the link, never its target).
 */
async function labellable(root: string, rel: string): Promise<boolean> {
  if (rel === '') return true
  const parts = rel.split('/')
  let path = root
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i] as string)
    let st
    try {
      st = await lstat(path)
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false
      throw err
    }
    if (i < parts.length - 1 && !st.isDirectory()) return false
  }
  return true
}

/**
 * Sets `security.selinux` on the files of `root` named in `labels` (paths relative to `root`,
 * `''` = `root` itself), in one `setfattr --restore` run. Paths that do not exist, or lie behind a
 * symlink, are skipped (the reference labels only files that still exist). Returns how many were set.
 */
export async function applySelinuxLabels(root: string, labels: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<number> {
  const paths = [...labels.keys()].sort()
  let dump = ''
  let n = 0
  for (const rel of paths) {
    if (!(await labellable(root, rel))) continue
    dump += `# file: ${rel === '' ? '.' : quotePath(rel)}\nsecurity.selinux=${hex(labels.get(rel) as string)}\n\n`
    n++
  }
  if (n === 0) return 0
  try {
    await runTool('setfattr', ['-h', '--restore=-'], { cwd: root, stdin: [new TextEncoder().encode(dump)], ...(signal ? { signal } : {}) })
  } catch (err) {
    if (err instanceof ImagerToolError) throw new ImagerToolError(`cannot set SELinux labels: ${err.message}`)
    throw err
  }
  return n
}

/**
 * The mode of a run: 'off' → none; mksquashfs ≥ 4.6 → pseudo; 'on' → staged; 'auto' → staged
 * when the work directory passes the probe, else none with the probe's reason as `fallback`.
 */
export async function resolveXattrMode(setting: SelinuxLabelsSetting, pseudoXattrs: boolean, workDir: string): Promise<{ mode: XattrMode; fallback?: string }> {
  if (setting === 'off') return { mode: 'none' }
  if (pseudoXattrs) return { mode: 'pseudo' }
  if (setting === 'on') return { mode: 'staged' }
  const probe = await probeSecurityXattrsOnce(workDir)
  return probe.ok ? { mode: 'staged' } : { mode: 'none', fallback: probe.reason }
}
