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
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
  { env: 'FACTORY_RUNTIME_DIR', path: 'runtimeDir', kind: 'string', default: '', doc: 'Node-local runtime files of `npm start` (builder socket, Caddy state, pid file); never share it between stacks. Default: $XDG_RUNTIME_DIR/talos-image-factory/<host>-<port>, else <tmp>/talos-image-factory-<uid>/<host>-<port>.' },
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
  { env: 'FACTORY_GRUB_DIR', path: 'build.grubDir', kind: 'string', default: '/usr/lib/grub', doc: 'GRUB module directories (`i386-pc`, `x86_64-efi`, `arm64-efi`) for disk images with GRUB. Point it at an unpacked `grub-efi-arm64-bin` to build arm64 GRUB images (SBC overlays) on an amd64 host.' },
  { env: 'FACTORY_BUILD_LOCK_TTL', path: 'build.lockTtl', kind: 'duration', default: '30s', doc: 'Redis build lock lifetime, renewed while a build runs; a crashed builder\'s lock frees itself after this.' },
  { env: 'FACTORY_PXE_INITRD_ARG', path: 'pxe.initrdArg', kind: 'enum', default: 'auto', choices: ['auto', 'always', 'never'], doc: 'Add `initrd=initramfs-<arch>.xz` to iPXE kernel lines: `auto` only for iPXE builds older than 1.21 (no UEFI LoadFile2 initrd support, e.g. Debian 12\'s QEMU ROM); `never` keeps the reference script byte for byte.' },
  { env: 'FACTORY_CACHE_MAX_BYTES', path: 'cache.maxBytes', kind: 'bytes', default: '20GiB', doc: 'Size bound of the asset store; least recently used assets are evicted beyond it.' },
  { env: 'FACTORY_INSTALLER_REGISTRY', path: 'installer.registry', kind: 'string', default: '', doc: 'Registry repository prefix (`host[:port][/namespace]`) where installer images published for `/v2/` pulls are pushed, e.g. `registry.internal:5000/siderolabs`. Empty = the factory\'s own store under FACTORY_DATA_DIR, served by the edge and Caddy.' },
  { env: 'FACTORY_INSTALLER_REGISTRY_INSECURE', path: 'installer.insecure', kind: 'bool', default: 'false', doc: 'Plain HTTP to FACTORY_INSTALLER_REGISTRY.' },
  { env: 'FACTORY_INSTALLER_REGISTRY_USERNAME', path: 'installer.username', kind: 'string', default: '', doc: 'User name for pushing to FACTORY_INSTALLER_REGISTRY (pulls through it must be anonymous).' },
  { env: 'FACTORY_INSTALLER_REGISTRY_PASSWORD', path: 'installer.password', kind: 'string', default: '', doc: 'Password or token for FACTORY_INSTALLER_REGISTRY.' },
  { env: 'FACTORY_INSTALLER_EXTERNAL_REGISTRY', path: 'installer.external', kind: 'string', default: '', doc: 'Where clients are redirected (307) for installer manifests and blobs: `host[:port][/namespace]` serving the same images as FACTORY_INSTALLER_REGISTRY (e.g. a CDN or pull-through name). Empty = the edge proxies to FACTORY_INSTALLER_REGISTRY.' },
  { env: 'FACTORY_INSTALLER_STORE_MAX_BYTES', path: 'installer.storeMaxBytes', kind: 'bytes', default: '20GiB', doc: 'Size bound of the factory\'s own installer image store (<FACTORY_DATA_DIR>/oci); beyond it the least recently pulled versions are dropped after a publish (a later pull publishes them again).' },
  { env: 'FACTORY_COSIGN_KEY', path: 'installer.cosignKey', kind: 'string', default: '', doc: 'PEM ECDSA P-256 private key that signs installer images (cosign-compatible). Empty = generated on first start into <FACTORY_DATA_DIR>/keys/cosign-signing-key.pem and shared by every node on that directory.' },
  { env: 'FACTORY_BUILDER_URL', path: 'builder.url', kind: 'string', default: '', doc: 'Builder daemon job API (http://127.0.0.1:port or unix:/path.sock). Empty = run the builder inside the edge process.' },
  { env: 'FACTORY_SECUREBOOT_ENABLED', path: 'secureBoot.enabled', kind: 'bool', default: 'false', doc: 'Build Secure Boot assets (`…-secureboot…` paths, signed UKIs, Secure Boot ISOs). Off: those paths answer 400 `secure boot is disabled`.' },
  { env: 'FACTORY_SECUREBOOT_SIGNING_KEY', path: 'secureBoot.signingKeyPath', kind: 'string', default: '', doc: 'PEM RSA private key (PKCS#1 or PKCS#8) that signs UKIs, systemd-boot and the enrolment databases. Set with the two settings below, or none of them to have a key set generated into `$FACTORY_DATA_DIR/keys/secureboot/` on first start.' },
  { env: 'FACTORY_SECUREBOOT_SIGNING_CERT', path: 'secureBoot.signingCertPath', kind: 'string', default: '', doc: 'PEM X.509 certificate of the signing key; served at `/secureboot/signing-cert.pem` and enrolled by Secure Boot ISOs.' },
  { env: 'FACTORY_SECUREBOOT_PCR_KEY', path: 'secureBoot.pcrKeyPath', kind: 'string', default: '', doc: 'PEM RSA private key that signs the UKIs\' PCR 11 policy (`.pcrsig`, TPM disk encryption).' },
  { env: 'FACTORY_SECUREBOOT_WELL_KNOWN_CERTS', path: 'secureBoot.wellKnownCertsDir', kind: 'string', default: '', doc: 'Directory of the well-known UEFI certificates (Microsoft\'s, as the reference) that schematics with `secureboot.includeWellKnownCertificates` enrol beside the factory\'s: `kek/*` and `db/*`, one DER or PEM certificate per file, in file-name order. `npm run secureboot:well-known -- <dir>` fills it from Debian\'s OVMF. Empty: such schematics\' Secure Boot ISOs and disk images answer 501.' },
] as const satisfies readonly SettingSpec[]

export interface Config {
  http: { addr: string; host: string; port: number; externalUrl: string; externalPxeUrl: string; allowedOrigins: string[]; maxBodyBytes: number }
  dataDir: string
  /** node-local runtime directory (never shared) */
  runtimeDir: string
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
  build: { minTalosVersion: string; brokenTalosVersions: string[]; concurrency: number; timeoutMs: number; lockTtlMs: number; grubDir: string }
  pxe: { initrdArg: 'auto' | 'always' | 'never' }
  catalog: { refreshIntervalMs: number }
  cache: { maxBytes: number }
  builder: { url: string }
  /** installer images for /v2/ pulls: empty registry = the factory's own store */
  installer: { registry: string; insecure: boolean; username: string; password: string; external: string; cosignKey: string; storeMaxBytes: number }
  /** key paths empty = generate into the data directory (src/secureboot/keys.ts) */
  secureBoot: { enabled: boolean; signingKeyPath: string; signingCertPath: string; pcrKeyPath: string; wellKnownCertsDir: string }
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

/**
 * Runtime files (sockets, Caddy state) must be node-local even when the data directory is shared
 * by several stacks: one directory per listen address, in the user's runtime dir or the temp dir.
 */
function defaultRuntimeDir(env: Record<string, string | undefined>, host: string, port: number): string {
  const leaf = `${host.replace(/[^A-Za-z0-9.-]/g, '_')}-${port}`
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'talos-image-factory', leaf)
  return join(tmpdir(), `talos-image-factory-${process.getuid?.() ?? 'user'}`, leaf)
}

/** Builds the configuration; throws ConfigError naming the offending key. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const file = env.FACTORY_CONFIG ? readConfigFile(env.FACTORY_CONFIG) : {}
  const known = new Set<string>(SETTINGS.map((s) => s.env))
  for (const name of Object.keys(env)) {
    // FACTORY_TEST_* belong to the test suite (e.g. FACTORY_TEST_LOGS), not to the factory
    if (name.startsWith('FACTORY_') && name !== 'FACTORY_CONFIG' && !name.startsWith('FACTORY_TEST_') && !known.has(name)) {
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
  const installerRegistry = get<string>('FACTORY_INSTALLER_REGISTRY').trim()
  const installerExternal = get<string>('FACTORY_INSTALLER_EXTERNAL_REGISTRY').trim()
  for (const [name, value] of [['FACTORY_INSTALLER_REGISTRY', installerRegistry], ['FACTORY_INSTALLER_EXTERNAL_REGISTRY', installerExternal]] as const) {
    if (value !== '' && !/^[A-Za-z0-9.-]+(:\d{1,5})?(\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\/?$/.test(value)) {
      throw new ConfigError(`${name}: expected host[:port][/namespace], got "${value}"`)
    }
  }
  if (installerExternal !== '' && installerRegistry === '') throw new ConfigError('FACTORY_INSTALLER_EXTERNAL_REGISTRY: needs FACTORY_INSTALLER_REGISTRY (the registry the factory pushes to)')
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
    runtimeDir: get<string>('FACTORY_RUNTIME_DIR') || defaultRuntimeDir(env, host, port),
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
      grubDir: get<string>('FACTORY_GRUB_DIR'),
    },
    pxe: { initrdArg: get<Config['pxe']['initrdArg']>('FACTORY_PXE_INITRD_ARG') },
    catalog: { refreshIntervalMs: positive('FACTORY_VERSION_REFRESH_INTERVAL') },
    cache: { maxBytes: positive('FACTORY_CACHE_MAX_BYTES') },
    builder: { url: get<string>('FACTORY_BUILDER_URL') },
    installer: {
      registry: get<string>('FACTORY_INSTALLER_REGISTRY').trim().replace(/\/+$/, ''),
      insecure: get<boolean>('FACTORY_INSTALLER_REGISTRY_INSECURE'),
      username: get<string>('FACTORY_INSTALLER_REGISTRY_USERNAME'),
      password: get<string>('FACTORY_INSTALLER_REGISTRY_PASSWORD'),
      external: get<string>('FACTORY_INSTALLER_EXTERNAL_REGISTRY').trim().replace(/\/+$/, ''),
      cosignKey: get<string>('FACTORY_COSIGN_KEY'),
      storeMaxBytes: positive('FACTORY_INSTALLER_STORE_MAX_BYTES'),
    },
    secureBoot: secureBootConfig(get),
  }
}

function secureBootConfig(get: <T>(name: (typeof SETTINGS)[number]['env']) => T): Config['secureBoot'] {
  const files = {
    signingKeyPath: get<string>('FACTORY_SECUREBOOT_SIGNING_KEY'),
    signingCertPath: get<string>('FACTORY_SECUREBOOT_SIGNING_CERT'),
    pcrKeyPath: get<string>('FACTORY_SECUREBOOT_PCR_KEY'),
  }
  const given = Object.values(files).filter((f) => f !== '').length
  // as the reference: the three file settings go together
  if (given !== 0 && given !== 3) {
    throw new ConfigError('FACTORY_SECUREBOOT_SIGNING_KEY, FACTORY_SECUREBOOT_SIGNING_CERT and FACTORY_SECUREBOOT_PCR_KEY must be set together (or none, to generate keys)')
  }
  return { enabled: get<boolean>('FACTORY_SECUREBOOT_ENABLED'), ...files, wellKnownCertsDir: get<string>('FACTORY_SECUREBOOT_WELL_KNOWN_CERTS') }
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
