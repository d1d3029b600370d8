/**
 * Router semantics the reference gets from httprouter (factory-spec §1.1), rebuilt on top of
 * Elysia's route list: 405 with an Allow header when the path exists for other methods, a
 * trailing-slash redirect, and the plain `404 page not found` otherwise.
 *
 * Methods are exactly the registered ones. In particular a GET route does not imply HEAD: the
 * reference registers HEAD explicitly where it exists (§2), and answers 405 elsewhere — while Bun
 * and Elysia would run the GET handler for a HEAD request. `headNotAllowed` restores the 405.
 */
interface CompiledRoute {
  method: string
  re: RegExp
}

function compile(path: string): RegExp {
  const parts = path.split('/').map((seg) => {
    if (seg === '*') return '.*'
    if (seg.startsWith(':')) return '[^/]+'
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  })
  return new RegExp(`^${parts.join('/')}$`)
}

export interface FallbackResponse {
  status: number
  body: string
  headers: Record<string, string>
}

export class RouteTable {
  private readonly routes: CompiledRoute[]

  constructor(routes: readonly { method: string; path: string }[]) {
    this.routes = routes.map((r) => ({ method: r.method.toUpperCase(), re: compile(r.path) }))
  }

  /** The methods registered for a path, sorted. */
  methodsFor(path: string): string[] {
    const methods = new Set<string>()
    for (const r of this.routes) if (r.re.test(path)) methods.add(r.method)
    return [...methods].filter((m) => m !== 'ALL').sort()
  }

  /** httprouter's Allow value: the registered methods plus OPTIONS, sorted (`GET, HEAD, OPTIONS`, `OPTIONS, POST`). */
  private static allow(methods: readonly string[]): string {
    return [...new Set([...methods, 'OPTIONS'])].sort().join(', ')
  }

  /** A 405 for a HEAD request to a path that exists but has no HEAD route; null otherwise. */
  headNotAllowed(path: string): FallbackResponse | null {
    const methods = this.methodsFor(path)
    if (methods.length === 0 || methods.includes('HEAD')) return null
    return { status: 405, body: 'Method Not Allowed', headers: { allow: RouteTable.allow(methods) } }
  }

  /** The response for a request no route matched. */
  fallback(request: Request): FallbackResponse {
    const url = new URL(request.url)
    const path = url.pathname
    const methods = this.methodsFor(path)
    if (request.method === 'OPTIONS' && methods.length > 0) {
      return { status: 200, body: '', headers: { allow: RouteTable.allow(methods) } }
    }
    if (methods.length > 0 && !methods.includes(request.method)) {
      return { status: 405, body: 'Method Not Allowed', headers: { allow: RouteTable.allow(methods) } }
    }
    if (path.length > 1) {
      const alt = path.endsWith('/') ? path.slice(0, -1) : `${path}/`
      if (this.methodsFor(alt).includes(request.method)) {
        const status = request.method === 'GET' || request.method === 'HEAD' ? 301 : 307
        return { status, body: '', headers: { location: `${alt}${url.search}` } }
      }
    }
    return { status: 404, body: '404 page not found', headers: {} }
  }
}
