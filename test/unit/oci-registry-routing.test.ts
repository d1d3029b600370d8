/**
 * `/v2/*` routing and image names: the reference's vectors (factory-spec §8.1, §8.2), plus our
 * one documented addition (tag listing of installer repositories).
 */
import { describe, expect, test } from 'bun:test'
import { installerAssetPath, parseInstallerImage, routeV2 } from '../../edge/registry/routing.ts'
import { registryBase, registryScheme } from '../../edge/registry/service.ts'

const ID = 'cf9b7aab9ed7c365d5384509b4d31c02fdaa06d2b3ac6cc0bc806f28130eff1f'

describe('routeV2 (§8.1 vectors)', () => {
  test.each([
    ['', { kind: 'ping' }],
    ['/', { kind: 'ping' }],
    [`/metal-installer/${ID}/manifests/v1.7.0`, { kind: 'schematic', resource: 'manifests', image: 'metal-installer', schematic: ID, reference: 'v1.7.0' }],
    ['/installer/abc123/blobs/sha256:deadbeef', { kind: 'schematic', resource: 'blobs', image: 'installer', schematic: 'abc123', reference: 'sha256:deadbeef' }],
    ['/installer/abc123/referrers/sha256:deadbeef', { kind: 'schematic', resource: 'referrers', image: 'installer', schematic: 'abc123', reference: 'sha256:deadbeef' }],
    ['/siderolabs/talosctl/manifests/v1', { kind: 'proxy', resource: 'manifests', image: 'talosctl', reference: 'v1' }],
    ['/siderolabs/talosctl/v.13.5/manifests/latest', { kind: 'proxy', resource: 'manifests', image: 'talosctl/v.13.5', reference: 'latest' }],
    ['/siderolabs/talosctl/blobs/sha256:deadbeef', { kind: 'proxy', resource: 'blobs', image: 'talosctl', reference: 'sha256:deadbeef' }],
    ['/siderolabs/talosctl/tags/list', { kind: 'proxy', resource: 'tags', image: 'talosctl', reference: 'list' }],
    ['/siderolabs/installer/referrers/sha256:deadbeef', { kind: 'proxy', resource: 'referrers', image: 'installer', reference: 'sha256:deadbeef' }],
  ] as const)('%s', (path, want) => {
    expect(routeV2(path)).toEqual(want as never)
  })

  test.each(['/foo', '/foo/bar', '/foo/manifests/v1', '/a/b/c/manifests/v1', '/image/schematic/tags/v1', '/siderolabs/manifests/v1', '/siderolabs/talosctl/tags/v1', '/siderolabs/talosctl/tags/foo'])(
    '%s → 404 unknown registry path',
    (path) => {
      expect(routeV2(path)).toEqual({ kind: 'unknown', reason: `unknown registry path: ${JSON.stringify(path)}` })
    },
  )

  test('deviation: <image>/<schematic>/tags/list lists the published tags (the reference answers 404)', () => {
    expect(routeV2('/image/schematic/tags/list')).toEqual({ kind: 'tags', image: 'image', schematic: 'schematic' })
    expect(routeV2('/a/b/c/tags/list')).toEqual({ kind: 'unknown', reason: 'unknown registry path: "/a/b/c/tags/list"' })
  })
})

describe('installer image names (§8.2)', () => {
  test.each([
    ['installer', { platform: 'metal', secureboot: false, legacy: true }],
    ['installer-secureboot', { platform: 'metal', secureboot: true, legacy: true }],
    ['metal-installer', { platform: 'metal', secureboot: false, legacy: false }],
    ['aws-installer-secureboot', { platform: 'aws', secureboot: true, legacy: false }],
    ['digital-ocean-installer', { platform: 'digital-ocean', secureboot: false, legacy: false }],
    // platforms are not validated here (an unknown one fails when its profile is built)
    ['foo-installer', { platform: 'foo', secureboot: false, legacy: false }],
  ] as const)('%s', (name, want) => {
    expect(parseInstallerImage(name)).toEqual({ name, ...want })
  })

  test.each(['imager', 'installer-base', 'installerx', '-installer', 'Metal-installer', 'metal_installer', '../installer', 'a/installer', ''])('%s is not an installer image', (name) => {
    expect(parseInstallerImage(name)).toBeNull()
  })

  test('asset paths of the two architectures (factory-spec §6.2 rules 6 and 7)', () => {
    const p = (name: string, arch: 'amd64' | 'arm64') => installerAssetPath(parseInstallerImage(name)!, arch)
    expect(p('installer', 'amd64')).toBe('installer-amd64.tar')
    expect(p('installer-secureboot', 'arm64')).toBe('installer-arm64-secureboot.tar')
    expect(p('metal-installer', 'arm64')).toBe('metal-installer-arm64.tar')
    expect(p('digital-ocean-installer-secureboot', 'amd64')).toBe('digital-ocean-installer-amd64-secureboot.tar')
  })
})

describe('redirect/proxy URL scheme (§8.3, go-containerregistry rules)', () => {
  test.each([
    ['ghcr.io', 'https'],
    ['registry.example.com:5000', 'https'],
    ['127.0.0.1:5100', 'http'],
    ['localhost:5000', 'http'],
    ['localhost', 'http'],
    ['registry.local', 'http'],
    ['registry.localhost:8080', 'http'],
    ['10.1.2.3:5000', 'http'],
    ['172.16.0.1', 'http'],
    ['172.32.0.1', 'https'],
    ['192.168.1.10:443', 'http'],
    ['[::1]:5000', 'http'],
  ] as const)('%s → %s', (host, scheme) => {
    expect(registryScheme(host)).toBe(scheme)
  })

  test('base URLs keep the namespace; insecure forces http', () => {
    expect(registryBase('127.0.0.1:5100/siderolabs')).toBe('http://127.0.0.1:5100/v2/siderolabs')
    expect(registryBase('registry.example.com/a/b')).toBe('https://registry.example.com/v2/a/b')
    expect(registryBase('registry.example.com', true)).toBe('http://registry.example.com/v2')
  })
})
