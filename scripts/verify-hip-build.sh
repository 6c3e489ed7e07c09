#!/usr/bin/env bash
# Builds the whole native engine with llama.cpp's HIP backend for MI250 (gfx90a) and MI300 (gfx942) on a Linux
# machine without ROCm, and checks that every GPU code object holds both targets. The toolchain comes from Debian
# sid's ROCm packages in a root made here with debootstrap (kept and reused); the source is the pinned llama.cpp
# (cmake/versions.cmake), built by scripts/build-native.sh inside that root exactly as on a ROCm machine.
# Needs root (debootstrap, chroot), about 12 GB of disk and Debian's package mirror; takes ~25 minutes on 2 cores.
#
# Usage: scripts/verify-hip-build.sh [options]
#   --root DIR       the Debian sid root (default: $PHI2_CACHE_DIR/hip-root, else ~/.cache/phi2j/hip-root)
#   --out DIR        where the built engine is copied (default: native/build/hip-verify)
#   --targets LIST   gfx targets (default: gfx90a,gfx942)
#   --jobs N         parallel compile jobs (default: all cores)
#   --addon          build the HIP module alone for the portable engine (build-native.sh portable-hip --backend-only)
#                    and turn it into the phi2-native linux-x86_64-hip add-on jar (scripts/native-jar.sh) in OUT/jars
#   --dry-run        print each step and its commands without running anything
# Prints a summary (toolchain versions, compile time, sizes, targets per code object) for native/BUILDS.md and
# writes it to OUT/verify.md. On a machine with AMD's ROCm use scripts/build-native.sh hip-gfx942 instead.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "verify-hip-build: $*" >&2; exit 2; }
say() { echo "verify-hip-build: $*" >&2; }
CACHE_BASE="${PHI2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phi2j}"
HROOT="$CACHE_BASE/hip-root"; OUT="$ROOT/native/build/hip-verify"; TARGETS="gfx90a,gfx942"
JOBS="$(nproc 2>/dev/null || echo 2)"; DRY=0; ADDON=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a folder"; HROOT="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --targets) [ $# -ge 2 ] || die "--targets needs a list"; TARGETS="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
    --addon) ADDON=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$TARGETS" =~ ^gfx[0-9a-f]+(,gfx[0-9a-f]+)*$ ]] || die "--targets are gfx names such as gfx90a,gfx942, not '$TARGETS'"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"

# The toolchain measured to compile llama.cpp 0.5.0's HIP kernels for both targets (issue 13). librocblas-dev pulls
# in rocBLAS's 4 GB kernel library, of which the build uses only the headers and CMake files.
PACKAGES=(hipcc libamdhip64-dev libhipblas-dev librocblas-dev rocm-cmake libomp-dev cmake ninja-build git g++
          default-jdk-headless binutils ca-certificates)
# The host's own Debian mirror, so the root comes from the same place apt here already uses.
MIRROR="$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 1p)"
[ -n "$MIRROR" ] || MIRROR="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
IN_ROOT=(chroot "$HROOT" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
SRC="$(bash "$ROOT/scripts/build-native.sh" cpu --dry-run 2>&1 | sed -n 's/.* from: cache \(.*\)$/\1/p')"
# the whole engine with the HIP backend, or (--addon) the portable engine's HIP module alone
PRESET_ARGS=(hip); [ $ADDON -eq 1 ] && PRESET_ARGS=(portable-hip --backend-only)

STEPS=(
  "1. a Debian sid root in $HROOT (skipped when it exists): debootstrap --variant=minbase sid $HROOT ${MIRROR:-(debootstrap default mirror)}"
  "2. the ROCm toolchain in it: apt-get -o Acquire::Check-Valid-Until=false update; apt-get install ${PACKAGES[*]}"
  "3. the project's native sources and the pinned llama.cpp (${SRC:-fetched by build-native.sh --fetch-only}) copied to $HROOT/phi2j"
  "4. inside the root: scripts/build-native.sh ${PRESET_ARGS[*]} --rocm-path /usr --gpu-targets $TARGETS --llama-src /phi2j/llama.cpp --out /phi2j/out --jobs $JOBS"
  "5. the installed $([ $ADDON -eq 1 ] && echo module || echo engine) copied to $OUT; the .hip_fatbin section of libggml-hip.so extracted (objcopy) and every offload bundle's targets listed"
)
[ $ADDON -eq 1 ] && STEPS+=("6. its add-on jar: scripts/native-jar.sh $OUT --out $OUT/jars (phi2-native-VERSION-linux-x86_64-hip.jar)")
if [ $DRY -eq 1 ]; then
  for s in "${STEPS[@]}"; do echo "$s"; done
  exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot); run it as root or in a root container"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to list the offload bundles"
command -v objcopy >/dev/null 2>&1 || die "objcopy (binutils) is needed: apt-get install binutils"
START_ALL=$(date +%s)

say "${STEPS[0]}"
if [ ! -x "$HROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } || die "cannot install debootstrap"
  rm -rf "$HROOT.partial"
  debootstrap --variant=minbase sid "$HROOT.partial" ${MIRROR:+"$MIRROR"} >"$CACHE_BASE/hip-root-debootstrap.log" 2>&1 \
    || die "debootstrap failed (log: $CACHE_BASE/hip-root-debootstrap.log)"
  mv "$HROOT.partial" "$HROOT"
fi
mountpoint -q "$HROOT/proc" || mount -t proc proc "$HROOT/proc" 2>/dev/null || say "(could not mount /proc in the root; going on without it)"
trap 'mountpoint -q "$HROOT/proc" && umount "$HROOT/proc"' EXIT
cp /etc/resolv.conf "$HROOT/etc/resolv.conf" 2>/dev/null || true

say "${STEPS[1]}"
"${IN_ROOT[@]}" apt-get -qq -o Acquire::Check-Valid-Until=false update || die "apt-get update failed in the root"
"${IN_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$HROOT/apt-install.log" 2>&1 \
  || die "installing the ROCm toolchain failed (log: $HROOT/apt-install.log)"

say "${STEPS[2]}"
if [ -z "$SRC" ]; then SRC="$(bash "$ROOT/scripts/build-native.sh" cpu --fetch-only | tail -1)" || die "cannot get the pinned llama.cpp"; fi
rm -rf "$HROOT/phi2j" && mkdir -p "$HROOT/phi2j/scripts"
cp -a "$ROOT/native" "$ROOT/cmake" "$HROOT/phi2j/" && rm -rf "$HROOT/phi2j/native/build"
cp -a "$ROOT/scripts/build-native.sh" "$HROOT/phi2j/scripts/"
cp -a "$SRC" "$HROOT/phi2j/llama.cpp" || die "cannot copy $SRC"

say "${STEPS[3]}"
T0=$(date +%s)
"${IN_ROOT[@]}" bash /phi2j/scripts/build-native.sh "${PRESET_ARGS[@]}" --rocm-path /usr --gpu-targets "$TARGETS" --llama-src /phi2j/llama.cpp \
  --out /phi2j/out --jobs "$JOBS" >"$HROOT/phi2j/build.log" 2>&1 || { tail -30 "$HROOT/phi2j/build.log" >&2; die "the HIP build failed (log: $HROOT/phi2j/build.log)"; }
BUILD_S=$(( $(date +%s) - T0 ))
STEPS_N="$(grep -c '^\[[0-9]*/[0-9]*\]' "$HROOT/phi2j/build.log" || true)"

say "${STEPS[4]}"
rm -rf "$OUT" && mkdir -p "$(dirname "$OUT")" && cp -a "$HROOT/phi2j/out" "$OUT"
HIPLIB=""; for f in "$OUT"/libggml-hip.so*; do [ -e "$f" ] && HIPLIB="$f" && break; done
[ -n "$HIPLIB" ] || die "the build installed no libggml-hip.so into $OUT"
objcopy -O binary --only-section=.hip_fatbin "$HIPLIB" "$OUT/hip_fatbin.bin" || die "no .hip_fatbin section in $HIPLIB"
# Clang's offload bundle: "__CLANG_OFFLOAD_BUNDLE__", u64 entry count, then per entry u64 offset, u64 size,
# u64 id length and the id ("hipv4-amdgcn-amd-amdhsa--gfx90a"); bundles follow one another in the section.
python3 - "$OUT/hip_fatbin.bin" "$TARGETS" >"$OUT/bundles.txt" <<'PY' || { cat "$OUT/bundles.txt" >&2; die "the code objects do not hold every target"; }
import struct, sys
data = open(sys.argv[1], 'rb').read()
want = sys.argv[2].split(',')
magic = b'__CLANG_OFFLOAD_BUNDLE__'
at, bundles, bad = 0, 0, 0
while True:
    at = data.find(magic, at)
    if at < 0:
        break
    (n,) = struct.unpack_from('<Q', data, at + 24)
    p, ids = at + 32, []
    for _ in range(n):
        off, size, idlen = struct.unpack_from('<QQQ', data, p)
        ids.append(data[p + 24:p + 24 + idlen].decode())
        p += 24 + idlen
    gpu = sorted(i.split('--')[-1] for i in ids if i.startswith('hip'))
    bundles += 1
    missing = [t for t in want if not any(g.split(':')[0] == t for g in gpu)]
    bad += bool(missing)
    print(f'bundle {bundles}: ' + ', '.join(ids) + (f'  MISSING {missing}' if missing else ''))
    at += 24
print(f'{bundles} bundles, {bundles - bad} with every target of {want}')
sys.exit(0 if bundles > 0 and bad == 0 else 1)
PY
if [ $ADDON -eq 1 ]; then
  say "${STEPS[5]}"
  bash "$ROOT/scripts/native-jar.sh" "$OUT" --out "$OUT/jars" >&2 || die "scripts/native-jar.sh could not make the add-on jar"
  JAR=""; for f in "$OUT"/jars/phi2-native-*-linux-x86_64-hip.jar; do [ -e "$f" ] && JAR="$f" && break; done
  [ -n "$JAR" ] || die "no linux-x86_64-hip jar in $OUT/jars"
fi
# shellcheck disable=SC2016 # ${Version} is dpkg-query's field and "$(hipconfig -l)" runs inside the root: single quotes on purpose
ver() { "${IN_ROOT[@]}" dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
{
  echo "### HIP ($TARGETS) from Debian sid's ROCm packages, $(date -u +%Y-%m-%d)"
  echo
  echo "- command: \`scripts/verify-hip-build.sh --targets $TARGETS --jobs $JOBS\` on $(nproc) cores ($(uname -m))"
  echo "- llama.cpp: $(sed -n 's/.*"llamaCppVersion": "\([^"]*\)".*/\1/p' "$OUT/manifest.json") commit $(sed -n 's/.*"llamaCppCommit": "\([^"]*\)".*/\1/p' "$OUT/manifest.json")"
  # shellcheck disable=SC2016 # "$(hipconfig -l)" runs inside the root, so it is passed unexpanded
  echo "- toolchain: hipcc $(ver hipcc), libamdhip64-dev $(ver libamdhip64-dev), libhipblas-dev $(ver libhipblas-dev), librocblas-dev $(ver librocblas-dev), $("${IN_ROOT[@]}" bash -c '"$(hipconfig -l)/clang" --version | sed -n 1p')"
  echo "- compile: $BUILD_S s for $STEPS_N build steps (configure included); whole script $(( $(date +%s) - START_ALL )) s"
  # shellcheck disable=SC2012 # ls -l is read for sizes of files this script named itself (no odd names)
  echo "- sizes: $(cd "$OUT" && ls -l --block-size=1 ./*.so* | awk '$1 ~ /^-/ {printf "%s %.1f MB, ", $9, $5/1e6}' | sed 's/, $//')"
  echo "- code objects: $(tail -1 "$OUT/bundles.txt"); first bundle: $(head -1 "$OUT/bundles.txt" | cut -d: -f2-)"
  [ $ADDON -eq 1 ] && echo "- add-on jar: $(basename "$JAR"), $(stat -c %s "$JAR" | awk '{printf "%.1f MB", $1/1e6}')"
} | tee "$OUT/verify.md"
say "verified: $OUT (bundle listing in $OUT/bundles.txt)"
