import { describe, expect, test } from 'bun:test'
import { contentDisposition, contentTypeFor, downloadFilename, fileExtension } from '../../src/asset/mime.ts'

describe('Content-Type (factory-spec §6.7)', () => {
  test.each([
    // internal/mime/mime_test.go
    ['file.efi', 'application/efi'],
    ['file.unknown', 'application/octet-stream'],
    ['file.txt', 'text/plain; charset=utf-8'],
    ['file.iso', 'application/x-iso9660-image'],
    ['file.tar.gz', 'application/gzip'],
    ['file.qcow2', 'application/x-qemu-disk'],
    ['file.xz', 'application/x-xz'],
    // asset paths
    ['kernel-amd64', 'application/octet-stream'],
    ['cmdline-metal-amd64', 'application/octet-stream'],
    ['initramfs-amd64.xz', 'application/x-xz'],
    ['metal-amd64-secureboot-uki.efi', 'application/efi'],
    ['installer-amd64.tar', 'application/x-tar'],
    ['metal-amd64.raw.zst', 'application/zstd'],
    ['digital-ocean-amd64.raw.gz', 'application/gzip'],
    ['gcp-amd64.raw.tar.gz', 'application/gzip'],
    ['metal-amd64.raw', 'application/octet-stream'],
    ['azure-amd64.vhd', 'application/octet-stream'],
    ['vmware-amd64.ova', 'application/octet-stream'],
    ['metal-amd64.iso.sha256', 'text/plain; charset=utf-8'],
    ['FILE.ISO', 'application/octet-stream'],
    ['FILE.TAR', 'application/x-tar'],
  ])('%s → %s', (path, type) => {
    expect(contentTypeFor(path)).toBe(type)
  })

  test('extension is taken from the last path element only', () => {
    expect(fileExtension('a.b/c')).toBe('')
    expect(fileExtension('a/b.c.d')).toBe('.d')
  })
})

describe('Content-Disposition', () => {
  test('reference form for ordinary names', () => {
    expect(contentDisposition('metal-amd64.iso')).toBe('attachment; filename="metal-amd64.iso"')
  })
  test('quotes and backslashes are escaped, control characters dropped', () => {
    expect(contentDisposition('a"b\\c\r\n.iso')).toBe('attachment; filename="a\\"b\\\\c.iso"')
  })
  test('non-ASCII names get an RFC 5987 filename*', () => {
    expect(contentDisposition('talos-é.iso')).toBe(`attachment; filename="talos-_.iso"; filename*=UTF-8''talos-%C3%A9.iso`)
  })
  test('?filename= overrides the path when non-empty', () => {
    expect(downloadFilename('metal-amd64.iso', 'my.iso')).toBe('my.iso')
    expect(downloadFilename('metal-amd64.iso', '')).toBe('metal-amd64.iso')
    expect(downloadFilename('metal-amd64.iso', null)).toBe('metal-amd64.iso')
  })
})
