/**
 * CORS as the reference configures rs/cors (factory-spec §1.5): methods HEAD, GET, OPTIONS;
 * request header Cache-Control; exposed Content-Disposition, Content-Length, Content-Type.
 * Preflights are answered here with 204 and never reach a route.
 */
const ALLOWED_METHODS = ['HEAD', 'GET', 'OPTIONS']
const ALLOWED_HEADERS = ['cache-control']
const EXPOSED_HEADERS = 'Content-Disposition, Content-Length, Content-Type'

export class Cors {
  private readonly any: boolean
  private readonly origins: Set<string>

  constructor(allowedOrigins: string[]) {
    this.any = allowedOrigins.includes('*')
    this.origins = new Set(allowedOrigins.map((o) => o.toLowerCase()))
  }

  private allowOrigin(origin: string): string | null {
    if (this.any) return '*'
    return this.origins.has(origin.toLowerCase()) ? origin : null
  }

  isPreflight(request: Request): boolean {
    return request.method === 'OPTIONS' && request.headers.has('origin') && request.headers.has('access-control-request-method')
  }

  preflight(request: Request): Response {
    const headers = new Headers({ vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers' })
    const origin = this.allowOrigin(request.headers.get('origin') ?? '')
    const method = (request.headers.get('access-control-request-method') ?? '').toUpperCase()
    const wanted = (request.headers.get('access-control-request-headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean)
    if (origin && ALLOWED_METHODS.includes(method) && wanted.every((h) => ALLOWED_HEADERS.includes(h))) {
      headers.set('access-control-allow-origin', origin)
      headers.set('access-control-allow-methods', method)
      if (wanted.length > 0) headers.set('access-control-allow-headers', wanted.join(', '))
    }
    return new Response(null, { status: 204, headers })
  }

  /** Headers for an actual (non-preflight) request carrying Origin. */
  responseHeaders(request: Request): Record<string, string> {
    const raw = request.headers.get('origin')
    if (!raw) return {}
    const origin = this.allowOrigin(raw)
    if (!origin) return { vary: 'Origin' }
    return { vary: 'Origin', 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS }
  }
}
