/**
 * One validated configuration object, from built-in defaults, an optional YAML file
 * (`FACTORY_CONFIG`) and `FACTORY_*` environment variables, later sources overriding earlier ones.
 *
 * Every setting is declared once in SETTINGS: its environment name (a contract with operators'
 * scripts), its path in the YAML file, its default and a one-line description. The README's
 * configuration table is checked against this list by a test, so the two cannot drift.
 */
import * as v from 'valibot'
import YAML from 'yaml'
import { readFileSync } from 'node:fs'
import { ConfigError } from './errors.ts'

type Kind = 'string' | 'url' | 'addr' | 'bool' | 'int' | 'bytes' | 'duration' | 'list' | 'enum'

export interface SettingSpec {
  env: string
  /** dotted path in the YAML file */
  path: string
  kind: Kind
  default?: string
  choices?: readonly string[]
  doc: string
}

export const SETTINGS = [
  { env: 'FACTORY_HTTP_ADDR', path: 'http.addr', kind: 'addr', default: '127.0.0.1:8080', doc: 'Public listen address (host:port). With the full stack Caddy listens here; edge alone otherwise.' },
  { env: 'FACTORY_EXTERNAL_URL', path: 'http.externalUrl', kind: 'url', doc: 'Public base URL used in generated links, talosctl URLs and the schematic extension author. Default: http://<FACTORY_HTTP_ADDR>/.' },
  { env: 'FACTORY_EXTERNAL_PXE_URL', path: 'http.externalPxeUrl', kind: 'url', doc: 'Base URL written into iPXE scripts (e.g. a LAN address). Default: FACTORY_EXTERNAL_URL.' },
  { env: 'FACTORY_ALLOWED_ORIGINS', path: 'http.allowedOrigins', kind: 'list', default: '*', doc: 'CORS allowed origins, comma-separated (or a JSON array).' },
  { env: 'FACTORY_MAX_BODY_BYTES', path: 'http.maxBodyBytes', kind: 'bytes', default: '1MiB', doc: 'Largest accepted request body (POST /schematics); larger bodies get 413.' },
  { env: 'FACTORY_DATA_DIR', path: 'dataDir', kind: 'string', default: './data', doc: 'Where schematics, built assets, cached upstream inputs and keys live.' },
  { env: 'FACTORY_LOG_LEVEL', path: 'logLevel', kind: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error'], doc: 'Minimum level of the JSON log lines written to stderr.' },
  { env: 'FACTORY_UPSTREAM_REGISTRY', path: 'upstream.registry', kind: 'string', default: 'ghcr.io', doc: 'Registry (host[:port]) holding the Talos source images: imager, installer, extensions, overlays, talosctl-all.' },
  { env: 'FACTORY_UPSTREAM_NAMESPACE', path: 'upstream.namespace', kind: 'string', default: '', doc: 'Optional path prefix for pull-through mirrors, e.g. `proxy` for `harbor.example.com/proxy/siderolabs/imager`.' },
  { env: 'FACTORY_UPSTREAM_INSECURE', path: 'upstream.insecure', kind: 'bool', default: 'false', doc: 'Talk plain HTTP to the upstream registry (local mirrors, tests).' },
  { env: 'FACTORY_UPSTREAM_USERNAME', path: 'upstream.username', kind: 'string', default: '', doc: 'Upstream registry user name (basic auth or token exchange).' },
  { env: 'FACTORY_UPSTREAM_PASSWORD', path: 'upstream.password', kind: 'string', default: '', doc: 'Upstream registry password or personal access token.' },
  { env: 'FACTORY_UPSTREAM_TOKEN', path: 'upstream.token', kind: 'string', default: '', doc: 'Static bearer token for the upstream registry (instead of user/password).' },
  { env: 'FACTORY_REDIS_URL', path: 'redisUrl', kind: 'string', default: '', doc: 'Redis URL (redis://host:port/db). Empty = embedded single-node mode with in-process locks.' },
  { env: 'FACTORY_SCHEMATIC_STORE', path: 'schematics.store', kind: 'enum', default: 'fs', choices: ['fs', 'oci'], doc: '`fs` stores schematics under FACTORY_DATA_DIR; `oci` stores them in a registry (shared by several nodes).' },
  { env: 'FACTORY_SCHEMATIC_REGISTRY', path: 'schematics.registry', kind: 'string', default: '', doc: 'Registry (host[:port]) for the `oci` schematic store. Default: FACTORY_UPSTREAM_REGISTRY.' },
  { env: 'FACTORY_SCHEMATIC_REPOSITORY', path: 'schematics.repository', kind: 'string', default: 'siderolabs/image-factory/schematics', doc: 'Repository for the `oci` schematic store (the reference layout: one tag per schematic ID).' },
  { env: 'FACTORY_SCHEMATIC_INSECURE', path: 'schematics.insecure', kind: 'bool', default: 'false', doc: 'Plain HTTP for the schematic registry.' },
  { env: 'FACTORY_SCHEMATIC_CACHE_SIZE', path: 'schematics.cacheSize', kind: 'int', default: '100000', doc: 'Schematics kept in the in-memory LRU in front of the store.' },
  { env: 'FACTORY_SCHEMATIC_NEGATIVE_TTL', path: 'schematics.negativeTtl', kind: 'duration', default: '30s', doc: 'How long an unknown schematic ID is remembered as unknown.' },
  { env: 'FACTORY_SCHEMATIC_PARSE_WORKERS', path: 'schematics.parseWorkers', kind: 'int', default: '2', doc: 'Worker threads that parse schematic bodies (off the event loop); also the number of parses at once.' },
  { env: 'FACTORY_SCHEMATIC_PARSE_TIMEOUT', path: 'schematics.parseTimeout', kind: 'duration', default: '5s', doc: 'Time budget of one schematic parse; a parse over it is stopped (its worker replaced) and answered 400.' },
  { env: 'FACTORY_SCHEMATIC_PARSE_QUEUE', path: 'schematics.parseQueue', kind: 'int', default: '32', doc: 'Schematic bodies that may wait for a parser worker; more get 503 at once.' },
  { env: 'FACTORY_MIN_TALOS_VERSION', path: 'build.minTalosVersion', kind: 'string', default: '1.2.0', doc: 'Oldest Talos version offered.' },
  { env: 'FACTORY_BROKEN_TALOS_VERSIONS', path: 'build.brokenTalosVersions', kind: 'list', default: '', doc: 'Versions hidden from /versions (shown by /versions?broken=true), comma-separated.' },
  { env: 'FACTORY_VERSION_REFRESH_INTERVAL', path: 'catalog.refreshInterval', kind: 'duration', default: '15m', doc: 'How often the version list and catalogues are refreshed in the background.' },
  { env: 'FACTORY_BUILD_CONCURRENCY', path: 'build.concurrency', kind: 'int', default: '2', doc: 'Imager runs at once per builder.' },
  { env: 'FACTORY_BUILD_TIMEOUT', path: 'build.timeout', kind: 'duration', default: '20m', doc: 'A build running longer is killed and reported as failed.' },
  { env: 'FACTORY_BUILD_LOCK_TTL', path: 'build.lockTtl', kind: 'duration', default: '30s', doc: 'Redis build lock lifetime, renewed while a build runs; a crashed builder\'s lock frees itself after this.' },
  { env: 'FACTORY_PXE_INITRD_ARG', path: 'pxe.initrdArg', kind: 'enum', default: 'auto', choices: ['auto', 'always', 'never'], doc: 'Add `initrd=initramfs-<arch>.xz` to iPXE kernel lines: `auto` only for iPXE builds older than 1.21 (no UEFI LoadFile2 initrd support, e.g. Debian 12\'s QEMU ROM); `never` keeps the reference script byte for byte.' },
  { env: 'FACTORY_CACHE_MAX_BYTES', path: 'cache.maxBytes', kind: 'bytes', default: '20GiB', doc: 'Size bound of the asset store; least recently used assets are evicted beyond it.' },
  { env: 'FACTORY_BUILDER_URL', path: 'builder.url', kind: 'string', default: '', doc: 'Builder daemon job API (http://127.0.0.1:port or unix:/path.sock). Empty = run the builder inside the edge process.' },
] as const satisfies readonly SettingSpec[]

export interface Config {
  http: { addr: string; host: string; port: number; externalUrl: string; externalPxeUrl: string; allowedOrigins: string[]; maxBodyBytes: number }
  dataDir: string
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  upstream: { registry: string; namespace: string; insecure: boolean; username: string; password: string; token: string }
  redisUrl: string
  schematics: {
    store: 'fs' | 'oci'
    registry: string
    repository: string
    insecure: boolean
    cacheSize: number
    negativeTtlMs: number
    parseWorkers: number
    parseTimeoutMs: number
    parseQueue: number
  }
  build: { minTalosVersion: string; brokenTalosVersions: string[]; concurrency: number; timeoutMs: number; lockTtlMs: number }
  pxe: { initrdArg: 'auto' | 'always' | 'never' }
  catalog: { refreshIntervalMs: number }
  cache: { maxBytes: number }
  builder: { url: string }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses `1MiB`, `512k`, `1048576`. */
export function parseBytes(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw)
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()]
  if (!m || unit === undefined) throw new Error(`expected a size like 1048576, 512KiB or 20GiB, got "${raw}"`)
  return Math.floor(Number(m[1]) * unit)
}

/** Parses Go-style durations (`30s`, `15m`, `1h30m`, `250ms`) and bare milliseconds. */
export function parseDuration(raw: string): number {
  const s = raw.trim()
  if (/^\d+$/.test(s)) return Number(s)
  let total = 0
  let rest = s
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest)
    if (!m) throw new Error(`expected a duration like 30s, 15m or 1h30m, got "${raw}"`)
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0)
    rest = rest.slice(m[0].length)
  }
  if (s.length === 0) throw new Error('expected a duration, got an empty value')
  return Math.round(total)
}

function parseList(raw: string): string[] {
  const s = raw.trim()
  if (s.startsWith('[')) {
    const parsed = v.parse(v.array(v.string()), JSON.parse(s))
    return parsed.map((x) => x.trim()).filter(Boolean)
  }
  return s.split(',').map((x) => x.trim()).filter(Boolean)
}

function parseBool(raw: string): boolean {
  const s = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(s)) return true
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false
  throw new Error(`expected true or false, got "${raw}"`)
}

const AddrSchema = v.pipe(v.string(), v.regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected host:port'))
const UrlSchema = v.pipe(
  v.string(),
  v.url('expected an absolute URL'),
  v.check((s) => /^https?:\/\/[^/]+/.test(s), 'must have http or https scheme and a host'),
)

function convert(spec: SettingSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
      return raw
    case 'addr':
      return v.parse(AddrSchema, raw.trim())
    case 'url': {
      const url = v.parse(UrlSchema, raw.trim())
      return url.endsWith('/') ? url : `${url}/`
    }
    case 'bool':
      return parseBool(raw)
    case 'int': {
      if (!/^\s*\d+\s*$/.test(raw)) throw new Error(`expected a whole number, got "${raw}"`)
      return Number(raw)
    }
    case 'bytes':
      return parseBytes(raw)
    case 'duration':
      return parseDuration(raw)
    case 'list':
      return parseList(raw)
    case 'enum':
      if (!spec.choices?.includes(raw.trim())) throw new Error(`expected one of ${spec.choices?.join(', ')}, got "${raw}"`)
      return raw.trim()
  }
}

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`FACTORY_CONFIG: cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    return YAML.parse(text) ?? {}
  } catch (err) {
    throw new ConfigError(`FACTORY_CONFIG: ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
}

function fileValueToString(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',')
  return String(value)
}

/** Builds the configuration; throws ConfigError naming the offending key. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const file = env.FACTORY_CONFIG ? readConfigFile(env.FACTORY_CONFIG) : {}
  const known = new Set<string>(SETTINGS.map((s) => s.env))
  for (const name of Object.keys(env)) {
    if (name.startsWith('FACTORY_') && name !== 'FACTORY_CONFIG' && !known.has(name)) {
      throw new ConfigError(`${name}: unknown setting (see the configuration table in README.md)`)
    }
  }
  const values = new Map<string, unknown>()
  for (const spec of SETTINGS as readonly SettingSpec[]) {
    const fromEnv = env[spec.env]
    const fromFile = getPath(file, spec.path)
    const raw = fromEnv ?? (fromFile === undefined || fromFile === null ? spec.default : fileValueToString(fromFile))
    if (raw === undefined) continue
    try {
      values.set(spec.env, convert(spec, raw))
    } catch (err) {
      const where = fromEnv !== undefined ? spec.env : fromFile !== undefined ? `${spec.path} (in ${env.FACTORY_CONFIG})` : spec.env
      const msg = err instanceof v.ValiError ? err.issues.map((i) => i.message).join('; ') : (err as Error).message
      throw new ConfigError(`${where}: ${msg}`)
    }
  }
  const get = <T>(name: (typeof SETTINGS)[number]['env']): T => values.get(name) as T
  const addr = get<string>('FACTORY_HTTP_ADDR')
  const idx = addr.lastIndexOf(':')
  const host = addr.slice(0, idx).replace(/^\[|\]$/g, '') || '0.0.0.0'
  const port = Number(addr.slice(idx + 1))
  if (port > 65535) throw new ConfigError(`FACTORY_HTTP_ADDR: port ${port} is out of range`)
  const externalUrl = get<string | undefined>('FACTORY_EXTERNAL_URL') ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : addr.slice(0, idx)}:${port}/`
  const positive = (name: (typeof SETTINGS)[number]['env']): number => {
    const n = get<number>(name)
    if (!(n > 0)) throw new ConfigError(`${name}: must be greater than zero`)
    return n
  }
  return {
    http: {
      addr,
      host,
      port,
      externalUrl,
      externalPxeUrl: get<string | undefined>('FACTORY_EXTERNAL_PXE_URL') ?? externalUrl,
      allowedOrigins: get<string[]>('FACTORY_ALLOWED_ORIGINS'),
      maxBodyBytes: positive('FACTORY_MAX_BODY_BYTES'),
    },
    dataDir: get<string>('FACTORY_DATA_DIR'),
    logLevel: get<Config['logLevel']>('FACTORY_LOG_LEVEL'),
    upstream: {
      registry: get<string>('FACTORY_UPSTREAM_REGISTRY'),
      namespace: get<string>('FACTORY_UPSTREAM_NAMESPACE').replace(/^\/+|\/+$/g, ''),
      insecure: get<boolean>('FACTORY_UPSTREAM_INSECURE'),
      username: get<string>('FACTORY_UPSTREAM_USERNAME'),
      password: get<string>('FACTORY_UPSTREAM_PASSWORD'),
      token: get<string>('FACTORY_UPSTREAM_TOKEN'),
    },
    redisUrl: get<string>('FACTORY_REDIS_URL'),
    schematics: {
      store: get<'fs' | 'oci'>('FACTORY_SCHEMATIC_STORE'),
      registry: get<string>('FACTORY_SCHEMATIC_REGISTRY') || get<string>('FACTORY_UPSTREAM_REGISTRY'),
      repository: get<string>('FACTORY_SCHEMATIC_REPOSITORY'),
      insecure: get<boolean>('FACTORY_SCHEMATIC_INSECURE'),
      cacheSize: positive('FACTORY_SCHEMATIC_CACHE_SIZE'),
      negativeTtlMs: get<number>('FACTORY_SCHEMATIC_NEGATIVE_TTL'),
      parseWorkers: positive('FACTORY_SCHEMATIC_PARSE_WORKERS'),
      parseTimeoutMs: positive('FACTORY_SCHEMATIC_PARSE_TIMEOUT'),
      parseQueue: get<number>('FACTORY_SCHEMATIC_PARSE_QUEUE'),
    },
    build: {
      minTalosVersion: get<string>('FACTORY_MIN_TALOS_VERSION'),
      brokenTalosVersions: get<string[]>('FACTORY_BROKEN_TALOS_VERSIONS'),
      concurrency: positive('FACTORY_BUILD_CONCURRENCY'),
      timeoutMs: positive('FACTORY_BUILD_TIMEOUT'),
      lockTtlMs: positive('FACTORY_BUILD_LOCK_TTL'),
    },
    pxe: { initrdArg: get<Config['pxe']['initrdArg']>('FACTORY_PXE_INITRD_ARG') },
    catalog: { refreshIntervalMs: positive('FACTORY_VERSION_REFRESH_INTERVAL') },
    cache: { maxBytes: positive('FACTORY_CACHE_MAX_BYTES') },
    builder: { url: get<string>('FACTORY_BUILDER_URL') },
  }
}

/**
 * For entry points: the configuration, or a one-line `configuration error: KEY: reason` on
 * stderr and exit code 2.
 */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
}
