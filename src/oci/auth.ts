/**
 * Registry authentication as clients of ghcr.io, Docker Hub, Harbor and distribution see it:
 *
 * - anonymous or credentialed bearer tokens: a 401 carrying
 *   `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` → GET the realm (with Basic
 *   credentials when configured) → `{token | access_token, expires_in}` → retry with `Bearer`;
 * - plain Basic auth: a 401 with a `Basic` challenge → retry with the configured user/password;
 * - a static bearer token sent on every request.
 *
 * Tokens are cached per scope (`repository:<name>:pull` or `…:pull,push`) until shortly before expiry.
 */
import { UpstreamUnauthorizedError, UpstreamUnavailableError } from '../errors.ts'

export interface Credentials {
  username?: string
  password?: string
  /** A pre-issued bearer token, sent as is. */
  token?: string
}

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string
  params: Record<string, string>
}

/** Sends a request (with transport retries); used for token requests. */
export type Sender = (url: string, init: RequestInit) => Promise<Response>

/**
 * Parses the first challenge of a `WWW-Authenticate` header:
 * `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`.
 */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header)
  if (!m || !m[1]) return null
  const params: Record<string, string> = {}
  const re = /([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy
  const rest = m[2] ?? ''
  re.lastIndex = 0
  let p: RegExpExecArray | null
  while ((p = re.exec(rest)) !== null && p[0].length > 0) {
    const key = (p[1] ?? '').toLowerCase()
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '')
  }
  return { scheme: m[1].toLowerCase(), params }
}

/** `repository:<name>:pull` or `repository:<name>:pull,push`. */
export function repositoryScope(repository: string, push = false): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
}

interface CachedToken {
  header: string
  expiresAt: number
}

/** Holds credentials and cached tokens for one registry. */
export class Authenticator {
  private readonly tokens = new Map<string, CachedToken>()
  private basicMode = false

  constructor(
    private readonly registry: string,
    private readonly credentials: Credentials,
    private readonly send: Sender,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send for a scope, if one is known already. */
  header(scope: string): string | undefined {
    const cached = this.tokens.get(scope)
    if (cached && cached.expiresAt > this.now()) return cached.header
    if (cached) this.tokens.delete(scope)
    const { username, password, token } = this.credentials
    if (this.basicMode && username !== undefined && password !== undefined) return basic(username, password)
    if (token) return `Bearer ${token}`
    return undefined
  }

  /**
   * Reacts to a 401 response for `scope`. Returns true when new credentials were obtained and the
   * request should be sent again; false when there is nothing more to try.
   */
  async handleChallenge(res: Response, scope: string): Promise<boolean> {
    const challenge = parseChallenge(res.headers.get('www-authenticate'))
    const { username, password } = this.credentials
    if (!challenge) return false
    if (challenge.scheme === 'basic') {
      if (username === undefined || password === undefined || this.basicMode) return false
      this.basicMode = true
      return true
    }
    if (challenge.scheme !== 'bearer') return false
    const realm = challenge.params.realm
    if (!realm) return false
    const token = await this.fetchToken(realm, challenge.params.service, challenge.params.scope || scope)
    this.tokens.set(scope, token)
    return true
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string): Promise<CachedToken> {
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new UpstreamUnavailableError(`registry ${this.registry} sent an invalid token realm`)
    }
    if (service) url.searchParams.set('service', service)
    for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s)
    const headers: Record<string, string> = { accept: 'application/json' }
    const { username, password } = this.credentials
    if (username !== undefined && password !== undefined) headers.authorization = basic(username, password)
    const res = await this.send(url.toString(), { method: 'GET', headers })
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel()
      throw new UpstreamUnauthorizedError(`registry ${this.registry} token service refused ${scope || 'access'} (${res.status})`)
    }
    if (!res.ok) {
      await res.body?.cancel()
      throw new UpstreamUnavailableError(`registry ${this.registry} token service answered ${res.status}`)
    }
    let body: unknown
    try {
      body = await res.json()
    } catch {
      throw new UpstreamUnavailableError(`registry ${this.registry} token service sent invalid JSON`)
    }
    const rec = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    const token = typeof rec.token === 'string' && rec.token ? rec.token : typeof rec.access_token === 'string' ? rec.access_token : ''
    if (!token) throw new UpstreamUnavailableError(`registry ${this.registry} token service sent no token`)
    const expiresIn = typeof rec.expires_in === 'number' && rec.expires_in > 0 ? rec.expires_in : 60
    // Renew a little early so a token never expires in flight.
    return { header: `Bearer ${token}`, expiresAt: this.now() + Math.max(1, expiresIn - 10) * 1000 }
  }
}
