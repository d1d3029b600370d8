/**
 * Building blocks every output family reuses (ISO, disk image, installer, UKI): the initramfs with
 * extensions, the UKI, systemd-boot and the Secure Boot enrolment files, each produced once per
 * build into the build's scratch directory and shared by whoever asks again in the same build.
 *
 *   const uki = await ukiFile(profile, ctx)             // signed when profile.secureboot
 *   const boot = await sdBootFile(profile, ctx)         // signed when profile.secureboot
 *   const keys = await enrollmentFiles(profile, ctx)    // {pk, kek, db} or null
 *
 * `ukiFile` adds the reference's extra UKI profile for the output kind (ISO: `reset`; disk image
 * and installer: `reset-maintenance`) unless `opts.extraProfiles` says otherwise; profiles only
 * reach stubs that support them (uki.ts).
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { Quirks } from '../../src/talos/quirks.ts'
import { signImage, unsignedImageOf } from './authenticode.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'
import type { BuildContext } from './index.ts'
import { buildInitramfs, type InitramfsOptions } from './initramfs.ts'
import { OutputSink } from './output.ts'
import { readPe, type ByteSink } from './pe.ts'
import type { ImagerProfile } from './profile.ts'
import { enrollmentDatabase, loadSecureBootKeys, type EnrollmentFiles, type SecureBootKeys } from './secureboot.ts'
import { writeUki, type UkiProfile, type UkiResult } from './uki.ts'

export type { UkiProfile } from './uki.ts'

/** Per-build memo: each part is built once even when several families ask for it. */
const memo = new WeakMap<BuildContext, Map<string, Promise<unknown>>>()

function once<T>(ctx: BuildContext, key: string, make: () => Promise<T>): Promise<T> {
  let m = memo.get(ctx)
  if (!m) {
    m = new Map()
    memo.set(ctx, m)
  }
  let p = m.get(key) as Promise<T> | undefined
  if (!p) {
    p = make()
    m.set(key, p)
  }
  return p
}

/** Writes a file in the scratch directory through an OutputSink (synced, closed on error). */
async function toFile(path: string, write: (sink: OutputSink) => Promise<void>): Promise<string> {
  const sink = await OutputSink.open(path)
  let ok = false
  try {
    await write(sink)
    ok = true
  } finally {
    await sink.close({ sync: false }).catch((err: unknown) => {
      if (ok) throw err
    })
  }
  return path
}

/** The initramfs with the profile's system extensions, in the scratch directory. */
/**
 * The initramfs options of a build: every output family that embeds an initramfs (the kind itself,
 * UKI, ISO, disk, installer) must build the same bytes, so they all take them from here.
 */
export function initramfsOptions(ctx: BuildContext, output: OutputSink): InitramfsOptions {
  return {
    output,
    cacheDir: ctx.cacheDir,
    workDir: ctx.workDir,
    ...(ctx.extensionDigests ? { extensionDigests: ctx.extensionDigests } : {}),
    ...(ctx.extensionLabels ? { extensionLabels: ctx.extensionLabels } : {}),
    ...(ctx.selinuxLabels ? { selinuxLabels: ctx.selinuxLabels } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  }
}

export function initramfsFile(profile: ImagerProfile, ctx: BuildContext): Promise<string> {
  return once(ctx, 'initramfs', () =>
    toFile(join(ctx.workDir, 'initramfs.xz'), async (output) => {
      await buildInitramfs(profile, initramfsOptions(ctx, output))
    }),
  )
}

/** Secure Boot keys of the profile, loaded once per build (null without Secure Boot). */
export function secureBootKeys(profile: ImagerProfile, ctx: BuildContext): Promise<SecureBootKeys | null> {
  const sb = profile.input.secureboot
  if (!profile.secureboot || sb === null) return Promise.resolve(null)
  return once(ctx, 'sb-keys', () => loadSecureBootKeys(sb))
}

/** The reference's extra UKI profile for the output kind (imager-spec §5.1). */
export function defaultUkiProfiles(profile: ImagerProfile, cmdline: string): UkiProfile[] {
  switch (profile.output.kind) {
    case 'iso':
      return [{ id: 'reset', title: 'Reset system disk', cmdline: `${cmdline} talos.experimental.wipe=system` }]
    case 'image':
    case 'installer':
      return [{ id: 'reset-maintenance', title: 'Reset to maintenance mode', cmdline: `${cmdline} talos.experimental.wipe=system:EPHEMERAL,STATE` }]
    default:
      return []
  }
}

/** Details of the last UKI built for a context (sections, profiles dropped for an old stub). */
export const ukiResults = new WeakMap<BuildContext, UkiResult>()

/**
 * Writes the UKI (signed for Secure Boot) into `sink`: the `uki` output streams it straight into
 * the asset, the other families go through {@link ukiFile}.
 */
export async function writeUkiTo(profile: ImagerProfile, ctx: BuildContext, sink: ByteSink, opts: { extraProfiles?: UkiProfile[] } = {}): Promise<UkiResult> {
  const [initrd, keys] = await Promise.all([initramfsFile(profile, ctx), secureBootKeys(profile, ctx)])
  const result = await writeUki(
    {
      stub: profile.input.sdStub,
      kernel: profile.input.kernel,
      initrd,
      cmdline: ctx.cmdline,
      name: profile.name,
      version: profile.version,
      profiles: new Quirks(profile.version).supportsUKIProfiles(),
      extraProfiles: opts.extraProfiles ?? defaultUkiProfiles(profile, ctx.cmdline),
      timestamp: SOURCE_DATE_EPOCH,
      ...(keys ? { secureBoot: { signer: keys.signer, pcrKey: keys.pcrKey } } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    },
    sink,
  )
  ukiResults.set(ctx, result)
  return result
}

/** The UKI (signed for Secure Boot), in the scratch directory. */
export function ukiFile(profile: ImagerProfile, ctx: BuildContext, opts: { extraProfiles?: UkiProfile[] } = {}): Promise<string> {
  const extraProfiles = opts.extraProfiles ?? defaultUkiProfiles(profile, ctx.cmdline)
  const key = `uki:${JSON.stringify(extraProfiles)}`
  const name = `uki-${createHash('sha256').update(key).digest('hex').slice(0, 12)}.efi`
  return once(ctx, key, () => toFile(join(ctx.workDir, name), async (sink) => void (await writeUkiTo(profile, ctx, sink, { extraProfiles }))))
}

/** systemd-boot (signed for Secure Boot): the version's own file, or a signed copy of it. */
export function sdBootFile(profile: ImagerProfile, ctx: BuildContext): Promise<string> {
  return once(ctx, 'sd-boot', async () => {
    const keys = await secureBootKeys(profile, ctx)
    if (!keys) return profile.input.sdBoot
    const pe = await readPe(profile.input.sdBoot)
    return toFile(join(ctx.workDir, 'systemd-boot.efi.signed'), (sink) => signImage(unsignedImageOf(pe), keys.signer, sink, ctx.signal))
  })
}

/** PK/KEK/db `.auth` files for systemd-boot's auto-enrolment (null without Secure Boot). */
export function enrollmentFiles(profile: ImagerProfile, ctx: BuildContext): Promise<EnrollmentFiles | null> {
  return once(ctx, 'enroll', async () => {
    const keys = await secureBootKeys(profile, ctx)
    const input = profile.input.secureboot
    if (!keys || !input) return null
    return enrollmentDatabase(input, keys, ctx.workDir, { ...(ctx.wellKnownCertsDir ? { wellKnownCertsDir: ctx.wellKnownCertsDir } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) })
  })
}
