/**
 * GET /llms.txt: a plain-text guide to this factory's HTTP API for agents (factory-spec §3.11 has
 * the route; the text is ours). The factory's external URL is filled in, so the examples work as
 * written against this installation.
 */
export function llmsText(externalUrl: string, pxeUrl: string): string {
  const base = externalUrl.replace(/\/+$/, '')
  const pxe = pxeUrl.replace(/\/+$/, '')
  const host = new URL(externalUrl).host
  return `# Talos Linux Image Factory

> A self-hosted Talos Linux Image Factory at ${base}. It turns a *schematic* (system
> extensions, extra kernel arguments, SBC overlay, bootloader, embedded machine configuration)
> and a Talos Linux version into boot media, PXE scripts and installer images. It speaks the same
> API as the public Image Factory, so talosctl, Omni and Terraform work against it.

## How to use it

1. Create a schematic: POST its YAML (or JSON) to ${base}/schematics. The answer is
   {"id": "<64 hex characters>", "schematic": "<canonical YAML>"}. The same schematic always gets
   the same ID, here and on any other factory.
2. Pick a Talos version from ${base}/versions (JSON list, e.g. "v1.12.0").
3. Download what you need from ${base}/image/<id>/<version>/<file>, boot over the network with
   ${pxe}/pxe/<id>/<version>/<platform>-<arch>, or install with the image
   ${host}/<platform>-installer/<id>:<version> (Talos 1.10 and later; "installer" before).

The empty schematic "customization: {}" has the ID
376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba.

## Schematic example

    customization:
      extraKernelArgs:
        - net.ifnames=0
      systemExtensions:
        officialExtensions:
          - siderolabs/gvisor
          - siderolabs/intel-ucode

List the extensions a version offers at ${base}/version/<version>/extensions/official and the
SBC overlays at ${base}/version/<version>/overlays/official. A single-board computer image adds

    overlay:
      image: siderolabs/sbc-raspberrypi
      name: rpi_generic

## File names under /image/<id>/<version>/

- kernel-<arch>, initramfs-<arch>.xz, cmdline-<platform>-<arch>
- <platform>-<arch>.iso, <platform>-<arch>-uki.efi
- disk images: <platform>-<arch>.raw.xz, .raw.zst, .raw.gz, .qcow2, .vhd, .ova, .raw.tar.gz
- installers: <platform>-installer-<arch>.tar
- add -secureboot after the arch for SecureBoot media (Talos 1.5 and later)
- append .sha256 or .sha512 to any file for its checksum

<arch> is amd64 or arm64; <platform> is metal, aws, azure, gcp, nocloud, vmware, hcloud, … .
Every kind is built. 501 (with a one-line reason) means this factory lacks something the request
needs, e.g. Microsoft's certificates for includeWellKnownCertificates or arm64 GRUB modules.

## Progress of a build

GET ${base}/progress/<id>/<version>/<file> starts the build when the file is not cached and
reports it as Server-Sent Events: queued, building (phase, bytes written), then done (size,
sha256) or failed (reason).

## Other endpoints

- GET ${base}/schematics/<id> — the stored schematic (YAML)
- GET ${base}/talosctl/<version> — talosctl download URLs (Talos 1.11 and later)
- GET ${base}/swagger/json — the OpenAPI 3.1 description of every endpoint (UI at ${base}/swagger)
- GET ${base}/healthz, ${base}/readyz — health

## Errors

Every error is an HTTP status with a one-line text/plain reason: 400 bad input, 404 unknown
schematic or version, 413 body too large, 501 not buildable by this factory, 503 upstream
registry unreachable. Each response carries an X-Request-ID header.
`
}
