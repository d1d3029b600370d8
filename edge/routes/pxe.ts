/**
 * iPXE scripts (factory-spec §7): GET /pxe/:schematic/:version/:path, byte-exact with the
 * reference. The kernel command line is the `cmdline-<path>` asset, built and cached like any
 * other.
 *
 * iPXE builds older than 1.21 (e.g. Debian 12's QEMU ROM from 2019) cannot hand an initrd to a
 * UEFI kernel unless the kernel line names it (`initrd=<name>`); with FACTORY_PXE_INITRD_ARG=auto
 * such clients (recognised by their User-Agent) get that argument, everyone else the exact
 * reference script.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { parsePxePath, pxeCmdlineAssetPath, renderPxeScript } from '../../src/asset/pxe.ts'
import { toVersionTag } from '../../src/talos/semver.ts'
import type { AppContext } from '../context.ts'

const ErrorText = v.pipe(v.string(), v.description('one-line reason, text/plain'))

/** iPXE/1.0.0+…, iPXE/1.20.1 → true; iPXE/1.21.1 and later → false. */
export function isLegacyIpxe(userAgent: string | null): boolean {
  const m = /\biPXE\/(\d+)\.(\d+)/.exec(userAgent ?? '')
  if (!m) return false
  const major = Number(m[1])
  const minor = Number(m[2])
  return major < 1 || (major === 1 && minor < 21)
}

export function pxeRoutes(ctx: AppContext) {
  return new Elysia({ name: 'pxe' }).get(
    '/pxe/:schematic/:version/:path',
    async ({ params, request }) => {
      // plan() checks in the reference's order (factory-spec §7): schematic, version, path (the
      // `cmdline-<path>` asset path), availability, enhancement; then the build
      const planned = await ctx.assets.plan(params.schematic, params.version, pxeCmdlineAssetPath(params.path))
      const pa = parsePxePath(params.path)
      const cmdline = (await ctx.assets.text(planned.job)).trim()
      const mode = ctx.config.pxe.initrdArg
      const addInitrd = !pa.secureboot && (mode === 'always' || (mode === 'auto' && isLegacyIpxe(request.headers.get('user-agent'))))
      const script = renderPxeScript({
        baseUrl: ctx.config.http.externalPxeUrl,
        schematicId: params.schematic,
        versionTag: toVersionTag(params.version),
        platform: pa.platform,
        arch: pa.arch,
        secureboot: pa.secureboot,
        cmdline: addInitrd ? `initrd=initramfs-${pa.arch}.xz ${cmdline}` : cmdline,
      })
      const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
      // in auto mode the script depends on the User-Agent: caches must key on it
      if (mode === 'auto') headers.vary = 'User-Agent'
      return new Response(script, { headers })
    },
    {
      params: v.object({
        schematic: v.string(),
        version: v.string(),
        path: v.pipe(v.string(), v.description('<platform>-<arch>[-secureboot]; arch may be iPXE ${buildarch} (x86_64, i386, arm64)')),
      }),
      response: { 200: v.pipe(v.string(), v.description('iPXE script')), 400: ErrorText, 404: ErrorText },
      detail: {
        summary: 'iPXE boot script',
        tags: ['pxe'],
        description: 'Chain-load from iPXE: `chain http://factory/pxe/<schematic>/<version>/metal-${buildarch}`.',
      },
    },
  )
}
