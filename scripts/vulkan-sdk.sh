#!/usr/bin/env bash
# A Vulkan build toolchain for llama.cpp 0.5.0 on a machine whose own is too old: Debian bookworm's glslc (shaderc
# 2023.2, glslang 12) cannot compile 0.5.0's cooperative-matrix shaders, and its Vulkan headers (1.3.239) predate
# what ggml-vulkan.cpp includes. This takes glslc, the Vulkan headers and the SPIR-V headers from Debian sid, in a
# root made with debootstrap from the host's own mirror (as scripts/verify-hip-build.sh does), and lays them out as a
# Vulkan SDK folder that build-native.sh uses (--vulkan-sdk DIR, or VULKAN_SDK):
#   bin/glslc                 sid's glslc, run with sid's own loader and libraries (no chroot, nothing installed here)
#   include/vulkan, vk_video, spirv    sid's headers (the engine links the host's libvulkan.so.1, whose C ABI is stable)
#   lib/libvulkan.so          the host's loader, for linking
#   share/cmake/SPIRV-Headers sid's CMake package
# Only build tools come from sid: the compiled module runs where the host's glibc and libstdc++ run.
#
# Usage: scripts/vulkan-sdk.sh [--root DIR] [--out DIR] [--dry-run]
#   --root DIR   the Debian sid root (default: $PHI2_CACHE_DIR/sid-root, else ~/.cache/phi2j/sid-root; made when missing)
#   --out DIR    the SDK folder (default: next to the root, vulkan-sdk); printed last
# Needs root (debootstrap, chroot), the host's libvulkan-dev, and Debian's package mirror.
set -uo pipefail
die() { echo "vulkan-sdk: $*" >&2; exit 2; }
say() { echo "vulkan-sdk: $*" >&2; }
CACHE_BASE="${PHI2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phi2j}"
SROOT="$CACHE_BASE/sid-root"; OUT=""; DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a folder"; SROOT="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$OUT" ] || OUT="$(dirname "$SROOT")/vulkan-sdk"
PACKAGES=(glslc libvulkan-dev spirv-headers)
MIRROR="$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 1p)"
[ -n "$MIRROR" ] || MIRROR="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
IN_ROOT=(chroot "$SROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
STEPS=(
  "1. a Debian sid root in $SROOT (skipped when it exists): debootstrap --variant=minbase sid $SROOT ${MIRROR:-(the debootstrap default mirror)}"
  "2. in it: apt-get install --no-install-recommends ${PACKAGES[*]}"
  "3. the SDK folder $OUT: bin/glslc (sid's, through sid's ld.so), include/{vulkan,vk_video,spirv}, lib/libvulkan.so (the host's), share/cmake/SPIRV-Headers"
)
if [ $DRY -eq 1 ]; then printf '%s\n' "${STEPS[@]}"; echo "$OUT"; exit 0; fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot); run it as root or in a root container"
HOST_LOADER=""; [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] && HOST_LOADER=/usr/lib/x86_64-linux-gnu/libvulkan.so.1
[ -n "$HOST_LOADER" ] || die "the host has no Vulkan loader to link against: apt-get install libvulkan-dev"

say "${STEPS[0]}"
if [ ! -x "$SROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is needed: apt-get install debootstrap"
  mkdir -p "$(dirname "$SROOT")" && rm -rf "$SROOT.partial"
  debootstrap --variant=minbase sid "$SROOT.partial" ${MIRROR:+"$MIRROR"} > "$SROOT.debootstrap.log" 2>&1 \
    || die "debootstrap failed (log: $SROOT.debootstrap.log)"
  mv "$SROOT.partial" "$SROOT"
fi
cp /etc/resolv.conf "$SROOT/etc/resolv.conf" 2>/dev/null || true

say "${STEPS[1]}"
if [ ! -x "$SROOT/usr/bin/glslc" ] || [ ! -d "$SROOT/usr/share/cmake/SPIRV-Headers" ] || [ ! -f "$SROOT/usr/include/vulkan/vulkan.hpp" ]; then
  "${IN_ROOT[@]}" apt-get -qq -o Acquire::Check-Valid-Until=false update || die "apt-get update failed in $SROOT"
  "${IN_ROOT[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" > "$SROOT.vulkan-apt.log" 2>&1 \
    || die "installing ${PACKAGES[*]} failed in $SROOT (log: $SROOT.vulkan-apt.log)"
fi

say "${STEPS[2]}"
TMP="$OUT.partial"
{ rm -rf "$TMP" && mkdir -p "$TMP/bin" "$TMP/include" "$TMP/lib" "$TMP/share/cmake"; } || die "cannot create $TMP"
for d in vulkan vk_video spirv; do
  [ -d "$SROOT/usr/include/$d" ] && cp -r "$SROOT/usr/include/$d" "$TMP/include/"
done
cp -r "$SROOT/usr/share/cmake/SPIRV-Headers" "$TMP/share/cmake/" || die "no SPIR-V headers' CMake package in $SROOT"
ln -s "$HOST_LOADER" "$TMP/lib/libvulkan.so"
cat > "$TMP/bin/glslc" <<SH
#!/bin/sh
# Debian sid's glslc, run with sid's own loader and libraries from $SROOT (made by scripts/vulkan-sdk.sh).
exec "$SROOT/lib64/ld-linux-x86-64.so.2" --library-path "$SROOT/usr/lib/x86_64-linux-gnu:$SROOT/lib/x86_64-linux-gnu" "$SROOT/usr/bin/glslc" "\$@"
SH
chmod +x "$TMP/bin/glslc"
VERSION="$("$TMP/bin/glslc" --version 2>&1 | sed -n 1p)" || die "sid's glslc does not run through its loader: $VERSION"
{ rm -rf "$OUT" && mv "$TMP" "$OUT"; } || die "cannot move $TMP to $OUT"
HEADERS="$(sed -n 's/^#define VK_HEADER_VERSION \([0-9][0-9]*\).*/\1/p' "$OUT/include/vulkan/vulkan_core.h")"
say "Vulkan SDK folder ready: $OUT ($VERSION, Vulkan headers version $HEADERS)"
echo "$OUT"
