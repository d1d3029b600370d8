/**
 * SBC overlays (imager-spec §9.1): the overlay image (host architecture) carries
 * `installers/<name>`, an executable speaking a two-command protocol with YAML on stdin:
 *
 *   get-options  stdin: overlay.options      stdout: {name, kernelArgs: [...], partitionOptions: {offset}}
 *   install      stdin: {installDisk, mountPrefix, artifactsPath, extraOptions}
 *
 * We run it as a child process in a scratch directory with a clean environment, a timeout and —
 * where the kernel allows unprivileged user namespaces — no network (`unshare --user
 * --map-root-user --net`); elsewhere it runs without the network namespace (logged once).
 */
import { spawn } from 'node:child_process'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import YAML from 'yaml'
import { InvalidInputError } from '../../src/errors.ts'
import { ImagerAbortedError, ImagerToolError, ImagerUnsupportedError, ioError } from './errors.ts'
import { resolveOrNull } from './fs-tree.ts'
import type { ImagerProfile } from './profile.ts'

export const GET_OPTIONS_TIMEOUT_MS = 60_000
export const INSTALL_TIMEOUT_MS = 5 * 60_000
/** Largest GPT offset (LBAs) we accept from an overlay: 64 MiB at 512-byte sectors. */
export const MAX_PARTITION_OFFSET = 131072
const OUTPUT_LIMIT = 1024 * 1024
const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface PreparedOverlay {
  /** installer name (`installers/<name>`) */
  readonly name: string
  /** root of the extracted host-architecture overlay image */
  readonly root: string
  readonly installer: string
  readonly artifactsPath: string
  /** `get-options` result */
  readonly kernelArgs: readonly string[]
  /** extra LBAs before the GPT entries */
  readonly partitionOffset: number
  readonly extraOptions: Record<string, unknown>
  /** scratch directory the installer runs in */
  readonly scratch: string
}

let isolation: Promise<boolean> | null = null

/** Whether `unshare --user --map-root-user --net` works here (probed once). */
export function networkIsolationAvailable(): Promise<boolean> {
  isolation ??= new Promise<boolean>((resolve) => {
    const child = spawn('unshare', ['--user', '--map-root-user', '--net', '--', 'true'], { stdio: 'ignore' })
    child.once('error', () => resolve(false))
    child.once('close', (code) => resolve(code === 0))
  })
  return isolation
}

interface RunResult {
  stdout: string
}

/** Runs the overlay installer once; stdout is captured (bounded), stderr kept for errors. */
async function runInstaller(o: { installer: string; name: string; scratch: string }, command: string, input: string, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
  if (signal?.aborted) throw new ImagerAbortedError(`build cancelled before the overlay installer ${o.name} ran`)
  const isolated = await networkIsolationAvailable()
  const envArgs = ['env', '-i', `PATH=${CLEAN_PATH}`, `HOME=${o.scratch}`, `TMPDIR=${o.scratch}`, 'LANG=C.UTF-8']
  const argv = isolated ? ['unshare', '--user', '--map-root-user', '--net', '--', ...envArgs, o.installer, command] : [...envArgs, o.installer, command]
  if (!isolated) process.stderr.write(`overlay installer ${o.name}: network namespaces are not available, running without network isolation\n`)
  // own process group: a timeout or cancel kills everything the installer started
  const child = spawn(argv[0]!, argv.slice(1), { cwd: o.scratch, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  const killAll = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
  }
  let stdout = ''
  let stderr = ''
  let overflow = false
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    if (stdout.length + d.length > OUTPUT_LIMIT) overflow = true
    else stdout += d
  })
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-8192)
  })
  child.stdin.on('error', () => undefined)
  child.stdin.end(input)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killAll()
  }, timeoutMs)
  const onAbort = (): void => {
    killAll()
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c) => resolve(c))
    })
    if (signal?.aborted) throw new ImagerAbortedError(`build cancelled while running the overlay installer ${o.name}`)
    if (timedOut) throw new ImagerToolError(`overlay installer ${o.name} ${command} timed out after ${Math.round(timeoutMs / 1000)} s`)
    if (code !== 0) {
      const last = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? `exit code ${code}`
      throw new ImagerToolError(`overlay installer ${o.name} ${command} failed: ${last}`)
    }
    if (overflow) throw new ImagerToolError(`overlay installer ${o.name} ${command} wrote more than ${OUTPUT_LIMIT} bytes`)
    return { stdout }
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

function parseOptions(name: string, text: string): { kernelArgs: string[]; partitionOffset: number } {
  let doc: unknown
  try {
    doc = YAML.parse(text)
  } catch {
    throw new ImagerToolError(`overlay installer ${name} get-options printed invalid YAML`)
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>
  const args = d.kernelArgs ?? []
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new ImagerToolError(`overlay installer ${name} get-options: kernelArgs must be a list of strings`)
  const po = (typeof d.partitionOptions === 'object' && d.partitionOptions !== null ? d.partitionOptions : {}) as Record<string, unknown>
  const offset = po.offset ?? 0
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset > MAX_PARTITION_OFFSET) {
    throw new ImagerToolError(`overlay installer ${name} get-options: partitionOptions.offset must be an integer between 0 and ${MAX_PARTITION_OFFSET}`)
  }
  return { kernelArgs: args as string[], partitionOffset: offset }
}

/** Locates the overlay's installer and runs `get-options` (imager-spec §9.1). */
export async function prepareOverlay(p: ImagerProfile, workDir: string, signal?: AbortSignal, timeoutMs = GET_OPTIONS_TIMEOUT_MS): Promise<PreparedOverlay | null> {
  const overlay = p.overlay
  if (overlay === null) return null
  const root = overlay.image.tarballPath
  if (root === undefined) throw new ImagerUnsupportedError('overlay.image: only an extracted image directory (tarballPath) is supported by the native imager')
  const isDir = await stat(root).then((s) => s.isDirectory()).catch(() => false)
  if (!isDir) throw new ImagerUnsupportedError('overlay.image.tarballPath must be a directory holding the extracted overlay image')
  const installer = await resolveOrNull(root, `installers/${overlay.name}`)
  const ok = installer !== null && (await stat(installer).then((s) => s.isFile()).catch(() => false))
  if (!ok) throw new InvalidInputError(`overlay installer ${JSON.stringify(overlay.name)} not found in the overlay image`)
  const scratch = join(workDir, 'overlay-run')
  try {
    await mkdir(scratch, { recursive: true })
  } catch (err) {
    throw ioError(`cannot create ${scratch}`, err)
  }
  const { stdout } = await runInstaller({ installer, name: overlay.name, scratch }, 'get-options', YAML.stringify(overlay.options), timeoutMs, signal)
  const parsed = parseOptions(overlay.name, stdout)
  return {
    name: overlay.name,
    root,
    installer,
    artifactsPath: join(root, 'artifacts'),
    ...parsed,
    extraOptions: overlay.options,
    scratch,
  }
}

/** Runs the overlay's `install` against the image file and the staging directory. */
export async function runOverlayInstall(o: PreparedOverlay, installDisk: string, mountPrefix: string, signal?: AbortSignal, timeoutMs = INSTALL_TIMEOUT_MS): Promise<void> {
  const input: Record<string, unknown> = { installDisk, mountPrefix, artifactsPath: o.artifactsPath }
  if (Object.keys(o.extraOptions).length > 0) input.extraOptions = o.extraOptions
  await runInstaller(o, 'install', YAML.stringify(input), timeoutMs, signal)
}

/** Moves the contents of `src` into `dst`, merging directories; `src` is removed. */
export async function mergeInto(src: string, dst: string): Promise<void> {
  const srcIsDir = await stat(src).then((s) => s.isDirectory()).catch(() => false)
  if (!srcIsDir) return
  await mkdir(dst, { recursive: true })
  for (const name of await readdir(src)) {
    const from = join(src, name)
    const to = join(dst, name)
    const [fromSt, toSt] = await Promise.all([stat(from).catch(() => null), stat(to).catch(() => null)])
    if (fromSt?.isDirectory() && toSt?.isDirectory()) await mergeInto(from, to)
    else {
      if (toSt !== null) await rm(to, { recursive: true, force: true })
      await rename(from, to)
    }
  }
  await rm(src, { recursive: true, force: true })
}
