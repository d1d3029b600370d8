#!/usr/bin/env bash
# Installs the Debian packages the factory needs, only those missing, so repeated runs are fast.
#   runtime: what `npm start` needs (imager tools, Caddy)
#   test:    runtime + the services and clients the test suite starts (registry, redis, skopeo,
#            chromium, QEMU with OVMF and the iPXE ROMs)
set -euo pipefail
mode=${1:-runtime}
RUNTIME="caddy squashfs-tools attr cpio xz-utils zstd kmod xorriso mtools dosfstools gdisk qemu-utils systemd-boot-efi binutils sbsigntool openssl ca-certificates"
TEST="docker-registry skopeo umoci redis-server chromium qemu-system-x86 ovmf ipxe-qemu busybox-static curl"
case "$mode" in
  runtime) pkgs="$RUNTIME" ;;
  test) pkgs="$RUNTIME $TEST" ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages (run as root or install them): ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
