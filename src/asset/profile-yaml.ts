/**
 * The profile's YAML (go-yaml v4 Marshal of the Go struct: field order + omitempty): the imager's
 * stdin and what the cache key hashes (src/asset/cache-key.ts).
 */
import { emitYamlValue } from '../schematic/emit.ts'
import type { YamlValue } from '../schematic/types.ts'
import { emitYaml, y, type YamlNode } from './goyaml.ts'
import { isZeroContainer, type ContainerAsset, type Profile, type SigningKey, type SigningKeyAndCertificate } from './profile-model.ts'
// ---------------------------------------------------------------------------------------------
// YAML (go-yaml v4 Marshal of the Go struct: field order + omitempty)
// ---------------------------------------------------------------------------------------------

type Entries = Array<readonly [string, YamlNode]>

function optStr(e: Entries, key: string, v: string | undefined): void {
  if (v !== undefined && v !== '') e.push([key, y.str(v)])
}

function containerNode(c: ContainerAsset): YamlNode {
  const e: Entries = [['imageRef', y.str(c.imageRef)]]
  if (c.forceInsecure) e.push(['forceInsecure', y.bool(true)])
  optStr(e, 'tarballPath', c.tarballPath)
  optStr(e, 'ociPath', c.ociPath)
  return y.map(e)
}

function signerNode(s: SigningKeyAndCertificate): YamlNode {
  const e: Entries = []
  optStr(e, 'keyPath', s.keyPath)
  optStr(e, 'certPath', s.certPath)
  optStr(e, 'azureVaultURL', s.azureVaultURL)
  optStr(e, 'azureCertificateID', s.azureCertificateID)
  optStr(e, 'awsKMSKeyID', s.awsKMSKeyID)
  optStr(e, 'awsRegion', s.awsRegion)
  optStr(e, 'awsCertPath', s.awsCertPath)
  optStr(e, 'awsCertARN', s.awsCertARN)
  optStr(e, 'signerAddress', s.signerAddress)
  return y.map(e)
}

function keyNode(s: SigningKey): YamlNode {
  const e: Entries = []
  optStr(e, 'keyPath', s.keyPath)
  optStr(e, 'azureVaultURL', s.azureVaultURL)
  optStr(e, 'azureKeyID', s.azureKeyID)
  optStr(e, 'azureKeyVersion', s.azureKeyVersion)
  optStr(e, 'awsKMSKeyID', s.awsKMSKeyID)
  optStr(e, 'awsRegion', s.awsRegion)
  optStr(e, 'signerAddress', s.signerAddress)
  return y.map(e)
}

/**
 * The YAML of overlay options, emitted once per options object: the object is the schematic's
 * (shared by every profile of that schematic, see cloneProfile) and a large one costs tens of
 * milliseconds to emit — every asset request hashes its profile, so it is memoised.
 */
const optionsYamlMemo = new WeakMap<object, string>()
function optionsYaml(options: Record<string, YamlValue>): string {
  let text = optionsYamlMemo.get(options)
  if (text === undefined) {
    text = emitYamlValue(options)
    optionsYamlMemo.set(options, text)
  }
  return text
}

/** Go-value tree of a profile in talos struct field order with omitempty applied. */
export function profileToYamlNode(p: Profile): YamlNode {
  const top: Entries = []
  optStr(top, 'baseProfileName', p.baseProfileName)
  top.push(['arch', y.str(p.arch)])
  top.push(['platform', y.str(p.platform)])
  top.push(['secureboot', p.secureboot === null ? y.null() : y.bool(p.secureboot)])
  optStr(top, 'name', p.name)
  top.push(['version', y.str(p.version)])

  const cust: Entries = []
  const c = p.customization
  if (c.extraKernelArgs && c.extraKernelArgs.length > 0) cust.push(['extraKernelArgs', y.seq(c.extraKernelArgs.map(y.str))])
  if (c.metaContents && c.metaContents.length > 0) {
    cust.push(['metaContents', y.seq(c.metaContents.map((m) => y.map([['key', y.int(m.key)], ['value', y.str(m.value)]])))])
  }
  optStr(cust, 'embeddedMachineConfiguration', c.embeddedMachineConfiguration)
  if (cust.length > 0) top.push(['customization', y.map(cust)])

  const i = p.input
  const input: Entries = [
    ['kernel', y.map([['path', y.str(i.kernel.path)]])],
    ['initramfs', y.map([['path', y.str(i.initramfs.path)]])],
  ]
  if (i.sdStub?.path) input.push(['sdStub', y.map([['path', y.str(i.sdStub.path)]])])
  if (i.sdBoot?.path) input.push(['sdBoot', y.map([['path', y.str(i.sdBoot.path)]])])
  for (const key of ['baseInstaller', 'imageCache', 'overlayInstaller'] as const) {
    const asset = i[key]
    if (asset !== undefined && !isZeroContainer(asset)) input.push([key, containerNode(asset)])
  }
  if (i.secureboot) {
    const s = i.secureboot
    const e: Entries = [
      ['secureBootSigner', signerNode(s.secureBootSigner)],
      ['pcrSigner', keyNode(s.pcrSigner)],
    ]
    optStr(e, 'platformKeyPath', s.platformKeyPath)
    optStr(e, 'keyExchangeKeyPath', s.keyExchangeKeyPath)
    optStr(e, 'signatureKeyPath', s.signatureKeyPath)
    if (s.includeWellKnownCerts) e.push(['includeWellKnownCerts', y.bool(true)])
    input.push(['secureboot', y.map(e)])
  }
  if (i.systemExtensions && i.systemExtensions.length > 0) input.push(['systemExtensions', y.seq(i.systemExtensions.map(containerNode))])
  top.push(['input', y.map(input)])

  if (p.overlay) {
    const e: Entries = [
      ['name', y.str(p.overlay.name)],
      ['image', containerNode(p.overlay.image)],
    ]
    // free-form options: the schematic emitter already reproduces go-yaml for every decoded value kind
    if (p.overlay.options && Object.keys(p.overlay.options).length > 0) e.push(['options', y.block(optionsYaml(p.overlay.options))])
    top.push(['overlay', y.map(e)])
  }

  const o = p.output
  const out: Entries = [['kind', y.str(o.kind)]]
  if (o.imageOptions) {
    const io = o.imageOptions
    const e: Entries = [['diskSize', y.int(io.diskSize)]]
    optStr(e, 'diskFormat', io.diskFormat)
    optStr(e, 'diskFormatOptions', io.diskFormatOptions)
    if (io.diskSectorSize) e.push(['diskSectorSize', y.int(io.diskSectorSize)])
    if (io.bootloader && io.bootloader !== 'none') e.push(['bootloader', y.str(io.bootloader)])
    if (io.sdBootEnrollKeys && io.sdBootEnrollKeys !== 'if-safe') e.push(['sdBootEnrollKeys', y.str(io.sdBootEnrollKeys)])
    out.push(['imageOptions', y.map(e)])
  }
  if (o.isoOptions) {
    const e: Entries = [['sdBootEnrollKeys', y.str(o.isoOptions.sdBootEnrollKeys)]]
    if (o.isoOptions.bootloader && o.isoOptions.bootloader !== 'none') e.push(['bootloader', y.str(o.isoOptions.bootloader)])
    out.push(['isoOptions', y.map(e)])
  }
  out.push(['outFormat', y.str(o.outFormat)])
  top.push(['output', y.map(out)])
  return y.map(top)
}

/** Talos profile YAML (go-yaml v4 layout) — the imager's stdin and the cache key's input. */
export function profileToYaml(p: Profile): string {
  return emitYaml(profileToYamlNode(p))
}
