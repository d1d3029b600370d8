import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidInputError } from '../../src/errors.ts'
import { parseSemverTolerant } from '../../src/talos/semver.ts'
import { checkCompatibility, layerOrder, loadExtensionDir, parseManifest, targetVersion, type ExtensionMetadata } from '../../builder/imager/manifest.ts'
import { parseRange, satisfiesConstraint, stripVBeforeDigit } from '../../builder/imager/semver-range.ts'

const GVISOR = `version: v1alpha1
metadata:
  name: gvisor
  version: 20220117.0-v1.0.0
  author: Andrew Rynhard
  description: |
    This system extension provides gVisor using containerd's runtime handler.
  compatibility:
    talos:
      version: ">= v1.0.0"
`

describe('layer order (string sort of the extraction directory names)', () => {
  test('fewer than 11 inputs keep profile order', () => {
    expect(layerOrder(5)).toEqual([0, 1, 2, 3, 4])
  })
  test('with 12 inputs: 0, 1, 10, 11, 2, …', () => {
    expect(layerOrder(12)).toEqual([0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9])
  })
  test('with 21 inputs: 0, 1, 10…19, 2, 20, 3, …', () => {
    expect(layerOrder(21)).toEqual([0, 1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 2, 20, 3, 4, 5, 6, 7, 8, 9])
  })
})

describe('manifest parsing', () => {
  test('decodes the metadata as written (block scalars keep their newline)', () => {
    const m = parseManifest(GVISOR)
    expect(m.version).toBe('v1alpha1')
    expect(m.metadata).toEqual({
      name: 'gvisor',
      version: '20220117.0-v1.0.0',
      author: 'Andrew Rynhard',
      description: "This system extension provides gVisor using containerd's runtime handler.\n",
      compatibility: { talos: { version: '>= v1.0.0' } },
    })
  })

  test('scalars are taken as text like go-yaml string fields (no float coercion), nulls are empty', () => {
    const m = parseManifest('version: v1alpha1\nmetadata:\n  name: x\n  version: 1.10\n  author: ~\n  extraInfo: hello\n  unknownField: [1, 2]\n')
    expect(m.metadata.version).toBe('1.10')
    expect(m.metadata.author).toBe('')
    expect(m.metadata.description).toBe('')
    expect(m.metadata.compatibility.talos.version).toBe('')
    expect(m.metadata.extraInfo).toBe('hello')
  })

  test('rejects other manifest versions, wrong types and broken YAML', () => {
    expect(() => parseManifest('version: v1\nmetadata: {name: x}\n')).toThrow('unsupported manifest version: "v1"')
    expect(() => parseManifest('version: v1alpha1\nmetadata:\n  name: [a]\n')).toThrow(/cannot unmarshal !!seq into string/)
    expect(() => parseManifest('version: v1alpha1\nmetadata: {name: x\n')).toThrow(InvalidInputError)
    expect(() => parseManifest('')).toThrow('extension manifest is missing')
  })
})

describe('extension directory layout', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imager-manifest-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function ext(name: string, files: Record<string, string>, dirs: string[] = ['rootfs']): Promise<string> {
    const root = join(dir, name)
    await mkdir(root, { recursive: true })
    for (const d of dirs) await mkdir(join(root, d), { recursive: true })
    for (const [p, data] of Object.entries(files)) await writeFile(join(root, p), data)
    return root
  }

  test('accepts manifest.yaml + rootfs/', async () => {
    const root = await ext('good', { 'manifest.yaml': GVISOR })
    expect((await loadExtensionDir(root, '0')).metadata.name).toBe('gvisor')
  })
  test('any other top-level entry is an "unexpected file"', async () => {
    const root = await ext('extra', { 'manifest.yaml': GVISOR, 'README.md': 'x' })
    await expect(loadExtensionDir(root, '3')).rejects.toThrow('error loading extension 3: unexpected file "README.md"')
  })
  test('manifest and rootfs are both required', async () => {
    await expect(loadExtensionDir(await ext('norootfs', { 'manifest.yaml': GVISOR }, []), '1')).rejects.toThrow('extension rootfs is missing')
    await expect(loadExtensionDir(await ext('nomanifest', {}), '2')).rejects.toThrow('extension manifest is missing')
  })
  test('a bad manifest names the extension', async () => {
    const root = await ext('badversion', { 'manifest.yaml': 'version: v2\nmetadata: {name: x}\n' })
    await expect(loadExtensionDir(root, '7')).rejects.toThrow('error loading extension 7: unsupported manifest version: "v2"')
  })
})

describe('compatibility ranges (blang/semver ParseRange + Talos v-stripping)', () => {
  const v = (s: string) => parseSemverTolerant(s)
  const ok = (range: string, version: string) => satisfiesConstraint(range, v(version))

  test('strips a v only directly before a digit', () => {
    expect(stripVBeforeDigit('>= v1.0.0 <v2.0.0 || =v3.1.0-dev')).toBe('>= 1.0.0 <2.0.0 || =3.1.0-dev')
    expect(stripVBeforeDigit('>= 1.0.0-rev.1')).toBe('>= 1.0.0-rev.1')
  })
  test('operators, AND by space, OR by ||, space after an operator', () => {
    expect(ok('>= v1.0.0', '1.11.0')).toBe(true)
    expect(ok('>=1.12.0', '1.11.0')).toBe(false)
    expect(ok('> 1.11.0', '1.11.0')).toBe(false)
    expect(ok('< 1.11.0', '1.10.9')).toBe(true)
    expect(ok('<=1.11.0', '1.11.0')).toBe(true)
    expect(ok('=1.11.0', '1.11.0')).toBe(true)
    expect(ok('1.11.0', '1.11.0')).toBe(true)
    expect(ok('!=1.11.0', '1.11.0')).toBe(false)
    expect(ok('>= 1.8.0 < 1.10.0', '1.9.5')).toBe(true)
    expect(ok('>= 1.8.0 < 1.10.0', '1.10.0')).toBe(false)
    expect(ok('< 1.2.0 || >= 1.11.0', '1.11.2')).toBe(true)
    expect(ok('< 1.2.0 || >= 1.12.0', '1.11.2')).toBe(false)
    expect(ok('', '1.11.0')).toBe(true)
  })
  test('pre-release bounds compare with full precedence', () => {
    expect(ok('>= v1.8.0-alpha.0', '1.8.0')).toBe(true)
    expect(ok('< v1.8.0-alpha.0', '1.7.9')).toBe(true)
    expect(ok('< v1.8.0-alpha.0', '1.8.0')).toBe(false)
  })
  test('x wildcards expand like blang (including its 1.x.x quirk)', () => {
    expect(ok('1.2.x', '1.2.9')).toBe(true)
    expect(ok('1.2.x', '1.3.0')).toBe(false)
    expect(ok('>1.x', '2.0.0')).toBe(true)
    expect(ok('>1.x', '1.9.0')).toBe(false)
    expect(ok('<=1.2.x', '1.2.99')).toBe(true)
    expect(ok('!=1.2.x', '1.2.5')).toBe(false)
    // blang ANDs the two halves of a negated wildcard (<1.2.0 >=1.3.0), so it never matches
    expect(ok('!=1.2.x', '1.4.0')).toBe(false)
    // blang treats 1.x.x as a patch wildcard: >=1.0.0 <1.1.0
    expect(ok('1.x.x', '1.0.5')).toBe(true)
    expect(ok('1.x.x', '1.5.0')).toBe(false)
  })
  test('malformed ranges fail with blang messages', () => {
    expect(() => parseRange('~1.0.0')).toThrow('Could not parse Range "~1.0.0": Could not parse comparator "~" in "~1.0.0"')
    expect(() => parseRange('>=1.0')).toThrow('Could not parse Range ">=1.0": Could not parse version "1.0" in ">=1.0": No Major.Minor.Patch elements found')
    expect(() => parseRange('|| 1.0.0')).toThrow("First element in range is '||'")
    expect(() => parseRange('1.0.0 ||')).toThrow("Last element in range is '||'")
    expect(() => parseRange('>=abc')).toThrow('Could not get version from string: ">=abc"')
    expect(() => parseRange('>=v1.0.0')).toThrow(/Could not parse comparator ">=v"/)
  })
})

describe('compatibility check against the target version', () => {
  const md = (constraint: string): ExtensionMetadata => ({ name: 'nvidia', version: '1', author: '', description: '', compatibility: { talos: { version: constraint } } })

  test('the target pre-release is dropped (1.12.0-beta.1 satisfies >= 1.12.0)', () => {
    expect(() => checkCompatibility(md('>= v1.12.0'), targetVersion('v1.12.0-beta.1'))).not.toThrow()
  })
  test('an incompatible extension is a one-line error naming it', () => {
    let msg = ''
    try {
      checkCompatibility(md('>= v1.13.0'), targetVersion('v1.11.2'))
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError)
      msg = (err as Error).message
    }
    expect(msg).toBe(`error validating extension "nvidia": version constraint >= v1.13.0 can't be satisfied with Talos version 1.11.2`)
    expect(msg).not.toContain('\n')
  })
  test('a malformed constraint is reported as such', () => {
    expect(() => checkCompatibility(md('>= banana'), targetVersion('v1.11.0'))).toThrow(
      'error validating extension "nvidia": error parsing Talos version constraint: Could not get version from string: ">=banana"',
    )
  })
  test('unparsable target versions are invalid input', () => {
    expect(() => targetVersion('latest')).toThrow('invalid Talos version "latest"')
  })
})
