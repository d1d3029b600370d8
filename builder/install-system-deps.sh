#!/usr/bin/env bash
# Installs the Debian packages the factory needs, only those missing, so repeated runs are fast.
#   runtime: what `npm start` needs (imager tools, Caddy)
#   test:    runtime + the services and clients the test suite starts (registry, redis, skopeo,
#            chromium, QEMU with OVMF and the iPXE ROMs)
set -euo pipefail
mode=${1:-runtime}
RUNTIME="caddy squashfs-tools attr cpio xz-utils zstd kmod xorriso mtools dosfstools gdisk qemu-utils systemd-boot-efi binutils sbsigntool openssl ca-certificates grub-pc-bin grub-efi-amd64-bin grub-common efitools xfsprogs pigz"
TEST="docker-registry skopeo umoci podman redis-server chromium qemu-system-x86 ovmf ipxe-qemu busybox-static curl genisoimage fdisk"
case "$mode" in
  runtime) pkgs="$RUNTIME" ;;
  test) pkgs="$RUNTIME $TEST" ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# arm64 GRUB modules for SBC/arm64 disk images: Debian has no grub-efi-arm64-bin for amd64, so on
# amd64 hosts the arm64 package is downloaded (apt-get with arm64 added for that call only) and its
# modules unpacked to /usr/local/lib/grub/arm64-efi, where the imager looks after /usr/lib/grub.
arm64_grub_missing() {
  [ "$(dpkg --print-architecture)" = amd64 ] && [ ! -f /usr/lib/grub/arm64-efi/moddep.lst ] && [ ! -f /usr/local/lib/grub/arm64-efi/moddep.lst ]
}
install_arm64_grub() {
  local tmp arch=(-o 'APT::Architectures::=amd64' -o 'APT::Architectures::=arm64')
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true # apt downloads as _apt
  apt-get "${arch[@]}" update -qq >&2
  (cd "$tmp" && apt-get "${arch[@]}" download -qq grub-efi-arm64-bin:arm64 >&2)
  dpkg-deb -x "$tmp"/grub-efi-arm64-bin_*_arm64.deb "$tmp/x"
  mkdir -p /usr/local/lib/grub
  rm -rf /usr/local/lib/grub/arm64-efi
  cp -a "$tmp/x/usr/lib/grub/arm64-efi" /usr/local/lib/grub/arm64-efi
  rm -rf "$tmp"
  apt-get update -qq >&2 # back to this host's architectures
}

if [ ${#missing[@]} -eq 0 ] && ! arm64_grub_missing; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages (run as root or install them): ${missing[*]}${missing[*]:+ }$(arm64_grub_missing && echo 'grub-efi-arm64-bin:arm64 modules')" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if arm64_grub_missing; then
  echo "unpacking arm64 GRUB modules into /usr/local/lib/grub/arm64-efi" >&2
  install_arm64_grub
fi
