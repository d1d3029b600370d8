/**
 * Atomic file writes: data goes to a temp file in the same directory, is fsynced, then renamed
 * into place, so a reader sees either nothing or the whole file — never a partial one.
 */
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { randomBytes } from 'node:crypto'

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = tempPathFor(path)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/**
 * The contents of `path`, creating it with `generate()` when it does not exist yet. Several
 * processes (nodes sharing a data directory) may race: the file is written under a temp name and
 * hard-linked into place, which fails if another process got there first — then its contents
 * win, so every node ends up with the same bytes (keys, secrets generated on first start).
 */
export async function readOrCreateFile(path: string, generate: () => Promise<Uint8Array | string> | Uint8Array | string, mode = 0o600): Promise<{ data: Buffer; created: boolean }> {
  try {
    return { data: await readFile(path), created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = tempPathFor(path)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(await generate())
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await link(tmp, path)
    return { data: await readFile(path), created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return { data: await readFile(path), created: false }
  } finally {
    await rm(tmp, { force: true })
  }
}
