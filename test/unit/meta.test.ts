import { describe, expect, test } from 'bun:test'
import { gunzipSync } from 'node:zlib'
import { InvalidInputError } from '../../src/errors.ts'
import {
  decodeMetaValues,
  encodeMetaValues,
  formatMetaValue,
  metaEnvironmentValue,
  parseMetaKey,
  parseMetaValue,
} from '../../src/talos/meta.ts'

describe('META encoding for talos.environment', () => {
  test('factory-spec §6.8 vector (metaSchematic)', () => {
    const values = [{ key: 0xa, value: '{"externalIPs":["1.2.3.4"]}' }]
    expect(encodeMetaValues(values, { allowGzip: true })).toBe('MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==')
    expect(metaEnvironmentValue(values, { allowGzip: true })).toBe('INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==')
    expect(Buffer.from('MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==', 'base64').toString()).toBe('0xa={"externalIPs":["1.2.3.4"]}')
  })

  test.each([
    [{ key: 0, value: '' }, '0x0='],
    [{ key: 10, value: 'foo' }, '0xa=foo'],
    [{ key: 0x11, value: 'dual-boot' }, '0x11=dual-boot'],
    [{ key: 255, value: 'a=b;c' }, '0xff=a=b;c'],
  ])('formatMetaValue(%p) = %s', (v, text) => {
    expect(formatMetaValue(v)).toBe(text)
  })

  test('several values are joined with ;', () => {
    const enc = encodeMetaValues([{ key: 10, value: 'a' }, { key: 12, value: 'b' }], { allowGzip: true })
    expect(Buffer.from(enc, 'base64').toString()).toBe('0xa=a;0xc=b')
  })

  test('exactly 256 raw bytes are not compressed', () => {
    const v = [{ key: 10, value: 'x'.repeat(256 - '0xa='.length) }]
    const enc = encodeMetaValues(v, { allowGzip: true })
    expect(Buffer.from(enc, 'base64').length).toBe(256)
    expect(Buffer.from(enc, 'base64').toString().startsWith('0xa=')).toBe(true)
  })

  test('more than 256 bytes are gzip-ed Go-style when allowed', () => {
    const v = [{ key: 10, value: 'y'.repeat(300) }]
    const enc = encodeMetaValues(v, { allowGzip: true })
    const bytes = Buffer.from(enc, 'base64')
    // magic, deflate, no flags, mtime 0, XFL 2 (best compression), OS 255 (unknown)
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff])
    expect(enc.startsWith('H4sIAAAAAAAC/')).toBe(true)
    expect(gunzipSync(bytes).toString()).toBe('0xa=' + 'y'.repeat(300))
    expect(decodeMetaValues(enc)).toEqual(v)
  })

  test('no gzip for targets before 1.6.3', () => {
    const v = [{ key: 10, value: 'y'.repeat(300) }]
    const enc = encodeMetaValues(v, { allowGzip: false })
    expect(Buffer.from(enc, 'base64').toString()).toBe('0xa=' + 'y'.repeat(300))
  })

  test('decode round-trips plain payloads', () => {
    expect(decodeMetaValues('MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==')).toEqual([{ key: 10, value: '{"externalIPs":["1.2.3.4"]}' }])
    expect(decodeMetaValues('')).toEqual([])
  })
})

describe('META key parsing (strconv.ParseUint base 0, 8 bits)', () => {
  test.each([
    ['10', 10],
    ['0xa', 10],
    ['0x0A', 10],
    ['0o12', 10],
    ['012', 10],
    ['0b1010', 10],
    ['0x_a', 10],
    ['0', 0],
    ['255', 255],
  ])('%p → %d', (text, key) => {
    expect(parseMetaKey(text)).toBe(key)
  })

  test.each(['256', '-1', '', 'x', '1_0', '09', '0x', '0x__a', '0xa_'])('rejects %p', (text) => {
    expect(() => parseMetaKey(text)).toThrow(InvalidInputError)
    expect(() => parseMetaKey(text)).toThrow(`invalid key ${JSON.stringify(text)}`)
  })

  test('parseMetaValue splits at the first =', () => {
    expect(parseMetaValue('0xa=a=b')).toEqual({ key: 10, value: 'a=b' })
    expect(() => parseMetaValue('10')).toThrow('invalid value "10"')
  })
})
