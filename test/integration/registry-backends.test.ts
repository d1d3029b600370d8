/**
 * Installer images published into a configured registry (FACTORY_INSTALLER_REGISTRY, a real
 * CNCF distribution registry here) instead of the factory's own store — factory-spec §8.3:
 * without FACTORY_INSTALLER_EXTERNAL_REGISTRY pulls are proxied to it, with it clients get 307
 * redirects. skopeo follows both. Also: a configured cosign key is used (and served), and the
 * source proxy answers 503 for a TLS upstream.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type RunningEdge } from '../helpers/edge.ts'
import { startRegistry, type TestRegistry } from '../helpers/registry.ts'
import { sharedUpstream, type Upstream } from '../helpers/release.ts'
import { RegistryClient } from '../../src/oci/client.ts'

const VERSION = 'v1.9.5'
let up: Upstream
let internal: TestRegistry
let work: string
let keyPem: string

beforeAll(async () => {
  up = await sharedUpstream()
  internal = await startRegistry()
  work = await mkdtemp(join(tmpdir(), 'registry-backends-'))
  // an operator's key in SEC1 form, as `openssl ecparam -genkey -noout` writes it
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  await writeFile(join(work, 'cosign.key'), privateKey.export({ type: 'sec1', format: 'pem' }))
  keyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
}, 180_000)
afterAll(async () => {
  await internal?.stop()
  await up?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

async function withEdge(env: Record<string, string>, fn: (edge: RunningEdge) => Promise<void>): Promise<void> {
  const edge = await startEdge({ ...up.env, ...env })
  try {
    await fn(edge)
  } finally {
    await edge.stop()
  }
}

async function schematic(edge: RunningEdge, arg: string): Promise<string> {
  const res = await fetch(`${edge.url}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { extraKernelArgs: [arg] } }) })
  return ((await res.json()) as { id: string }).id
}

/** Async: skopeo talks to the edge running in this process (spawnSync would block it). */
async function skopeo(args: string[]): Promise<{ code: number; err: string; out: string }> {
  const p = Bun.spawn(['skopeo', ...args], { stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => p.kill('SIGKILL'), 180_000)
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  clearTimeout(timer)
  return { code: await p.exited, err, out }
}

describe('FACTORY_INSTALLER_REGISTRY', () => {
  test('proxy mode: pushed to the registry (signed, tagged), pulls proxied through the factory', async () => {
    await withEdge({ FACTORY_INSTALLER_REGISTRY: `${internal.host}/siderolabs`, FACTORY_COSIGN_KEY: join(work, 'cosign.key') }, async (edge) => {
      expect(await (await fetch(`${edge.url}/oci/cosign/signing-key.pub`)).text()).toBe(keyPem)
      const id = await schematic(edge, 'proxy-mode')
      const host = new URL(edge.url).host
      const copied = await skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/installer/${id}:${VERSION}`, `oci:${join(work, 'proxied')}:t`])
      expect(copied.err).toBe('')
      expect(copied.code).toBe(0)
      // what the factory pushed: the index under the version tag and its signature tag
      const client = new RegistryClient({ registry: internal.host, insecure: true })
      const tags = await client.listTags(`siderolabs/installer/${id}`)
      const index = await client.headManifest(`siderolabs/installer/${id}`, VERSION)
      expect(index?.mediaType).toBe('application/vnd.oci.image.index.v1+json')
      expect(tags.sort()).toEqual([`${index!.digest.replace(':', '-')}.sig`, VERSION].sort())
      // through the factory: the same digest, proxied (no redirect)
      const res = await fetch(`${edge.url}/v2/installer/${id}/manifests/${VERSION}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json' }, redirect: 'manual' })
      expect(res.status).toBe(200)
      expect(res.headers.get('docker-content-digest')).toBe(index!.digest)
      expect(Number(res.headers.get('content-length'))).toBe(index!.size)
      expect(edge.ctx.registry.publisher.counters.published).toBe(1)
    })
  }, 240_000)

  test('redirect mode: 307 to the external registry for manifests and blobs', async () => {
    await withEdge(
      { FACTORY_INSTALLER_REGISTRY: `${internal.host}/siderolabs`, FACTORY_INSTALLER_EXTERNAL_REGISTRY: `${internal.host}/siderolabs`, FACTORY_COSIGN_KEY: join(work, 'cosign.key') },
      async (edge) => {
        const id = await schematic(edge, 'redirect-mode')
        const res = await fetch(`${edge.url}/v2/metal-installer/${id}/manifests/${VERSION}`, { redirect: 'manual' })
        expect(res.status).toBe(307)
        const location = res.headers.get('location') as string
        expect(location).toMatch(new RegExp(`^http://${internal.host}/v2/siderolabs/metal-installer/${id}/manifests/sha256:[0-9a-f]{64}$`))
        const blob = await fetch(`${edge.url}/v2/metal-installer/${id}/blobs/sha256:${'a'.repeat(64)}`, { redirect: 'manual' })
        expect(blob.status).toBe(307)
        expect(blob.headers.get('location')).toBe(`http://${internal.host}/v2/siderolabs/metal-installer/${id}/blobs/sha256:${'a'.repeat(64)}`)
        const copied = await skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${new URL(edge.url).host}/metal-installer/${id}:${VERSION}`, `oci:${join(work, 'redirected')}:t`])
        expect(copied.err).toBe('')
        expect(copied.code).toBe(0)
        // a second edge on another data directory finds the signed index in the registry: no new publish
        await withEdge({ FACTORY_INSTALLER_REGISTRY: `${internal.host}/siderolabs`, FACTORY_INSTALLER_EXTERNAL_REGISTRY: `${internal.host}/siderolabs`, FACTORY_COSIGN_KEY: join(work, 'cosign.key') }, async (second) => {
          await fetch(`${second.url}/schematics`, { method: 'POST', body: JSON.stringify({ customization: { extraKernelArgs: ['redirect-mode'] } }) })
          const again = await fetch(`${second.url}/v2/metal-installer/${id}/manifests/${VERSION}`, { redirect: 'manual' })
          expect(again.headers.get('location')).toBe(location)
          expect(second.ctx.registry.publisher.counters.published).toBe(0)
        })
      },
    )
  }, 240_000)
})

describe('source proxy', () => {
  test('503 when the upstream registry is not plain HTTP (checked before the image name)', async () => {
    await withEdge({ FACTORY_UPSTREAM_INSECURE: 'false' }, async (edge) => {
      for (const image of ['installer-base', 'nonexistent']) {
        const res = await fetch(`${edge.url}/v2/siderolabs/${image}/manifests/${VERSION}`)
        expect(res.status).toBe(503)
        const body = (await res.json()) as { errors: { message: string }[] }
        expect(body.errors[0]!.message).toBe('proxying to an authorized/secure backing registry is not possible')
      }
    })
  }, 60_000)
})

describe('configuration', () => {
  test('a cosign key that is not ECDSA P-256 stops start-up with a reason', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    await writeFile(join(work, 'rsa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }))
    await expect(startEdge({ ...up.env, FACTORY_COSIGN_KEY: join(work, 'rsa.key') })).rejects.toThrow('must be an ECDSA P-256 key')
  })
})
