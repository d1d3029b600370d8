/**
 * File responses with the semantics downloaders rely on: Content-Length, Accept-Ranges and single
 * `Range` requests (206/416), `ETag` + `If-None-Match` (304), `Last-Modified`, HEAD without a body.
 * The ETag has Caddy's format (mtime and size in base 36), so a client sees the same validator
 * whether Caddy or the edge served the file.
 */
import { stat } from 'node:fs/promises'

export function caddyEtag(mtimeMs: number, size: number): string {
  const mtime = Math.floor(mtimeMs / 1000)
  return `"${mtime.toString(36)}${size.toString(36)}"`
}

function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null // malformed or multi-range: serve the whole file
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'unsatisfiable'
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (start >= size || start > end) return 'unsatisfiable'
  return { start, end }
}

function etagMatches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag)
}

export async function fileResponse(request: Request, path: string, headers: Record<string, string>): Promise<Response> {
  const st = await stat(path)
  const size = st.size
  const etag = caddyEtag(st.mtimeMs, size)
  const base: Record<string, string> = {
    ...headers,
    etag,
    'last-modified': new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString(),
    'accept-ranges': 'bytes',
  }
  const inm = request.headers.get('if-none-match')
  if (inm && etagMatches(inm, etag)) return new Response(null, { status: 304, headers: { etag, 'last-modified': base['last-modified']! } })
  const head = request.method === 'HEAD'
  const rangeHeader = request.headers.get('range')
  const ifRange = request.headers.get('if-range')
  const range = rangeHeader && (!ifRange || ifRange === etag) ? parseRange(rangeHeader, size) : null
  if (range === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { ...base, 'content-range': `bytes */${size}` } })
  }
  const file = Bun.file(path)
  if (range) {
    const length = range.end - range.start + 1
    return new Response(head ? null : file.slice(range.start, range.end + 1), {
      status: 206,
      headers: { ...base, 'content-range': `bytes ${range.start}-${range.end}/${size}`, 'content-length': String(length) },
    })
  }
  return new Response(head ? null : file, { status: 200, headers: { ...base, 'content-length': String(size) } })
}
