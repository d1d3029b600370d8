/**
 * iPXE boot scripts served at `/pxe/:schematic/:version/:path` (factory `standard.ipxe`,
 * `secureboot.ipxe`, factory-spec §7).
 *
 * Why exact bytes: firmware, booters (Omni/booter, Tinkerbell, matchbox chains) and the
 * reference tests compare these scripts literally; the kernel URL must point at the PXE host so
 * downloads are served without redirects, and SecureBoot boots the signed UKI with the cmdline
 * passed explicitly (iPXE does not apply a UKI's embedded cmdline).
 */
import { InvalidInputError } from '../errors.ts'
import type { Arch } from '../talos/platforms.ts'
import { parsePlatformArch, type PlatformArch } from './path.ts'

export interface PxeScriptInput {
  /** external PXE base URL (defaults to the external URL); may carry a path prefix */
  readonly baseUrl: string
  /** schematic ID as given in the request */
  readonly schematicId: string
  /** `v`-prefixed version as requested */
  readonly versionTag: string
  readonly platform: string
  /** normalised arch (`x86_64`/`i386` already mapped to amd64) */
  readonly arch: Arch
  readonly secureboot: boolean
  /** the cmdline asset text for `cmdline-<path>` (no trailing newline) */
  readonly cmdline: string
}

/** The PXE `:path` is `<platform>-<arch>[-secureboot]`; its cmdline asset is `cmdline-<path>`. */
export function pxeCmdlineAssetPath(pxePath: string): string {
  return 'cmdline-' + pxePath
}

/** Parse the PXE `:path` (same grammar and errors as `cmdline-…` asset paths). */
export function parsePxePath(pxePath: string): PlatformArch {
  return parsePlatformArch(pxePath)
}

/** Go `path.Clean` for absolute paths. */
function cleanAbsolute(path: string): string {
  const out: string[] = []
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return '/' + out.join('/')
}

/**
 * Go `url.URL.JoinPath`: append path segments to the base URL's path (a base path prefix is
 * kept; dot segments and duplicate slashes are cleaned), keeping scheme/authority as written.
 */
export function joinUrlPath(base: string, ...segments: string[]): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)?([^?#]*)(.*)$/s.exec(base)
  const origin = m?.[1] ?? ''
  const basePath = m?.[2] ?? ''
  const suffix = m?.[3] ?? ''
  const joined = cleanAbsolute([basePath, ...segments].join('/'))
  const trailing = segments.length > 0 && segments[segments.length - 1]!.endsWith('/') && joined !== '/' ? '/' : ''
  return origin + joined + trailing + suffix
}

/**
 * iPXE splits a script line on whitespace and treats some tokens as shell syntax, not arguments:
 * `&&`, `||` and `;` end the command (what follows runs as another command) and a token starting
 * with `#` starts a comment (the rest of the kernel line is dropped). Options are parsed only
 * before the image URL, and `${…}` settings are expanded inside one token, so everything else
 * reaches the kernel as an argument — `talos.config=…?uuid=${uuid}` keeps working.
 */
export function assertIpxeSafeCmdline(cmdline: string): void {
  for (const token of cmdline.split(/\s+/)) {
    if (token === '&&' || token === '||' || token === ';') {
      throw new InvalidInputError(`kernel argument ${JSON.stringify(token)} is an iPXE command separator and cannot be passed in a PXE script`)
    }
    if (token.startsWith('#')) {
      throw new InvalidInputError(`kernel argument ${JSON.stringify(token)} starts an iPXE comment and cannot be passed in a PXE script`)
    }
  }
}

/**
 * Render the script exactly as the reference templates do (`\n` line ends, trailing newline).
 * Throws InvalidInputError (400) for a command line iPXE would not pass through as arguments.
 */
export function renderPxeScript(input: PxeScriptInput): string {
  assertIpxeSafeCmdline(input.cmdline)
  const url = (file: string) => joinUrlPath(input.baseUrl, 'image', input.schematicId, input.versionTag, file)
  if (input.secureboot) {
    const uki = url(`${input.platform}-${input.arch}-secureboot-uki.efi`)
    return `#!ipxe\n\nimgfree\nkernel ${uki} ${input.cmdline}\nboot\n`
  }
  const kernel = url(`kernel-${input.arch}`)
  const initramfs = url(`initramfs-${input.arch}.xz`)
  return `#!ipxe\n\nimgfree\nkernel ${kernel} ${input.cmdline}\ninitrd ${initramfs}\nboot\n`
}
