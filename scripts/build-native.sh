#!/usr/bin/env bash
# Builds libjllama (the JNI library de.kherud:llama 4.2.0 loads) for a GPU or CPU backend and installs it into
# native/build/<preset>/ with a manifest. Checks prerequisites first and says exactly what is missing; prints
# every command it runs (--dry-run prints them and stops).
#
# Usage: scripts/build-native.sh PRESET [options]
#   PRESET               cpu | hip | hip-gfx90a (MI210/MI250) | hip-gfx942 (MI300) | cuda | vulkan
#   --gpu-targets LIST   HIP gfx targets (gfx90a,gfx942) or CUDA architectures (80,90) instead of the preset's
#   --rocm-path DIR      ROCm installation (default: $ROCM_PATH or /opt/rocm)
#   --jllama-src DIR     local java-llama.cpp v4.2.0 checkout (default: clone the pinned tag)
#   --llama-src DIR      local llama.cpp b4916 checkout (default: java-llama.cpp fetches it)
#   --json-src DIR       local nlohmann/json v3.11.3 checkout (default: fetched)
#   --jobs N             parallel build jobs (default: all cores)
#   --out DIR            install folder (default: native/build/PRESET)
#   --dry-run            print the checks and commands without running anything
# Then: phi2 devices --lib native/build/PRESET   and   phi2 generate --lib native/build/PRESET -ngl -1 ...
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "build-native: $*" >&2; exit 2; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
PRESET="$1"; shift
case "$PRESET" in
  cpu|hip|hip-gfx90a|hip-gfx942|cuda|vulkan) ;;
  *) die "unknown preset '$PRESET' (choose cpu, hip, hip-gfx90a, hip-gfx942, cuda, vulkan)" ;;
esac

TARGETS=""; ROCM="${ROCM_PATH:-/opt/rocm}"; JSRC=""; LSRC=""; JSONSRC=""; JOBS="$(nproc 2>/dev/null || echo 2)"; DRY=0; OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu-targets) [ $# -ge 2 ] || die "--gpu-targets needs a list"; TARGETS="$2"; shift 2 ;;
    --rocm-path) [ $# -ge 2 ] || die "--rocm-path needs a folder"; ROCM="$2"; shift 2 ;;
    --jllama-src) [ $# -ge 2 ] || die "--jllama-src needs a folder"; JSRC="$2"; shift 2 ;;
    --llama-src) [ $# -ge 2 ] || die "--llama-src needs a folder"; LSRC="$2"; shift 2 ;;
    --json-src) [ $# -ge 2 ] || die "--json-src needs a folder"; JSONSRC="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"
case "$PRESET" in
  hip*) [ -z "$TARGETS" ] || [[ "$TARGETS" =~ ^gfx[0-9a-f]+(,gfx[0-9a-f]+)*$ ]] || die "--gpu-targets for HIP are gfx names such as gfx90a,gfx942, not '$TARGETS'" ;;
  cuda) [ -z "$TARGETS" ] || [[ "$TARGETS" =~ ^[0-9]+[a-z]?(,[0-9]+[a-z]?)*$ ]] || die "--gpu-targets for CUDA are architectures such as 80,90, not '$TARGETS'" ;;
  *) [ -z "$TARGETS" ] || die "--gpu-targets does not apply to the $PRESET preset" ;;
esac
for d in "$JSRC" "$LSRC" "$JSONSRC"; do
  [ -z "$d" ] || [ -d "$d" ] || die "source folder '$d' does not exist"
done

# --- prerequisites: every missing piece is named, then a real run stops ---
MISSING=()
need() { MISSING+=("$1"); }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
if command -v cmake >/dev/null 2>&1; then
  CMV="$(cmake --version | head -1 | awk '{print $3}')"
  version_ge "$CMV" "3.21" || need "CMake 3.21 or newer (found $CMV)"
else
  need "cmake (3.21 or newer): apt-get install cmake"
fi
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || need "a C++17 compiler (g++ or clang++)"
JH="${JAVA_HOME:-}"
if [ -z "$JH" ] && command -v javac >/dev/null 2>&1; then JH="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"; fi
[ -n "$JH" ] && [ -f "$JH/include/jni.h" ] || need "a JDK with include/jni.h (set JAVA_HOME)"
[ -n "$JSRC" ] || command -v git >/dev/null 2>&1 || need "git (or pass --jllama-src with a local java-llama.cpp checkout)"
case "$PRESET" in
  hip*)
    [ -x "$ROCM/bin/hipcc" ] || [ -x "$ROCM/llvm/bin/clang++" ] || need "ROCm's HIP compiler: no hipcc in $ROCM/bin (install ROCm 6.x, or pass --rocm-path DIR / set ROCM_PATH)"
    [ -d "$ROCM/lib/cmake/hip" ] || [ -d "$ROCM/lib/cmake/hip-lang" ] || need "ROCm's CMake packages: no $ROCM/lib/cmake/hip (install the rocm-dev / hip-dev packages)"
    [ -d "$ROCM/lib/cmake/hipblas" ] || need "hipBLAS: no $ROCM/lib/cmake/hipblas (install hipblas-dev)" ;;
  cuda) command -v nvcc >/dev/null 2>&1 || need "nvcc (the CUDA toolkit) on PATH" ;;
  vulkan)
    command -v glslc >/dev/null 2>&1 || need "glslc (shaderc) on PATH"
    pkg-config --exists vulkan 2>/dev/null || need "the Vulkan headers and loader (libvulkan-dev)" ;;
esac

[ -n "$OUT" ] || OUT="$ROOT/native/build/$PRESET"
mkdir -p "$(dirname "$OUT")" 2>/dev/null || true
OUT="$(cd "$(dirname "$OUT")" 2>/dev/null && pwd)/$(basename "$OUT")"
ARGS=(-S "$ROOT/native" -B "$OUT/cmake" -C "$ROOT/cmake/presets/$PRESET.cmake" -DCMAKE_BUILD_TYPE=Release "-DPHI2J_INSTALL_DIR=$OUT")
if [ -n "$TARGETS" ]; then
  case "$PRESET" in
    hip*) ARGS+=("-DAMDGPU_TARGETS=${TARGETS//,/;}" "-DGPU_TARGETS=${TARGETS//,/;}") ;;
    cuda) ARGS+=("-DCMAKE_CUDA_ARCHITECTURES=${TARGETS//,/;}") ;;
  esac
fi
case "$PRESET" in
  hip*) ARGS+=("-DROCM_PATH=$ROCM" "-DCMAKE_C_COMPILER=$ROCM/llvm/bin/clang" "-DCMAKE_CXX_COMPILER=$ROCM/llvm/bin/clang++") ;;
esac
[ -z "$JSRC" ] || ARGS+=("-DPHI2J_JLLAMA_SOURCE_DIR=$(cd "$JSRC" && pwd)")
[ -z "$LSRC" ] || ARGS+=("-DPHI2J_LLAMA_CPP_SOURCE_DIR=$(cd "$LSRC" && pwd)")
[ -z "$JSONSRC" ] || ARGS+=("-DPHI2J_JSON_SOURCE_DIR=$(cd "$JSONSRC" && pwd)")

quote() { local out=""; for a in "$@"; do if [[ "$a" =~ [[:space:]\;\$] ]]; then out+=" '$a'"; else out+=" $a"; fi; done; echo "${out# }"; }
CONFIGURE="$(quote cmake "${ARGS[@]}")"
BUILD="$(quote cmake --build "$OUT/cmake" --parallel "$JOBS")"

if [ ${#MISSING[@]} -gt 0 ]; then
  echo "build-native: missing for the $PRESET preset:" >&2
  for m in "${MISSING[@]}"; do echo "  - $m" >&2; done
  if [ $DRY -eq 0 ]; then exit 1; fi
  echo "build-native: (dry run: the commands below would fail until these are installed)" >&2
fi
echo "$CONFIGURE"
echo "$BUILD"
[ $DRY -eq 1 ] && exit 0
[ -n "$JH" ] && export JAVA_HOME="$JH"
eval "$CONFIGURE" || { echo "build-native: configuring failed (see above)" >&2; exit 1; }
eval "$BUILD" || { echo "build-native: building failed (see above)" >&2; exit 1; }
echo "build-native: installed $(ls "$OUT"/*jllama* 2>/dev/null | head -1) with $OUT/manifest.json" >&2
echo "build-native: check it with: $ROOT/phi2 devices --lib $OUT" >&2
