/**
 * Router semantics the reference gets from httprouter (factory-spec §1.1), rebuilt on top of
 * Elysia's route list: 405 with an Allow header when the path exists for other methods, a
 * trailing-slash redirect, and the plain `404 page not found` otherwise.
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

export class RouteTable {
  private readonly routes: CompiledRoute[]

  constructor(routes: readonly { method: string; path: string }[]) {
    this.routes = routes.map((r) => ({ method: r.method.toUpperCase(), re: compile(r.path) }))
  }

  methodsFor(path: string): string[] {
    const methods = new Set<string>()
    for (const r of this.routes) if (r.re.test(path)) methods.add(r.method)
    if (methods.has('GET')) methods.add('HEAD')
    return [...methods].filter((m) => m !== 'ALL').sort()
  }

  /** The response for a request no route matched. */
  fallback(request: Request): { status: number; body: string; headers: Record<string, string> } {
    const url = new URL(request.url)
    const path = url.pathname
    if (request.method === 'OPTIONS') {
      const methods = this.methodsFor(path)
      if (methods.length > 0) return { status: 200, body: '', headers: { allow: [...methods, 'OPTIONS'].join(', ') } }
    }
    const methods = this.methodsFor(path)
    if (methods.length > 0 && !methods.includes(request.method)) {
      return { status: 405, body: 'Method Not Allowed', headers: { allow: [...methods, 'OPTIONS'].join(', ') } }
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
