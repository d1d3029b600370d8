/**
 * cosign-compatible image signatures with a key (factory-spec §9.6), the "legacy" tag scheme that
 * `cosign verify --key … --insecure-ignore-tlog` reads: a "simple signing" payload naming the
 * signed digest, signed with ECDSA P-256 / SHA-256 (ASN.1 DER, base64), stored as the single
 * layer (media type `application/vnd.dev.cosign.simplesigning.v1+json`) of an OCI image tagged
 * `sha256-<hex>.sig` in the same repository, the signature in the layer's
 * `dev.cosignproject.cosign/signature` annotation.
 *
 * The factory's key comes from a configured PEM file or is generated on first start into the data
 * directory (race-safe for several nodes sharing it); its public half is served at
 * `/oci/cosign/signing-key.pub`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.ts'
import { readOrCreateFile } from '../store/atomic-file.ts'
import { digestOf, parseDigest } from './digest.ts'
import { OCI_CONFIG, OCI_MANIFEST } from './media-types.ts'
import type { OciTarget } from './target.ts'

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
const PAYLOAD_TYPE = 'cosign container image signature'
const ZERO_TIME = '0001-01-01T00:00:00Z'

export interface CosignKey {
  privateKey: KeyObject
  publicKey: KeyObject
  /** PKIX `PUBLIC KEY` PEM */
  publicPem: string
}

function fromPem(pem: string | Buffer, where: string): CosignKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (err) {
    throw new ConfigError(`${where}: not a PEM private key (cosign's encrypted key format is not supported): ${(err as Error).message}`)
  }
  const details = privateKey.asymmetricKeyDetails
  if (privateKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw new ConfigError(`${where}: the cosign signing key must be an ECDSA P-256 key`)
  }
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

/** Reads a configured key file (PEM: PKCS#8 or SEC1 `EC PRIVATE KEY`). */
export async function loadCosignKey(path: string): Promise<CosignKey> {
  let pem: Buffer
  try {
    pem = await readFile(path)
  } catch (err) {
    throw new ConfigError(`cosign signing key ${path}: ${(err as Error).message}`)
  }
  return fromPem(pem, `cosign signing key ${path}`)
}

/** The key at `path`, generated (ECDSA P-256, PKCS#8 PEM, mode 0600) if nobody has yet. */
export async function readOrCreateCosignKey(path: string): Promise<CosignKey> {
  const { data } = await readOrCreateFile(path, () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  })
  return fromPem(data, `cosign signing key ${path}`)
}

/** `sha256:abc…` → `sha256-abc….sig`, the tag cosign looks for. */
export function signatureTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm}-${hex}.sig`
}

/** The simple-signing payload for `digest` in repository `dockerReference` (Go's json key order). */
export function simpleSigningPayload(dockerReference: string, digest: string): Uint8Array {
  const doc = {
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: PAYLOAD_TYPE },
    optional: null,
  }
  return new TextEncoder().encode(JSON.stringify(doc))
}

/** Signs `digest` and stores the signature image under its `.sig` tag in `repo`. Returns the signature manifest digest. */
export async function signImage(target: OciTarget, repo: string, digest: string, dockerReference: string, key: CosignKey): Promise<string> {
  const payload = simpleSigningPayload(dockerReference, digest)
  const signature = sign('sha256', payload, key.privateKey).toString('base64')
  const payloadDigest = digestOf(payload)
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: '',
      created: ZERO_TIME,
      history: [{ created: ZERO_TIME }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [payloadDigest] },
      config: {},
    }),
  )
  await target.putBlob(repo, payloadDigest, payload.byteLength, payload)
  await target.putBlob(repo, digestOf(config), config.byteLength, config)
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, size: config.byteLength, digest: digestOf(config) },
      layers: [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: payload.byteLength, digest: payloadDigest, annotations: { [SIGNATURE_ANNOTATION]: signature } }],
    }),
  )
  return target.putManifest(repo, manifest, OCI_MANIFEST, signatureTag(digest))
}

interface SignatureLayer {
  mediaType?: unknown
  digest?: unknown
  annotations?: Record<string, unknown>
}

/**
 * True when `repo` holds a signature of `digest` that verifies with `publicKey`: a simple-signing
 * payload naming exactly that digest, signed by the key. Anything else (missing, malformed,
 * another key) is false.
 */
export async function verifyImageSignature(target: OciTarget, repo: string, digest: string, publicKey: KeyObject): Promise<boolean> {
  const sig = await target.getManifest(repo, signatureTag(digest))
  if (!sig) return false
  let doc: { layers?: SignatureLayer[] }
  try {
    doc = JSON.parse(new TextDecoder().decode(sig.bytes)) as { layers?: SignatureLayer[] }
  } catch {
    return false
  }
  for (const layer of doc.layers ?? []) {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION]
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || typeof layer.digest !== 'string' || typeof signature !== 'string') continue
    const payload = await target.getBlobBytes(repo, layer.digest, 1024 * 1024)
    if (!payload) continue
    let claims: { critical?: { type?: unknown; image?: { 'docker-manifest-digest'?: unknown } } }
    try {
      claims = JSON.parse(new TextDecoder().decode(payload)) as typeof claims
    } catch {
      continue
    }
    if (claims.critical?.type !== PAYLOAD_TYPE || claims.critical.image?.['docker-manifest-digest'] !== digest) continue
    if (verify('sha256', payload, publicKey, Buffer.from(signature, 'base64'))) return true
  }
  return false
}
