/**
 * Size bound of the factory's OCI store (fs-store.ts): when its blobs exceed the bound, the least
 * recently pulled version tags are dropped (with their signature tags), then everything no
 * remaining tag reaches is swept — repository links first, then blob files no repository links.
 *
 * Safe with several nodes on one data directory: anything written or linked within the grace
 * period is kept (a publish in progress links blobs before it tags them), and blobs are only
 * removed when no repository links them. A pull that races the removal of its own (oldest) tag
 * may see a 404 and pulls again, which republishes.
 */
import { lstat, readdir, readFile, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { isDigest } from './digest.ts'
import type { FsOciStore } from './fs-store.ts'

export interface GcOptions {
  maxBytes: number
  /** entries younger than this are never removed (default 10 minutes) */
  graceMs?: number
  now?: number
}

export interface GcResult {
  bytesBefore: number
  bytesAfter: number
  tagsRemoved: string[]
  blobsRemoved: number
}

interface TagRef {
  repo: string
  tag: string
  path: string
  digest: string
  used: number
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[])
}

/** `<image>/<schematic>` repositories of the store. */
async function repositories(store: FsOciStore): Promise<string[]> {
  const out: string[] = []
  for (const image of await listDir(store.reposDir)) for (const schematic of await listDir(join(store.reposDir, image))) out.push(`${image}/${schematic}`)
  return out
}

async function blobBytes(store: FsOciStore): Promise<number> {
  let total = 0
  for (const name of await listDir(store.blobsDir)) total += (await stat(join(store.blobsDir, name)).catch(() => null))?.size ?? 0
  return total
}

/** Digests some repository links as a manifest: the only blobs worth parsing. */
async function manifestDigests(store: FsOciStore): Promise<Set<string>> {
  const out = new Set<string>()
  for (const repo of await repositories(store)) for (const name of await listDir(join(store.reposDir, ...repo.split('/'), 'manifests'))) out.add(name)
  return out
}

/** Every digest a manifest reaches (itself, its config and layers, an index's manifests, recursively). */
async function reach(store: FsOciStore, manifests: Set<string>, digest: string, into: Set<string>, depth = 0): Promise<void> {
  if (into.has(digest) || depth > 4) return
  into.add(digest)
  if (!manifests.has(digest)) return // a layer or config: a leaf, never read
  const st = await stat(store.blobPath(digest)).catch(() => null)
  if (!st || st.size > 4 * 1024 * 1024) return
  const text = await readFile(store.blobPath(digest), 'utf8').catch(() => null)
  if (text === null) return
  let doc: { config?: { digest?: unknown }; layers?: { digest?: unknown }[]; manifests?: { digest?: unknown }[] }
  try {
    doc = JSON.parse(text) as typeof doc
  } catch {
    return
  }
  if (typeof doc !== 'object' || doc === null) return
  const children = [doc.config, ...(doc.layers ?? []), ...(doc.manifests ?? [])]
  for (const c of children) if (c && typeof c.digest === 'string' && isDigest(c.digest)) await reach(store, manifests, c.digest, into, depth + 1)
}

/** Runs one collection when the store is over `maxBytes`; a no-op otherwise. */
export async function collectOciStore(store: FsOciStore, opts: GcOptions): Promise<GcResult> {
  const now = opts.now ?? Date.now()
  const grace = opts.graceMs ?? 10 * 60_000
  const young = (mtimeMs: number) => now - mtimeMs < grace
  const before = await blobBytes(store)
  const result: GcResult = { bytesBefore: before, bytesAfter: before, tagsRemoved: [], blobsRemoved: 0 }
  if (before <= opts.maxBytes) return result

  // version tags, least recently used first (the edge touches a tag when it serves it)
  const tags: TagRef[] = []
  for (const repo of await repositories(store)) {
    const dir = join(store.reposDir, ...repo.split('/'), 'tags')
    for (const tag of await listDir(dir)) {
      if (tag.endsWith('.sig') || tag.startsWith('.')) continue
      const path = join(dir, tag)
      const st = await stat(path).catch(() => null)
      const digest = (await readFile(path, 'utf8').catch(() => '')).trim()
      if (st && isDigest(digest)) tags.push({ repo, tag, path, digest, used: st.mtimeMs })
    }
  }
  tags.sort((a, b) => a.used - b.used)

  // drop the oldest tags until what the rest reaches fits (estimated from blob sizes)
  const sizeOf = new Map<string, number>()
  const size = async (d: string) => {
    let s = sizeOf.get(d)
    if (s === undefined) {
      s = (await stat(store.blobPath(d)).catch(() => null))?.size ?? 0
      sizeOf.set(d, s)
    }
    return s
  }
  const manifests = await manifestDigests(store)
  const reachOf = new Map<TagRef, Set<string>>()
  for (const t of tags) {
    const set = new Set<string>()
    await reach(store, manifests, t.digest, set)
    const sig = join(store.reposDir, ...t.repo.split('/'), 'tags', `${t.digest.replace(':', '-')}.sig`)
    const sigDigest = (await readFile(sig, 'utf8').catch(() => '')).trim()
    if (isDigest(sigDigest)) await reach(store, manifests, sigDigest, set)
    reachOf.set(t, set)
  }
  const kept = new Set(tags)
  const live = async (): Promise<number> => {
    const all = new Set<string>()
    for (const t of kept) for (const d of reachOf.get(t) ?? []) all.add(d)
    let total = 0
    for (const d of all) total += await size(d)
    return total
  }
  for (const t of tags) {
    if ((await live()) <= opts.maxBytes) break
    if (young(t.used)) break // everything after it is younger still
    kept.delete(t)
    await unlink(t.path).catch(() => {})
    await unlink(join(store.reposDir, ...t.repo.split('/'), 'tags', `${t.digest.replace(':', '-')}.sig`)).catch(() => {})
    result.tagsRemoved.push(`${t.repo}:${t.tag}`)
  }
  if (result.tagsRemoved.length === 0) return result

  // sweep links no kept tag reaches (per repository), then blobs no repository links
  const reachable = new Map<string, Set<string>>()
  for (const t of kept) {
    const set = reachable.get(t.repo) ?? new Set<string>()
    for (const d of reachOf.get(t) ?? []) set.add(d)
    reachable.set(t.repo, set)
  }
  const linked = new Set<string>()
  for (const repo of await repositories(store)) {
    for (const kind of ['blobs', 'manifests']) {
      const dir = join(store.reposDir, ...repo.split('/'), kind)
      for (const name of await listDir(dir)) {
        const path = join(dir, name)
        const st = await lstat(path).catch(() => null)
        if (!st) continue
        if (reachable.get(repo)?.has(name) || young(st.mtimeMs)) linked.add(name)
        else await unlink(path).catch(() => {})
      }
    }
  }
  for (const name of await listDir(store.blobsDir)) {
    if (name.startsWith('.')) continue
    const digest = `sha256:${name}`
    const path = join(store.blobsDir, name)
    const st = await stat(path).catch(() => null)
    if (!st || linked.has(digest) || young(st.mtimeMs)) continue
    await rm(path, { force: true })
    result.blobsRemoved++
  }
  result.bytesAfter = await blobBytes(store)
  return result
}
