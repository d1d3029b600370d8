/**
 * Source artifacts a build needs, fetched from the upstream registry once and reused:
 * per-version boot inputs from `siderolabs/imager:<version>` and extension/overlay images by
 * digest, each extracted into a content-addressed directory (per architecture).
 */
import { join } from 'node:path'
import type { RegistryClient } from '../src/oci/client.ts'
import { resolveInRoot } from '../src/oci/extract.ts'
import { RegistryImageSource } from '../src/catalog/registry-source.ts'
import { DEFAULT_COMPONENTS } from '../src/catalog/catalog.ts'
import { NotFoundError } from '../src/errors.ts'
import { pullToLayout } from '../src/oci/pull-layout.ts'
import { SingleFlight } from '../src/single-flight.ts'

export interface VersionInputs {
  kernel: string
  initramfs: string
  sdStub: string
  sdBoot: string
  /** the imager image's GRUB modules (`usr/lib/grub`, with `<platform>/` dirs), '' when it has none */
  grubDir: string
}

export class Artifacts {
  private readonly sources = new Map<string, RegistryImageSource>()
  private readonly layouts = new SingleFlight<string>()

  constructor(
    private readonly client: RegistryClient,
    private readonly dir: string,
    private readonly components = DEFAULT_COMPONENTS,
  ) {}

  private source(arch: string): RegistryImageSource {
    let s = this.sources.get(arch)
    if (!s) {
      s = new RegistryImageSource(this.client, join(this.dir, arch), arch)
      this.sources.set(arch, s)
    }
    return s
  }

  /** `/usr/install/<arch>/…` of the imager image for `versionTag` (the image holds both arches). */
  async versionInputs(versionTag: string, arch: string): Promise<VersionInputs> {
    let root: string
    try {
      root = await this.source('amd64').extract(this.components.imager, versionTag)
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`failed to get kernel: version ${versionTag.replace(/^v/, '')} is not available`)
      throw err
    }
    const file = (name: string) => resolveInRoot(root, `usr/install/${arch}/${name}`)
    return {
      kernel: await file('vmlinuz'),
      initramfs: await file('initramfs.xz'),
      sdStub: await file('systemd-stub.efi').catch(() => ''),
      sdBoot: await file('systemd-boot.efi').catch(() => ''),
      grubDir: await resolveInRoot(root, 'usr/lib/grub').catch(() => ''),
    }
  }

  /**
   * The base installer (`siderolabs/installer-base:<v>` or `siderolabs/installer:<v>`) for one
   * architecture as an OCI layout with its blobs unchanged (`<dir>/installers/<repo>/<arch>-<digest>`).
   */
  baseInstaller(repository: string, tag: string, arch: string): Promise<string> {
    return this.layouts.run(`${repository}:${tag}:${arch}`, async () => {
      try {
        const got = await pullToLayout(this.client, repository, tag, arch, join(this.dir, 'installers', repository.replaceAll('/', '_')))
        return got.dir
      } catch (err) {
        if (err instanceof NotFoundError) throw new NotFoundError(`failed to get base installer: version ${tag.replace(/^v/, '')} is not available`)
        throw err
      }
    })
  }

  /** An image (extension, overlay) by repository path and digest for one architecture. */
  image(repository: string, digest: string, arch: string): Promise<string> {
    return this.source(arch).extract(repository, digest)
  }
}
