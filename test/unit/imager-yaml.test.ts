import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { emitExtensionsYaml } from '../../builder/imager/extensions-yaml.ts'
import { parseManifest } from '../../builder/imager/manifest.ts'
import { modulesDepMetadata } from '../../builder/imager/modules.ts'
import {
  embeddedConfigMetadata,
  schematicExtensionManifest,
  writeEmbeddedConfigExtension,
  writeSchematicExtension,
} from '../../builder/imager/virtual-extensions.ts'

const DEFAULT_ID = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'

describe('extensions.yaml (go-yaml v4 encoder output)', () => {
  test('layers with block descriptions, quoted ranges, extraInfo and the modules.dep layer', () => {
    const yaml = emitExtensionsYaml([
      {
        image: '0.sqsh',
        metadata: {
          name: 'gvisor',
          version: '20220117.0-v1.0.0',
          author: 'Andrew Rynhard',
          description: "This system extension provides gVisor using containerd's runtime handler.\n",
          compatibility: { talos: { version: '>= v1.0.0' } },
        },
      },
      {
        image: '1.sqsh',
        metadata: {
          name: 'schematic',
          version: DEFAULT_ID,
          author: 'Image Factory (https://factory.talos.dev/)',
          description: 'Virtual extension which specifies the schematic of the image built with schematic.',
          compatibility: { talos: { version: '>= 1.0.0' } },
          extraInfo: 'customization: {}\n',
        },
      },
      { image: 'modules.dep.sqsh', metadata: modulesDepMetadata('6.12.40-talos') },
    ])
    // go-yaml aligns blocks nested in a sequence item to the next multiple of 4 (emitter
    // increase_indent): `metadata:` sits at column 6, its fields at column 8.
    expect(yaml).toBe(
      [
        'layers:',
        '    - image: 0.sqsh',
        '      metadata:',
        '        name: gvisor',
        '        version: 20220117.0-v1.0.0',
        '        author: Andrew Rynhard',
        '        description: |',
        "            This system extension provides gVisor using containerd's runtime handler.",
        '        compatibility:',
        '            talos:',
        "                version: '>= v1.0.0'",
        '    - image: 1.sqsh',
        '      metadata:',
        '        name: schematic',
        `        version: ${DEFAULT_ID}`,
        '        author: Image Factory (https://factory.talos.dev/)',
        '        description: Virtual extension which specifies the schematic of the image built with schematic.',
        '        compatibility:',
        '            talos:',
        "                version: '>= 1.0.0'",
        '        extraInfo: |',
        '            customization: {}',
        '    - image: modules.dep.sqsh',
        '      metadata:',
        '        name: modules.dep',
        '        version: 6.12.40-talos',
        '        author: Talos Machinery',
        '        description: Combined modules.dep for all extensions',
        '        compatibility:',
        '            talos:',
        '                version: ""',
        '',
      ].join('\n'),
    )
  })

  test('descriptions without a trailing newline use |-, numeric-looking versions are quoted', () => {
    const yaml = emitExtensionsYaml([
      { image: '0.sqsh', metadata: { name: 'x', version: '1.10', author: 'yes', description: 'two\nlines', compatibility: { talos: { version: '' } } } },
    ])
    expect(yaml).toContain('        version: "1.10"\n')
    expect(yaml).toContain("        author: 'yes'\n")
    expect(yaml).toContain('        description: |-\n            two\n            lines\n')
  })
})

describe('schematic virtual extension (factory-spec §5.7)', () => {
  test('manifest bytes match the verified emission for the default schematic', () => {
    const text = schematicExtensionManifest({ id: DEFAULT_ID, canonicalYaml: 'customization: {}\n', externalUrl: 'https://factory.talos.dev/', version: 'v1.11.0' })
    expect(text).toBe(
      [
        'version: v1alpha1',
        'metadata:',
        '    name: schematic',
        `    version: ${DEFAULT_ID}`,
        '    author: Image Factory (https://factory.talos.dev/)',
        '    description: Virtual extension which specifies the schematic of the image built with schematic.',
        '    compatibility:',
        '        talos:',
        "            version: '>= 1.0.0'",
        '    extraInfo: |',
        '        customization: {}',
        '',
      ].join('\n'),
    )
    // and it reads back as the same metadata
    expect(parseManifest(text).metadata.extraInfo).toBe('customization: {}\n')
  })

  test('extraInfo only from Talos 1.7.0 on (pre-releases count as their release)', () => {
    const opts = { id: DEFAULT_ID, canonicalYaml: 'customization: {}\n', externalUrl: 'http://127.0.0.1:8080' }
    expect(schematicExtensionManifest({ ...opts, version: 'v1.6.7' })).not.toContain('extraInfo')
    expect(schematicExtensionManifest({ ...opts, version: '1.7.0-alpha.1' })).toContain('extraInfo')
    expect(schematicExtensionManifest({ ...opts, version: 'v1.6.7' })).toContain('author: Image Factory (http://127.0.0.1:8080)\n')
  })

  test('multi-line canonical YAML becomes a literal block', () => {
    const canonical = 'customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/gvisor\n'
    const text = schematicExtensionManifest({ id: 'a'.repeat(64), canonicalYaml: canonical, externalUrl: 'https://f/', version: 'v1.11.0' })
    expect(text).toContain('    extraInfo: |\n        customization:\n            systemExtensions:\n                officialExtensions:\n                    - siderolabs/gvisor\n')
  })

  describe('on disk', () => {
    let dir: string
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'imager-virt-'))
    })
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true })
    })

    test('writeSchematicExtension lays out manifest.yaml and rootfs/usr/local/share/schematic/<id>', async () => {
      const target = join(dir, 'schematic')
      await writeSchematicExtension(target, { id: DEFAULT_ID, canonicalYaml: 'customization: {}\n', externalUrl: 'https://factory.talos.dev/', version: 'v1.11.0' })
      expect((await readdir(target)).sort()).toEqual(['manifest.yaml', 'rootfs'])
      const file = join(target, 'rootfs/usr/local/share/schematic', DEFAULT_ID)
      const st = await lstat(file)
      expect(st.isFile()).toBe(true)
      expect(st.size).toBe(0)
      expect(st.mode & 0o777).toBe(0o644)
      for (const d of ['rootfs', 'rootfs/usr', 'rootfs/usr/local', 'rootfs/usr/local/share', 'rootfs/usr/local/share/schematic']) {
        expect((await lstat(join(target, d))).mode & 0o777).toBe(0o755)
      }
      expect((await lstat(join(target, 'manifest.yaml'))).mode & 0o777).toBe(0o644)
      // writing again (the directory exists) is harmless
      await writeSchematicExtension(target, { id: DEFAULT_ID, canonicalYaml: 'customization: {}\n', externalUrl: 'https://factory.talos.dev/', version: 'v1.11.0' })
      expect(await readFile(join(target, 'manifest.yaml'), 'utf8')).toContain(`version: ${DEFAULT_ID}`)
    })

    test('embedded-config extension: sha256 version, 0400 config, SELinux label', async () => {
      const config = 'version: v1alpha1\nmachine:\n  type: worker\n'
      const target = join(dir, 'embedded')
      const labels = await writeEmbeddedConfigExtension(target, config)
      expect(labels.get('usr/local/etc/talos/config.yaml')).toBe('system_u:object_r:system_state_t:s0')
      const manifest = await readFile(join(target, 'manifest.yaml'), 'utf8')
      const sha = createHash('sha256').update(config).digest('hex')
      expect(manifest).toBe(
        [
          'version: v1alpha1',
          'metadata:',
          '    name: embedded-config',
          `    version: ${sha}`,
          '    author: Imager',
          '    description: Virtual extension which embeds the machine configuration.',
          '    compatibility:',
          '        talos:',
          "            version: '>= 1.0.0'",
          '',
        ].join('\n'),
      )
      expect(embeddedConfigMetadata(config).version).toBe(sha)
      const st = await lstat(join(target, 'rootfs/usr/local/etc/talos/config.yaml'))
      expect(st.mode & 0o777).toBe(0o400)
      expect(await readFile(join(target, 'rootfs/usr/local/etc/talos/config.yaml'), 'utf8')).toBe(config)
    })
  })
})
