/**
 * Content-Type and Content-Disposition for asset downloads (factory `internal/mime`, §6.7).
 *
 * Why a fixed table: the reference falls back to the OS MIME database, so `.tar`/`.zst`/`.raw`
 * answers vary by host. We pin the spec's recommended values so responses (and Caddy's cache-hit
 * headers, which must agree with the edge) are the same everywhere.
 */

export const OCTET_STREAM = 'application/octet-stream'
export const TEXT_PLAIN = 'text/plain; charset=utf-8'

/** Extensions the reference maps itself (matched case-sensitively, like its switch). */
const EXACT: Readonly<Record<string, string>> = {
  '.efi': 'application/efi',
  '.iso': 'application/x-iso9660-image',
  '.xz': 'application/x-xz',
  '.gz': 'application/gzip',
  '.qcow2': 'application/x-qemu-disk',
}

/** Pinned stand-ins for the OS database lookups (matched case-insensitively). */
const FALLBACK: Readonly<Record<string, string>> = {
  '.tar': 'application/x-tar',
  '.zst': 'application/zstd',
  '.txt': TEXT_PLAIN,
  '.sha256': TEXT_PLAIN,
  '.sha512': TEXT_PLAIN,
  '.json': 'application/json',
}

/** Go `filepath.Ext`: from the last `.` of the last path element, or empty. */
export function fileExtension(path: string): string {
  for (let i = path.length - 1; i >= 0 && path[i] !== '/'; i--) {
    if (path[i] === '.') return path.slice(i)
  }
  return ''
}

/** Content-Type by the *last* extension of the asset path (not of a `?filename=` override). */
export function contentTypeFor(path: string): string {
  const ext = fileExtension(path)
  if (ext === '') return OCTET_STREAM
  if (Object.hasOwn(EXACT, ext)) return EXACT[ext]!
  const lower = ext.toLowerCase()
  return Object.hasOwn(FALLBACK, lower) ? FALLBACK[lower]! : OCTET_STREAM
}

/** Download name: non-empty `?filename=` wins, else the requested path. */
export function downloadFilename(path: string, queryFilename?: string | null): string {
  return queryFilename ? queryFilename : path
}

/**
 * The file name without C0 control characters and DEL, so a `?filename=` cannot add header lines
 * or lines to a checksum sidecar. Shared by every place that writes the download name.
 */
export function stripControlChars(filename: string): string {
  // eslint-disable-next-line no-control-regex
  return filename.replace(/[\u0000-\u001f\u007f]/g, '')
}

/**
 * `attachment; filename="<name>"`. The reference writes the name verbatim (a `"` breaks the
 * header); we escape `\` and `"`, drop control characters, and add an RFC 5987 `filename*` for
 * non-ASCII names. Plain ASCII names give exactly the reference's header.
 */
export function contentDisposition(filename: string): string {
  const cleaned = stripControlChars(filename)
  const quoted = cleaned.replace(/[\\"]/g, (c) => '\\' + c)
  // eslint-disable-next-line no-control-regex
  if (/^[\u0020-\u007e]*$/.test(cleaned)) return `attachment; filename="${quoted}"`
  const ascii = quoted.replace(/[^\u0020-\u007e]/g, '_')
  const encoded = encodeURIComponent(cleaned).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`
}
