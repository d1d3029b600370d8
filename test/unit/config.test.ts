import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, parseBytes, parseDuration, SETTINGS } from '../../src/config.ts'
import { ConfigError } from '../../src/errors.ts'

describe('config', () => {
  test('embedded defaults need no settings', () => {
    const c = loadConfig({})
    expect(c.http.addr).toBe('127.0.0.1:8080')
    expect(c.http.externalUrl).toBe('http://127.0.0.1:8080/')
    expect(c.http.externalPxeUrl).toBe('http://127.0.0.1:8080/')
    expect(c.upstream.registry).toBe('ghcr.io')
    expect(c.upstream.insecure).toBe(false)
    expect(c.redisUrl).toBe('')
    expect(c.schematics.store).toBe('fs')
    expect(c.schematics.negativeTtlMs).toBe(30_000)
    expect(c.http.allowedOrigins).toEqual(['*'])
  })

  test('environment overrides defaults', () => {
    const c = loadConfig({
      FACTORY_HTTP_ADDR: '0.0.0.0:9000',
      FACTORY_EXTERNAL_URL: 'https://factory.example.com',
      FACTORY_UPSTREAM_REGISTRY: '127.0.0.1:5000',
      FACTORY_UPSTREAM_INSECURE: 'true',
      FACTORY_UPSTREAM_NAMESPACE: '/proxy/',
      FACTORY_BROKEN_TALOS_VERSIONS: '1.9.1, 1.10.2',
      FACTORY_MAX_BODY_BYTES: '64KiB',
    })
    expect(c.http.host).toBe('0.0.0.0')
    expect(c.http.port).toBe(9000)
    expect(c.http.externalUrl).toBe('https://factory.example.com/')
    expect(c.upstream.registry).toBe('127.0.0.1:5000')
    expect(c.upstream.insecure).toBe(true)
    expect(c.upstream.namespace).toBe('proxy')
    expect(c.build.brokenTalosVersions).toEqual(['1.9.1', '1.10.2'])
    expect(c.http.maxBodyBytes).toBe(65536)
  })

  test('YAML file is read and environment wins over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
    const file = join(dir, 'factory.yaml')
    writeFileSync(file, 'http:\n  addr: 127.0.0.1:7000\nupstream:\n  registry: mirror.local:5000\n  insecure: true\nbuild:\n  brokenTalosVersions: [1.2.3]\n')
    const c = loadConfig({ FACTORY_CONFIG: file, FACTORY_UPSTREAM_REGISTRY: 'env.local' })
    expect(c.http.port).toBe(7000)
    expect(c.upstream.registry).toBe('env.local')
    expect(c.upstream.insecure).toBe(true)
    expect(c.build.brokenTalosVersions).toEqual(['1.2.3'])
  })

  test.each([
    ['FACTORY_HTTP_ADDR', 'not-an-address'],
    ['FACTORY_HTTP_ADDR', '127.0.0.1:99999'],
    ['FACTORY_EXTERNAL_URL', 'ftp://x'],
    ['FACTORY_EXTERNAL_URL', 'nothing'],
    ['FACTORY_UPSTREAM_INSECURE', 'maybe'],
    ['FACTORY_MAX_BODY_BYTES', 'lots'],
    ['FACTORY_SCHEMATIC_NEGATIVE_TTL', '5 minutes'],
    ['FACTORY_SCHEMATIC_STORE', 's3'],
    ['FACTORY_BUILD_CONCURRENCY', '0'],
    ['FACTORY_LOG_LEVEL', 'verbose'],
  ])('bad %s=%s stops start-up naming the key', (key, value) => {
    let err: unknown
    try {
      loadConfig({ [key]: value })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message.startsWith(key)).toBe(true)
  })

  test('a misspelt FACTORY_ variable is refused rather than silently ignored', () => {
    expect(() => loadConfig({ FACTORY_UPSTREAM_REGISTERY: 'x' })).toThrow('FACTORY_UPSTREAM_REGISTERY: unknown setting')
  })

  test('a broken config file names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'http: [\n')
    expect(() => loadConfig({ FACTORY_CONFIG: file })).toThrow(/^FACTORY_CONFIG: .*bad\.yaml is not valid YAML/)
    expect(() => loadConfig({ FACTORY_CONFIG: join(dir, 'missing.yaml') })).toThrow(/cannot read/)
  })

  test.each([
    ['1048576', 1048576],
    ['1MiB', 1048576],
    ['512KiB', 524288],
    ['2GB', 2e9],
  ])('parseBytes(%s)', (raw, want) => expect(parseBytes(raw)).toBe(want))

  test.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1500', 1500],
  ])('parseDuration(%s)', (raw, want) => expect(parseDuration(raw)).toBe(want))

  test('README documents every setting', () => {
    const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8')
    for (const s of SETTINGS) expect(readme).toContain(`\`${s.env}\``)
  })
})

describe('test-suite variables', () => {
  test('FACTORY_TEST_* variables are left to the test suite, other unknown FACTORY_* still stop start-up', () => {
    expect(() => loadConfig({ FACTORY_TEST_LOGS: '1', FACTORY_TEST_PARALLEL_BOOTS: '4' })).not.toThrow()
    expect(() => loadConfig({ FACTORY_TESTLOGS: '1' })).toThrow('FACTORY_TESTLOGS: unknown setting')
  })
})

describe('installer registry settings', () => {
  test('defaults: the factory\'s own store, a generated cosign key', () => {
    expect(loadConfig({}).installer).toEqual({ registry: '', insecure: false, username: '', password: '', external: '', cosignKey: '', storeMaxBytes: 20 * 1024 ** 3 })
  })

  test('host[:port][/namespace] forms are accepted, trailing slashes dropped', () => {
    const c = loadConfig({ FACTORY_INSTALLER_REGISTRY: '127.0.0.1:5100/siderolabs/', FACTORY_INSTALLER_EXTERNAL_REGISTRY: 'registry.example.com/a/b' })
    expect(c.installer.registry).toBe('127.0.0.1:5100/siderolabs')
    expect(c.installer.external).toBe('registry.example.com/a/b')
  })

  test.each([
    [{ FACTORY_INSTALLER_REGISTRY: 'https://registry.example.com' }, 'FACTORY_INSTALLER_REGISTRY: expected host[:port][/namespace]'],
    [{ FACTORY_INSTALLER_REGISTRY: 'reg.example.com/Upper' }, 'FACTORY_INSTALLER_REGISTRY: expected host[:port][/namespace]'],
    [{ FACTORY_INSTALLER_EXTERNAL_REGISTRY: 'cdn.example.com' }, 'FACTORY_INSTALLER_EXTERNAL_REGISTRY: needs FACTORY_INSTALLER_REGISTRY'],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message)
  })
})
