#!/usr/bin/env bash
# Builds phi2j's native engine (native/: a JNI library over llama.cpp's C API) together with llama.cpp from the
# pinned source (cmake/versions.cmake) for one backend, and installs it into native/build/<preset>/ with a
# manifest.json. Checks prerequisites first and says exactly what is missing; prints every command it runs.
#
# Usage: scripts/build-native.sh PRESET [options]
#   PRESET               this machine's CPU, and one GPU backend linked in: cpu | cuda | vulkan | hip (MI250 and
#                        MI300) | hip-gfx90a (MI210/MI250) | hip-gfx942 (MI300)
#                        portable, for any x86-64 (every CPU variant as a module, what phi2-native ships), with one
#                        GPU backend module added: portable | portable-cuda | portable-hip | portable-vulkan
#   --compiler C         auto (default), clang or gcc for the host code. auto: the newest clang++-N (or clang++) for
#                        the CPU and Vulkan presets (1.3x GCC 12's prompt speed here), GCC for CUDA (nvcc's default
#                        host compiler); HIP presets always use ROCm's clang
#   --backend-only       portable-cuda|hip|vulkan: build and install only the GPU backend module (libggml-cuda.so ...),
#                        the add-on for a portable engine (default --out native/build/PRESET-backend); with
#                        --with-tools, llama-bench runs on the CPU modules of --cpu-modules DIR (default:
#                        native/build/portable), copied beside it
#   --llama-src DIR      a llama.cpp git checkout at the pinned tree (default: the cached copy, else fetched)
#   --llama-src-listing F  --llama-src is a trimmed copy without git: F is the pinned tree's `git ls-tree -r` listing,
#                        whose tree hash must be the pinned one and which every file in DIR must match (python3)
#   --src-cache DIR      where a fetched source is kept (default: $PHI2_CACHE_DIR/src, else ~/.cache/phi2j/src)
#   --with-tools         also build llama.cpp's llama-bench and llama-batched-bench from the same tree
#   --sanitize           also build the C++ test under AddressSanitizer in the same tree (cmake/phi2j_engine_test_asan)
#   --gpu-targets LIST   HIP gfx targets (gfx90a,gfx942) or CUDA architectures (80,90) instead of the preset's
#   --rocm-path DIR      ROCm installation (default: $ROCM_PATH, else /opt/rocm)
#   --vulkan-sdk DIR     Vulkan toolchain (glslc, headers) for the Vulkan presets (default: $VULKAN_SDK, else the
#                        system's; scripts/vulkan-sdk.sh makes one from Debian sid where the system's glslc is too old)
#   --jobs N             parallel build jobs (default: all cores)
#   --out DIR            install folder (default: native/build/PRESET)
#   --fetch-only         get and check the source, print its folder, build nothing
#   --dry-run            print the checks, the source route and the commands without running anything
#   -- ARG...            more CMake arguments for the configure step (-DNAME=VALUE)
# The source, by the first route that works (each ends at the same files, checked by git tree hash):
#   1. --llama-src DIR   2. the cache   3. the npm package node-llama-cpp (a git bundle; both sha256 checked)
#   4. git clone of the upstream tag.
# Then: phi2 generate --engine native ... (the cpu build is found by itself; others with --lib native/build/PRESET)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
usage() { sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "build-native: $*" >&2; exit 2; }
say() { echo "build-native: $*" >&2; }

# The pins, read from their one place.
pin() { sed -n "s/^set($1 *\"\([^\"]*\)\".*/\1/p" "$ROOT/cmake/versions.cmake"; }
LLAMA_VERSION="$(pin PHI2J_LLAMA_CPP_VERSION)"; LLAMA_TAG="$(pin PHI2J_LLAMA_CPP_TAG)"; LLAMA_GIT="$(pin PHI2J_LLAMA_CPP_GIT)"
LLAMA_TREE="$(pin PHI2J_LLAMA_CPP_TREE)"; NPM_PACKAGE="$(pin PHI2J_NPM_PACKAGE)"; NPM_SHA="$(pin PHI2J_NPM_SHA256)"
NPM_BUNDLE="$(pin PHI2J_NPM_BUNDLE)"; NPM_BUNDLE_SHA="$(pin PHI2J_NPM_BUNDLE_SHA256)"
if [ -z "$LLAMA_TREE" ] || [ -z "$NPM_SHA" ]; then die "cannot read the pins from $ROOT/cmake/versions.cmake"; fi

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
PRESET="$1"; shift
case "$PRESET" in
  cpu|portable|hip|hip-gfx90a|hip-gfx942|cuda|vulkan|portable-cuda|portable-hip|portable-vulkan) ;;
  *) die "unknown preset '$PRESET' (choose cpu, cuda, vulkan, hip, hip-gfx90a, hip-gfx942, portable, portable-cuda, portable-hip, portable-vulkan)" ;;
esac
# the GPU backend a preset builds: none, cuda, hip or vulkan
case "$PRESET" in
  cpu|portable) GPU=none ;;
  hip*|portable-hip) GPU=hip ;;
  cuda|portable-cuda) GPU=cuda ;;
  vulkan|portable-vulkan) GPU=vulkan ;;
esac

TARGETS=""; ROCM="${ROCM_PATH:-/opt/rocm}"; LSRC=""; LISTING=""; JOBS="$(nproc 2>/dev/null || echo 2)"; DRY=0; OUT=""; TOOLS=0; FETCH_ONLY=0; SANITIZE=0
COMPILER=auto; BACKEND_ONLY=0; VKSDK="${VULKAN_SDK:-}"; CPU_MODULES=""; EXTRA_CMAKE=()
CACHE="${PHI2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phi2j}/src"
[ -n "${PHI2_CACHE_DIR:-}" ] && CACHE="$PHI2_CACHE_DIR/src"
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu-targets) [ $# -ge 2 ] || die "--gpu-targets needs a list"; TARGETS="$2"; shift 2 ;;
    --rocm-path) [ $# -ge 2 ] || die "--rocm-path needs a folder"; ROCM="$2"; shift 2 ;;
    --llama-src) [ $# -ge 2 ] || die "--llama-src needs a folder"; LSRC="$2"; shift 2 ;;
    --llama-src-listing) [ $# -ge 2 ] || die "--llama-src-listing needs a file"; LISTING="$2"; shift 2 ;;
    --src-cache) [ $# -ge 2 ] || die "--src-cache needs a folder"; CACHE="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --compiler) [ $# -ge 2 ] || die "--compiler needs auto, clang or gcc"; COMPILER="$2"; shift 2 ;;
    --backend-only) BACKEND_ONLY=1; shift ;;
    --vulkan-sdk) [ $# -ge 2 ] || die "--vulkan-sdk needs a folder"; VKSDK="$2"; shift 2 ;;
    --cpu-modules) [ $# -ge 2 ] || die "--cpu-modules needs a folder"; CPU_MODULES="$2"; shift 2 ;;
    --with-tools) TOOLS=1; shift ;;
    --sanitize) SANITIZE=1; shift ;;
    --fetch-only) FETCH_ONLY=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --) shift; EXTRA_CMAKE=("$@"); break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"
case "$COMPILER" in auto|clang|gcc) ;; *) die "--compiler must be auto, clang or gcc, not '$COMPILER'" ;; esac
case "$GPU" in
  hip) [ "$COMPILER" != gcc ] || die "--compiler gcc does not apply to $PRESET: HIP code is compiled by ROCm's clang" ;;
esac
if [ $BACKEND_ONLY -eq 1 ]; then
  case "$PRESET" in portable-*) ;; *) die "--backend-only builds a module for the portable engine: use portable-cuda, portable-hip or portable-vulkan, not $PRESET" ;; esac
  [ $SANITIZE -eq 0 ] || die "--backend-only builds the GPU module alone: --sanitize does not apply"
  if [ $TOOLS -eq 1 ]; then
    [ -n "$CPU_MODULES" ] || CPU_MODULES="$ROOT/native/build/portable"
    ls "$CPU_MODULES"/libggml-cpu-*.so >/dev/null 2>&1 || die "--with-tools with --backend-only runs llama-bench on a portable engine's CPU modules: none in $CPU_MODULES (build scripts/build-native.sh portable, or pass --cpu-modules DIR)"
  fi
fi
[ -z "$CPU_MODULES" ] || [ $BACKEND_ONLY -eq 1 ] || die "--cpu-modules goes with --backend-only --with-tools"
case "$GPU" in
  hip) [ -z "$TARGETS" ] || [[ "$TARGETS" =~ ^gfx[0-9a-f]+(,gfx[0-9a-f]+)*$ ]] || die "--gpu-targets for HIP are gfx names such as gfx90a,gfx942, not '$TARGETS'" ;;
  cuda) [ -z "$TARGETS" ] || [[ "$TARGETS" =~ ^[0-9]+[a-z]?(,[0-9]+[a-z]?)*$ ]] || die "--gpu-targets for CUDA are architectures such as 80,90, not '$TARGETS'" ;;
  *) [ -z "$TARGETS" ] || die "--gpu-targets does not apply to the $PRESET preset" ;;
esac
[ -z "$LSRC" ] || [ -d "$LSRC" ] || die "--llama-src folder '$LSRC' does not exist"
[ -z "$LISTING" ] || [ -n "$LSRC" ] || die "--llama-src-listing describes the folder given with --llama-src; give both"
[ -z "$LISTING" ] || [ -f "$LISTING" ] || die "--llama-src-listing file '$LISTING' does not exist"

# --- prerequisites: every missing piece is named, then a real run stops ---
MISSING=()
need() { MISSING+=("$1"); }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | sed -n 1p)" = "$2" ]; }
if command -v cmake >/dev/null 2>&1; then
  CMV="$(cmake --version | sed -n 1p | awk '{print $3}')"
  version_ge "$CMV" "3.21" || need "CMake 3.21 or newer (found $CMV)"
else
  need "cmake (3.21 or newer): apt-get install cmake"
fi
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || need "a C++17 compiler (g++ or clang++)"
if [ -n "$LISTING" ]; then
  command -v python3 >/dev/null 2>&1 || need "python3 (to check the trimmed source against --llama-src-listing)"
else
  command -v git >/dev/null 2>&1 || need "git (to check the source's tree hash): apt-get install git"
fi
JH="${JAVA_HOME:-}"
if [ -z "$JH" ] && command -v javac >/dev/null 2>&1; then JH="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"; fi
# a GPU module alone has no JNI code; the engine needs jni.h
[ $BACKEND_ONLY -eq 1 ] || { [ -n "$JH" ] && [ -f "$JH/include/jni.h" ]; } || need "a JDK with include/jni.h (set JAVA_HOME)"
case "$GPU" in
  hip)
    # AMD's ROCm keeps its clang in $ROCM/llvm/bin; a distribution's ROCm (Debian: --rocm-path /usr) says where
    # through hipconfig -l. CMake packages live in lib/cmake, or in lib/<multiarch>/cmake on Debian.
    HIP_BIN="$ROCM/llvm/bin"
    if [ ! -x "$HIP_BIN/clang++" ] && [ -x "$ROCM/bin/hipconfig" ]; then HIP_BIN="$("$ROCM/bin/hipconfig" -l 2>/dev/null || echo "$HIP_BIN")"; fi
    [ -x "$ROCM/bin/hipcc" ] || [ -x "$HIP_BIN/clang++" ] || need "ROCm's HIP compiler: no hipcc in $ROCM/bin (install ROCm 6.x, or pass --rocm-path DIR / set ROCM_PATH)"
    CMAKE_DIRS=("$ROCM/lib/cmake" "$ROCM/lib64/cmake" "$ROCM/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/cmake")
    has_pkg() { local d; for d in "${CMAKE_DIRS[@]}"; do [ -d "$d/$1" ] && return 0; done; return 1; }
    has_pkg hip || has_pkg hip-lang || need "ROCm's CMake packages: no $ROCM/lib/cmake/hip (install the rocm-dev / hip-dev packages; Debian: libamdhip64-dev)"
    has_pkg hipblas || need "hipBLAS: no $ROCM/lib/cmake/hipblas (install hipblas-dev; Debian: libhipblas-dev)" ;;
  cuda) command -v nvcc >/dev/null 2>&1 || need "nvcc (the CUDA toolkit) on PATH" ;;
  vulkan)
    # llama.cpp 0.5.0's shaders need a glslc with cooperative matrices (shaderc 2024 or newer; bookworm has 2023.2)
    GLSLC="glslc"; [ -n "$VKSDK" ] && GLSLC="$VKSDK/bin/glslc"
    [ -z "$VKSDK" ] || [ -d "$VKSDK" ] || die "--vulkan-sdk folder '$VKSDK' does not exist (scripts/vulkan-sdk.sh makes one)"
    if ! command -v "$GLSLC" >/dev/null 2>&1; then
      need "glslc (shaderc) on PATH, or a Vulkan SDK folder (--vulkan-sdk DIR; scripts/vulkan-sdk.sh makes one)"
    elif ! printf '#version 450\n#extension GL_KHR_cooperative_matrix : require\nlayout(local_size_x = 1) in;\nvoid main() {}\n' \
        | "$GLSLC" -fshader-stage=compute --target-env=vulkan1.3 -o /dev/null - >/dev/null 2>&1; then
      need "a glslc that knows GL_KHR_cooperative_matrix ($("$GLSLC" --version 2>/dev/null | sed -n 1p) does not): scripts/vulkan-sdk.sh makes a Vulkan SDK folder from Debian sid's, then --vulkan-sdk DIR"
    fi
    [ -n "$VKSDK" ] || pkg-config --exists vulkan 2>/dev/null || need "the Vulkan headers and loader (libvulkan-dev)"
    SPIRV=0
    for d in /usr/share/cmake/SPIRV-Headers /usr/lib/cmake/SPIRV-Headers /usr/local/share/cmake/SPIRV-Headers ${VKSDK:+"$VKSDK"/share/cmake/SPIRV-Headers}; do
      [ -d "$d" ] && SPIRV=1
    done
    [ $SPIRV -eq 1 ] || need "the SPIR-V headers' CMake package (spirv-headers, or a Vulkan SDK folder)" ;;
esac

# --- the host compiler: clang where it is available (ggml's CPU kernels run 1.32x faster built by clang 16 than by
# GCC 12 on this project's machine), GCC for CUDA (nvcc's default host compiler), ROCm's clang for HIP ---
newest_clang() { # prints the newest clang++-N on PATH (or clang++), empty when none
  local v
  for v in 25 24 23 22 21 20 19 18 17 16 15 14; do command -v "clang++-$v" >/dev/null 2>&1 && { echo "clang++-$v"; return; }; done
  command -v clang++ >/dev/null 2>&1 && echo clang++
}
CC_NAME=""; CXX_NAME=""; COMPILER_NOTE=""
case "$GPU" in
  hip) COMPILER_NOTE="ROCm's clang (HIP)" ;;
  *)
    WANT="$COMPILER"
    if [ "$WANT" = auto ]; then
      if [ "$GPU" = cuda ]; then WANT=gcc; else WANT=clang; fi
    fi
    if [ "$WANT" = clang ]; then
      CXX_NAME="$(newest_clang)"
      if [ -z "$CXX_NAME" ]; then
        if [ "$COMPILER" = clang ]; then
          need "clang (--compiler clang): apt-get install clang-16 libomp-16-dev"
        else
          COMPILER_NOTE="GCC (no clang found; apt-get install clang-16 libomp-16-dev for the faster CPU build)"
          WANT=gcc
        fi
      else
        CC_NAME="${CXX_NAME/clang++/clang}"
        command -v "$CC_NAME" >/dev/null 2>&1 || need "$CC_NAME (the C compiler beside $CXX_NAME)"
        COMPILER_NOTE="$CXX_NAME ($("$CXX_NAME" --version 2>/dev/null | sed -n 1p))"
        if [[ "$PRESET" != portable* ]] && ! echo 'int main(void){return 0;}' | "$CC_NAME" -fopenmp -x c - -o /dev/null 2>/dev/null; then
          COMPILER_NOTE="$COMPILER_NOTE, without OpenMP (no OpenMP runtime for it: apt-get install libomp-${CXX_NAME##*-}-dev)"
        fi
      fi
    fi
    if [ "$WANT" = gcc ]; then
      command -v g++ >/dev/null 2>&1 || need "g++ (--compiler gcc): apt-get install g++"
      CC_NAME=gcc; CXX_NAME=g++
      [ -n "$COMPILER_NOTE" ] || COMPILER_NOTE="g++ ($(g++ --version 2>/dev/null | sed -n 1p))"
    fi ;;
esac

# --- the source ---
tree_of() { git -C "$1" rev-parse 'HEAD^{tree}' 2>/dev/null; }
CACHED="$CACHE/llama.cpp-$LLAMA_VERSION-${LLAMA_TREE:0:12}"
SOURCE_FAILURES=()
check_listing() { # DIR LABEL: a trimmed copy whose every file matches the listing of the pinned tree
  local t; t="$(python3 "$ROOT/scripts/source_listing.py" tree "$LISTING")" || { SOURCE_FAILURES+=("$2: unreadable listing $LISTING"); return 1; }
  if [ "$t" != "$LLAMA_TREE" ]; then SOURCE_FAILURES+=("$2: listing $LISTING describes tree $t, not the pinned $LLAMA_TREE"); return 1; fi
  local out; out="$(python3 "$ROOT/scripts/source_listing.py" verify "$LISTING" "$1" 2>&1)" || { SOURCE_FAILURES+=("$2: $out"); return 1; }
  say "checked $out files of $1 against the pinned tree's listing"
}
check_tree() { # DIR LABEL: the folder holds exactly the pinned files
  if [ -n "$LISTING" ]; then check_listing "$@"; return; fi
  local t; t="$(tree_of "$1")"
  if [ "$t" != "$LLAMA_TREE" ]; then SOURCE_FAILURES+=("$2: tree ${t:-none} is not the pinned $LLAMA_TREE"); return 1; fi
  if [ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    SOURCE_FAILURES+=("$2: has local modifications (git status)"); return 1
  fi
}
from_npm() { # into $CACHED, through a private temporary folder
  command -v npm >/dev/null 2>&1 || { SOURCE_FAILURES+=("npm: not installed (apt-get install npm)"); return 1; }
  local tmp; tmp="$(mktemp -d)" || return 1
  say "fetching $NPM_PACKAGE from the npm registry"
  if ! (cd "$tmp" && npm pack --silent "$NPM_PACKAGE" >/dev/null 2>"$tmp/npm.err"); then
    SOURCE_FAILURES+=("npm pack $NPM_PACKAGE failed: $(tail -1 "$tmp/npm.err")"); rm -rf "$tmp"; return 1
  fi
  local tgz="" f; for f in "$tmp"/*.tgz; do [ -f "$f" ] && tgz="$f" && break; done
  if [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$NPM_SHA" ]; then
    SOURCE_FAILURES+=("npm: $(basename "$tgz") does not have the pinned sha256 $NPM_SHA"); rm -rf "$tmp"; return 1
  fi
  tar -xzf "$tgz" -C "$tmp" "$NPM_BUNDLE" || { SOURCE_FAILURES+=("npm: no $NPM_BUNDLE in the package"); rm -rf "$tmp"; return 1; }
  if [ "$(sha256sum "$tmp/$NPM_BUNDLE" | cut -d' ' -f1)" != "$NPM_BUNDLE_SHA" ]; then
    SOURCE_FAILURES+=("npm: the bundle does not have the pinned sha256 $NPM_BUNDLE_SHA"); rm -rf "$tmp"; return 1
  fi
  git clone -q "$tmp/$NPM_BUNDLE" "$tmp/llama.cpp" 2>/dev/null || { SOURCE_FAILURES+=("npm: git clone of the bundle failed"); rm -rf "$tmp"; return 1; }
  check_tree "$tmp/llama.cpp" "npm bundle" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$CACHE" && rm -rf "$CACHED" && mv "$tmp/llama.cpp" "$CACHED"; local rc=$?
  rm -rf "$tmp"; return $rc
}
from_git() {
  local tmp; tmp="$(mktemp -d)" || return 1
  say "cloning $LLAMA_GIT at $LLAMA_TAG"
  if ! GIT_TERMINAL_PROMPT=0 timeout 300 git clone -q --depth 1 --branch "$LLAMA_TAG" "$LLAMA_GIT" "$tmp/llama.cpp" 2>"$tmp/git.err"; then
    SOURCE_FAILURES+=("git clone $LLAMA_GIT $LLAMA_TAG failed: $(tail -1 "$tmp/git.err")"); rm -rf "$tmp"; return 1
  fi
  check_tree "$tmp/llama.cpp" "git tag $LLAMA_TAG" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$CACHE" && rm -rf "$CACHED" && mv "$tmp/llama.cpp" "$CACHED"; local rc=$?
  rm -rf "$tmp"; return $rc
}
SRC=""
if [ -n "$LSRC" ]; then
  ROUTE="--llama-src $LSRC"
  if [ $DRY -eq 0 ]; then
    check_tree "$LSRC" "--llama-src $LSRC" && SRC="$(cd "$LSRC" && pwd)"
  fi
elif [ -d "$CACHED" ]; then
  ROUTE="cache $CACHED"
  [ $DRY -eq 1 ] || { check_tree "$CACHED" "cache $CACHED" && SRC="$CACHED"; }
else
  ROUTE="fetch into $CACHED (npm $NPM_PACKAGE, else git $LLAMA_TAG)"
fi
if [ -z "$OUT" ]; then
  OUT="$ROOT/native/build/$PRESET"
  [ $BACKEND_ONLY -eq 1 ] && OUT="$OUT-backend"
fi
mkdir -p "$(dirname "$OUT")" 2>/dev/null || true
OUT="$(cd "$(dirname "$OUT")" 2>/dev/null && pwd)/$(basename "$OUT")"

ARGS=(-S "$ROOT/native" -B "$OUT/cmake" -C "$ROOT/cmake/presets/$PRESET.cmake" -DCMAKE_BUILD_TYPE=Release
      "-DPHI2J_INSTALL_DIR=$OUT" "-DPHI2J_PRESET=$PRESET" "-DPHI2J_LLAMA_SOURCE_DIR=${SRC:-$CACHED}")
command -v ninja >/dev/null 2>&1 && ARGS=(-G Ninja "${ARGS[@]}")
[ $TOOLS -eq 1 ] && ARGS+=(-DPHI2J_BUILD_TOOLS=ON)
[ $SANITIZE -eq 1 ] && ARGS+=(-DPHI2J_SANITIZE=ON)
# a module alone needs no CPU backend of its own (and in a module build every CPU variant would otherwise be built)
[ $BACKEND_ONLY -eq 1 ] && ARGS+=(-DPHI2J_BACKEND_ONLY=ON -DGGML_CPU=OFF -DGGML_CPU_ALL_VARIANTS=OFF)
if [ -n "$CXX_NAME" ]; then
  # full paths: CMake compares them as strings, and a tree configured with another one must start anew (below)
  CC_NAME="$(command -v "$CC_NAME" || echo "$CC_NAME")"; CXX_NAME="$(command -v "$CXX_NAME" || echo "$CXX_NAME")"
  ARGS+=("-DCMAKE_C_COMPILER=$CC_NAME" "-DCMAKE_CXX_COMPILER=$CXX_NAME")
  [ "$GPU" = cuda ] && ARGS+=("-DCMAKE_CUDA_HOST_COMPILER=$CXX_NAME")
fi
if [ -n "$TARGETS" ]; then
  case "$GPU" in
    hip) ARGS+=("-DAMDGPU_TARGETS=${TARGETS//,/;}" "-DGPU_TARGETS=${TARGETS//,/;}") ;;
    cuda) ARGS+=("-DCMAKE_CUDA_ARCHITECTURES=${TARGETS//,/;}") ;;
  esac
fi
case "$GPU" in
  hip) ARGS+=("-DROCM_PATH=$ROCM" "-DCMAKE_C_COMPILER=$HIP_BIN/clang" "-DCMAKE_CXX_COMPILER=$HIP_BIN/clang++"
               "-DCMAKE_HIP_COMPILER=$HIP_BIN/clang++") ;;
esac
for a in "${EXTRA_CMAKE[@]}"; do
  [[ "$a" == -D* ]] || die "arguments after -- are CMake definitions (-DNAME=VALUE), not '$a'"
  ARGS+=("$a")
done
BUILD_TARGETS=(phi2j_install)
[ $TOOLS -eq 1 ] && BUILD_TARGETS+=(phi2j_tools)
[ $SANITIZE -eq 1 ] && BUILD_TARGETS+=(phi2j_engine_test_asan)

quote() { local out=""; for a in "$@"; do if [[ "$a" =~ [[:space:]\;\$] ]]; then out+=" '$a'"; else out+=" $a"; fi; done; echo "${out# }"; }
CONFIGURE="$(quote cmake "${ARGS[@]}")"
BUILD="$(quote cmake --build "$OUT/cmake" --target "${BUILD_TARGETS[@]}" --parallel "$JOBS")"

if [ ${#MISSING[@]} -gt 0 ]; then
  say "missing for the $PRESET preset:"
  for m in "${MISSING[@]}"; do echo "  - $m" >&2; done
  if [ $DRY -eq 0 ]; then exit 1; fi
  say "(dry run: the commands below would fail until these are installed)"
fi
if [ $DRY -eq 1 ]; then
  say "llama.cpp $LLAMA_VERSION (tree $LLAMA_TREE) from: $ROUTE"
  say "host compiler: $COMPILER_NOTE"
  echo "$CONFIGURE"
  echo "$BUILD"
  exit 0
fi
if [ -z "$SRC" ] && [ -z "$LSRC" ]; then
  # nothing cached, or a cached copy that fails its check: fetch anew (either route replaces the cache)
  from_npm || from_git && SRC="$CACHED"
fi
if [ -z "$SRC" ]; then
  say "no route gave llama.cpp $LLAMA_VERSION at tree $LLAMA_TREE:"
  for f in "${SOURCE_FAILURES[@]}"; do echo "  - $f" >&2; done
  echo "  Pass a checkout of $LLAMA_TAG with --llama-src DIR (git clone --branch $LLAMA_TAG $LLAMA_GIT)." >&2
  exit 1
fi
say "llama.cpp $LLAMA_VERSION source: $SRC (tree $LLAMA_TREE)"
say "host compiler: $COMPILER_NOTE"
if [ $FETCH_ONLY -eq 1 ]; then echo "$SRC"; exit 0; fi
CONFIGURE="$(quote cmake "${ARGS[@]/#-DPHI2J_LLAMA_SOURCE_DIR=*/-DPHI2J_LLAMA_SOURCE_DIR=$SRC}")"
echo "$CONFIGURE"
echo "$BUILD"
[ -n "$JH" ] && export JAVA_HOME="$JH"
case "$GPU" in
  hip) export HIPCXX="$HIP_BIN/clang" HIP_PATH="$ROCM" ;;
  vulkan) if [ -n "$VKSDK" ]; then
            VULKAN_SDK="$(cd "$VKSDK" && pwd)"; export VULKAN_SDK
            say "Vulkan SDK: $VULKAN_SDK ($("$VULKAN_SDK/bin/glslc" --version 2>&1 | sed -n 1p))"
          fi ;;
esac
START=$(date +%s)
# a tree configured with another compiler cannot switch in place (CMake would drop its cache half-way): start it anew
if [ -n "$CXX_NAME" ] && [ -f "$OUT/cmake/CMakeCache.txt" ]; then
  OLD_CXX="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$OUT/cmake/CMakeCache.txt")"
  if [ -n "$OLD_CXX" ] && [ "$OLD_CXX" != "$CXX_NAME" ]; then
    say "$OUT/cmake was configured with $OLD_CXX, not $CXX_NAME: configuring it anew"
    rm -rf "$OUT/cmake"
  fi
fi
eval "$CONFIGURE" || { say "configuring failed (see above)"; exit 1; }
eval "$BUILD" || { say "building failed (see above)"; exit 1; }
if [ $BACKEND_ONLY -eq 1 ] && [ $TOOLS -eq 1 ]; then
  cp "$CPU_MODULES"/libggml-cpu-*.so "$OUT/cmake/bin/" || { say "cannot copy the CPU modules of $CPU_MODULES beside the tools"; exit 1; }
  say "llama-bench runs on the CPU modules of $CPU_MODULES (copied into $OUT/cmake/bin)"
fi
if [ $BACKEND_ONLY -eq 1 ]; then
  say "installed $OUT/libggml-$GPU.so (the add-on for a portable engine; scripts/native-jar.sh $OUT makes its jar) in $(( $(date +%s) - START )) s"
else
  say "installed $OUT/$(sed -n 's/.*"library": "\(.*\)".*/\1/p' "$OUT/manifest.json") with $OUT/manifest.json in $(( $(date +%s) - START )) s"
fi
[ $TOOLS -eq 1 ] && say "llama.cpp's benchmarks from the same build: $OUT/cmake/bin/llama-bench, $OUT/cmake/bin/llama-batched-bench"
say "check it with: $ROOT/phi2 devices --lib $OUT   and   $ROOT/phi2 generate --engine native --lib $OUT -m MODEL.gguf -p Hello -n 8"
