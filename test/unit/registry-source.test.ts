/**
 * RegistryImageSource on a data directory shared by several nodes: when another node extracts the
 * same image between our look and our extraction, ours fails ("already exists") and we use theirs
 * (seen in CI: two builder daemons refreshing the catalogue at once, one answered 400).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryImageSource } from '../../src/catalog/registry-source.ts'
import { InvalidInputError } from '../../src/errors.ts'
import type { RegistryClient } from '../../src/oci/client.ts'
import type { extractImage } from '../../src/oci/extract-image.ts'

const DIGEST = `sha256:${'ab'.repeat(32)}`
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-source-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** only what `extract` asks of the registry before extracting */
const client = { headManifest: async () => ({ digest: DIGEST }) } as unknown as RegistryClient

describe('RegistryImageSource.extract', () => {
  test('another node finished the same extraction meanwhile: its tree is used', async () => {
    const racing: typeof extractImage = async (_c, _repo, _ref, _arch, dest) => {
      await mkdir(dest, { recursive: true }) // the other node's rename landed first
      throw new InvalidInputError(`extraction target ${dest} already exists`)
    }
    const source = new RegistryImageSource(client, join(dir, 'a'), 'amd64', racing)
    const got = await source.extract('siderolabs/gvisor', 'v1')
    expect(got).toBe(join(dir, 'a', 'siderolabs_gvisor', `sha256-${'ab'.repeat(32)}.layout2`))
  })

  test('a failure with nothing extracted is still a failure', async () => {
    const failing: typeof extractImage = async () => {
      throw new Error('registry went away')
    }
    const source = new RegistryImageSource(client, join(dir, 'b'), 'amd64', failing)
    await expect(source.extract('siderolabs/gvisor', 'v1')).rejects.toThrow('registry went away')
  })
})
