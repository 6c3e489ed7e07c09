#!/usr/bin/env bash
# shellcheck disable=SC2317 # the functions below run through step(), which shellcheck cannot follow: they are reached
# The GPU check as one command, for a Linux x86-64 machine with an NVIDIA GPU and the CUDA toolkit (or an AMD GPU and
# ROCm, --backend hip; or any Vulkan driver, --backend vulkan), cmake and ninja, no network and perhaps no JDK. It
# checks what a user of the phi2-native jars gets: the GPU backend module built from the pinned source alone
# (scripts/build-native.sh portable-BACKEND --backend-only), turned into its add-on jar (scripts/native-jar.sh) and
# dropped into the CLI package's lib/, beside the portable engine; then phi2 runs from that package. Everything else
# comes in a kit that --prepare makes on a machine with network: the CLI package (scripts/package.sh: a Java runtime,
# the jars, the portable engine), the bench tools' jar, the pinned llama.cpp source (trimmed, checked file by file
# against the pinned tree's listing) and Phi-2's tokenizer files.
#
# Usage: scripts/gpu-check.sh --prepare DIR          make the kit in DIR (under 63 MiB: the device tool carries 64), here
#        scripts/gpu-check.sh [options]               run the check from the repository root, on the GPU machine
#   --kit DIR          the kit (default: gpu-kit)
#   --backend B        cuda (default), hip or vulkan; cpu runs the same pipeline with no GPU module, as a smoke run
#   --shape S          phi2 (default: Phi-2's real dimensions) or tiny (a smoke run's small model)
#   --types LIST       the model types (default: F16,Q8_0,Q4_K_M)
#   --reuse-build      keep an existing build of the module instead of building it again
#   --targets LIST     CUDA architectures (default: 90) or HIP gfx targets (default: gfx90a,gfx942)
#   --tools DIR        llama-bench's folder for --backend cpu (default: native/build/cpu/cmake/bin)
#   --out DIR          results folder (default: results/gpu-check-<host>-<date>)
#   --work DIR         scratch for the package, the source, the models and logs (default: /tmp/phi2j-gpu-check)
#   --jobs N           compile jobs (default: all cores)
#   --rounds N         interleaved benchmark rounds (default: 2)
#   --package FILE     with --prepare: this CLI package instead of making one (scripts/package.sh)
#   --dry-run          print each step and its commands without running anything
# Steps: 1 the GPU module and llama-bench from the kit's source; 2 the module's add-on jar into the package's lib/;
# 3 phi2 devices (a GPU device line must show); 4 Phi-2-shaped models with random weights; 5 phi2 verify, GPU against
# CPU, on each (every layer must run on the GPU), and a control that must FAIL on the numbers (two tiny models with
# different weights); 6 phi2 bench -ngl 99 interleaved with llama-bench of the same module, pp512 and tg128; then
# results.md, results.json and bench.png (with gpu-check.log) in the results folder. --backend cpu verifies each
# quantized model against the F16 one instead (a CPU has no GPU to compare) and benches with -ngl 0. The check exits
# 0 when every model PASSes and the control FAILs, 1 when a model FAILs, 2 when a step gave no result.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "gpu-check: $*" >&2; exit 2; }
say() { echo "gpu-check: $*" >&2; }
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
KIT_LIMIT=$((63 * 1024 * 1024))

PREPARE=""; PACKAGE=""; KIT="gpu-kit"; BACKEND="cuda"; TARGETS=""; OUT=""; WORK="/tmp/phi2j-gpu-check"; TOOLS=""
JOBS="$(nproc 2>/dev/null || echo 2)"; ROUNDS=2; DRY=0; SHAPE=phi2; REUSE=0; TYPES="F16,Q8_0,Q4_K_M"
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) [ $# -ge 2 ] || die "--prepare needs a folder"; PREPARE="$2"; shift 2 ;;
    --kit) [ $# -ge 2 ] || die "--kit needs a folder"; KIT="$2"; shift 2 ;;
    --package) [ $# -ge 2 ] || die "--package needs a file"; PACKAGE="$2"; shift 2 ;;
    --backend) [ $# -ge 2 ] || die "--backend needs cuda, hip, vulkan or cpu"; BACKEND="$2"; shift 2 ;;
    --targets) [ $# -ge 2 ] || die "--targets needs a list"; TARGETS="$2"; shift 2 ;;
    --tools) [ $# -ge 2 ] || die "--tools needs a folder"; TOOLS="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --work) [ $# -ge 2 ] || die "--work needs a folder"; WORK="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; ROUNDS="$2"; shift 2 ;;
    --shape) [ $# -ge 2 ] || die "--shape needs phi2 or tiny"; SHAPE="$2"; shift 2 ;;
    --types) [ $# -ge 2 ] || die "--types needs a list"; TYPES="$2"; shift 2 ;;
    --reuse-build) REUSE=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$BACKEND" in
  cuda) TARGETS="${TARGETS:-90}"; [[ "$TARGETS" =~ ^[0-9]+[a-z]?(,[0-9]+[a-z]?)*$ ]] || die "--targets for cuda are architectures such as 90 or 80,90, not '$TARGETS'" ;;
  hip) TARGETS="${TARGETS:-gfx90a,gfx942}"; [[ "$TARGETS" =~ ^gfx[0-9a-f]+(,gfx[0-9a-f]+)*$ ]] || die "--targets for hip are gfx names such as gfx90a,gfx942, not '$TARGETS'" ;;
  vulkan|cpu) [ -z "$TARGETS" ] || die "--targets does not apply to the $BACKEND backend" ;;
  *) die "--backend must be cuda, hip, vulkan or cpu, not '$BACKEND'" ;;
esac
[ -z "$PACKAGE" ] || [ -n "$PREPARE" ] || die "--package goes with --prepare"
[ -z "$TOOLS" ] || [ "$BACKEND" = cpu ] || die "--tools is for --backend cpu (a GPU backend builds its own llama-bench)"
case "$SHAPE" in phi2|tiny) ;; *) die "--shape must be phi2 or tiny, not '$SHAPE'" ;; esac
[[ "$TYPES" =~ ^[A-Z0-9_]+(,[A-Z0-9_]+)*$ ]] || die "--types is a list such as F16,Q8_0,Q4_K_M, not '$TYPES'"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number, not '$ROUNDS'"

pin() { sed -n "s/^set($1 *\"\([^\"]*\)\".*/\1/p" "$ROOT/cmake/versions.cmake"; }
LLAMA_TREE="$(pin PHI2J_LLAMA_CPP_TREE)"; LLAMA_VERSION="$(pin PHI2J_LLAMA_CPP_VERSION)"
VERSION="$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' "$ROOT/pom.xml")"
# What the build reads of the pinned tree; the rest (docs, model vocabularies, tests, examples) stays behind.
SOURCE_PATHS=(CMakeLists.txt CMakePresets.json LICENSE cmake common ggml include licenses src tools vendor)

# ---------------------------------------------------------------- the kit, made where the network is
if [ -n "$PREPARE" ]; then
  SRC="$(bash "$ROOT/scripts/build-native.sh" cpu --fetch-only 2>/dev/null | tail -1)"
  STEPS=(
    "1. the CLI package: scripts/package.sh (a Java runtime, the CLI's jars, the portable engine's jar), kept as it is"
    "2. the bench tools: java/bench's jar (EngineComparison, GpuCheckReport), after mvn -q -B -DskipTests package -pl java/bench -am"
    "3. the pinned llama.cpp $LLAMA_VERSION from ${SRC:-the cache or npm (build-native.sh --fetch-only)}: git archive of ${SOURCE_PATHS[*]} as llama.cpp.tar.xz, and git ls-tree -r of the whole tree as llama.cpp.listing"
    "4. Phi-2's tokenizer and config files from ${PHI2_SHARED_DATA:-../shared/data}/phi-2 into data/phi-2"
    "5. kit.json; the kit must stay under $((KIT_LIMIT / 1024 / 1024)) MiB"
  )
  if [ $DRY -eq 1 ]; then for s in "${STEPS[@]}"; do echo "prepare $s"; done; exit 0; fi
  { [ -n "$SRC" ] && [ -d "$SRC/.git" ]; } || die "cannot get the pinned llama.cpp source (run scripts/build-native.sh cpu --fetch-only to see why)"
  command -v xz >/dev/null 2>&1 || die "xz not found: apt-get install xz-utils"
  DATA="${PHI2_SHARED_DATA:-$ROOT/../shared/data}/phi-2"
  [ -f "$DATA/tokenizer.json" ] || die "no Phi-2 tokenizer in $DATA (set PHI2_SHARED_DATA)"
  mkdir -p "$(dirname "$PREPARE")" || die "cannot create $(dirname "$PREPARE")"
  TMP="$(mktemp -d "$(dirname "$PREPARE")/.gpu-kit.XXXXXX")" || die "cannot create a temporary folder beside $PREPARE"
  trap 'rm -rf "$TMP"' EXIT
  say "${STEPS[0]}"
  if [ -n "$PACKAGE" ]; then
    [ "$(basename "$PACKAGE")" = "phi2j-$VERSION-linux-x86_64.tar.gz" ] || die "--package $PACKAGE is not phi2j-$VERSION-linux-x86_64.tar.gz"
    cp "$PACKAGE" "$TMP/" || die "cannot copy $PACKAGE"
  else
    bash "$ROOT/scripts/package.sh" --out "$TMP" >/dev/null || die "scripts/package.sh failed"
  fi
  say "${STEPS[1]}"
  (cd "$ROOT" && MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true" mvn -q -B -ntp -Dstyle.color=never -DskipTests -Dmaven.javadoc.skip=true \
     -Dmaven.source.skip=true package -pl java/bench -am) >&2 || die "the Maven build failed"
  cp "$ROOT/java/bench/target/phi2-bench-$VERSION.jar" "$TMP/phi2-bench.jar" || die "no bench jar"
  say "${STEPS[2]}"
  git -C "$SRC" ls-tree -r --full-tree HEAD > "$TMP/llama.cpp.listing" || die "cannot list $SRC"
  [ "$(python3 "$ROOT/scripts/source_listing.py" tree "$TMP/llama.cpp.listing")" = "$LLAMA_TREE" ] || die "$SRC is not the pinned tree $LLAMA_TREE"
  git -C "$SRC" archive --format=tar HEAD "${SOURCE_PATHS[@]}" | xz -6 -T0 > "$TMP/llama.cpp.tar.xz" || die "cannot pack the source"
  say "${STEPS[3]}"
  mkdir -p "$TMP/data/phi-2"
  for f in config.json tokenizer.json tokenizer_config.json vocab.json merges.txt added_tokens.json special_tokens_map.json \
           generation_config.json model.safetensors.index.json LICENSE NOTICE.md; do
    [ -f "$DATA/$f" ] && cp "$DATA/$f" "$TMP/data/phi-2/"
  done
  say "${STEPS[4]}"
  printf '{\n  "version": "%s",\n  "llamaCppVersion": "%s",\n  "llamaCppTree": "%s",\n  "commit": "%s",\n  "prepared": "%s"\n}\n' \
    "$VERSION" "$LLAMA_VERSION" "$LLAMA_TREE" "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$TMP/kit.json"
  SIZE=$(du -sb "$TMP" | cut -f1)
  [ "$SIZE" -le "$KIT_LIMIT" ] || die "the kit is $((SIZE / 1024 / 1024)) MiB, over the $((KIT_LIMIT / 1024 / 1024)) MiB limit"
  { rm -rf "$PREPARE" && mv "$TMP" "$PREPARE"; } || die "cannot move the kit into $PREPARE"
  trap - EXIT
  say "kit ready: $PREPARE, $((SIZE / 1024 / 1024)) MiB ($SIZE bytes); on the GPU machine: scripts/gpu-check.sh --kit $PREPARE"
  exit 0
fi

# ---------------------------------------------------------------- the check, on the GPU machine
[ -n "$OUT" ] || OUT="$ROOT/results/gpu-check-$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M)"
# absolute paths: the steps run phi2 from inside the work folder
OUT="$(realpath -m "$OUT")"; WORK="$(realpath -m "$WORK")"; KIT="$(realpath -m "$KIT")"
NAME="phi2j-$VERSION-linux-x86_64"
DIST="$WORK/$NAME"
PHI2="$DIST/bin/phi2"
BUILD="$ROOT/native/build/portable-$BACKEND-backend"
[ "$BACKEND" = cpu ] && BUILD=""
BENCH_TOOLS="$(realpath -m "${TOOLS:-$ROOT/native/build/cpu/cmake/bin}")"; [ -n "$BUILD" ] && BENCH_TOOLS="$BUILD/cmake/bin"
M="$WORK/models"
MODELS=(); for t in ${TYPES//,/ }; do MODELS+=("$M/synthetic-phi2-$(echo "$t" | tr '[:upper:]' '[:lower:]').gguf"); done
QUANTS="$(echo "${TYPES//,/ }" | sed 's/\bF16\b//' | xargs)"
CP="$DIST/lib/*:$KIT/phi2-bench.jar"
# a GPU backend: every model with -ngl 99 against itself on the CPU; the CPU smoke run: each model against the F16 one
if [ "$BACKEND" = cpu ]; then NGL=(); VERIFY_ARGS=(--against "$M/synthetic-phi2-f16.gguf"); BENCH_NGL=0; ALL_LAYERS=()
else NGL=(-ngl 99); VERIFY_ARGS=(-ngl 99); BENCH_NGL=99; ALL_LAYERS=(--all-layers); fi
STEPS=(
  "1. build: $([ -n "$BUILD" ] && echo "bash scripts/build-native.sh portable-$BACKEND --backend-only --with-tools --cpu-modules $WORK/cpu --llama-src $WORK/llama.cpp --llama-src-listing $KIT/llama.cpp.listing ${TARGETS:+--gpu-targets $TARGETS }--jobs $JOBS --out $BUILD$([ $REUSE -eq 1 ] && echo " (skipped when $BUILD has a manifest and llama-bench)")" || echo "none: the package's portable engine on the CPU, llama-bench from $BENCH_TOOLS")"
  "2. add-on: $([ -n "$BUILD" ] && echo "bash scripts/native-jar.sh $BUILD --out $DIST/lib (the linux-x86_64-$BACKEND jar beside the engine's, as a user adds it)" || echo "none")"
  "3. devices: $PHI2 devices --json > $WORK/devices.json ($([ "$BACKEND" = cpu ] && echo "the CPU must be listed" || echo "a GPU device must be listed"))"
  "4. models: PHI2=$PHI2 PHI2_SHAPE=$SHAPE PHI2_TYPES='$QUANTS' PHI2_MODELS_DIR=$M PHI2_SHARED_DATA=$KIT/data bash scripts/make-phi2-shaped.sh"
  "5. verify: for each model, $PHI2 verify -m MODEL ${VERIFY_ARGS[*]} --positions 4 --json > $WORK/verify-TYPE.json, its verdict read by GpuCheckReport verdict$([ "$BACKEND" != cpu ] && echo " --all-layers"); control: $PHI2 synth --shape tiny --seed 1 and --seed 2, then verify -m seed2 --against seed1 ${NGL[*]} must FAIL"
  "6. bench: $DIST/runtime/bin/java -cp '$CP' phi2j.bench.EngineComparison --tools $BENCH_TOOLS --phi2 $PHI2 --models $(IFS=,; echo "${MODELS[*]}") --pp 512 --tg 128 --ngl $BENCH_NGL --rounds $ROUNDS --reps 3 --json $WORK/bench.json --plot $OUT/bench.png > $WORK/bench.md"
  "7. results: phi2j.bench.GpuCheckReport writes $OUT/results.md, $OUT/results.json, $OUT/bench.png, $OUT/gpu-check.log"
)
if [ $DRY -eq 1 ]; then
  echo "0. unpack: $KIT/$NAME.tar.gz into $WORK, $KIT/llama.cpp.tar.xz into $WORK/llama.cpp, the portable engine's CPU modules into $WORK/cpu"
  for s in "${STEPS[@]}"; do echo "$s"; done
  exit 0
fi
[ -f "$KIT/kit.json" ] || die "no kit in '$KIT': make one with scripts/gpu-check.sh --prepare $KIT on a machine with network, and bring it along"
[ -f "$KIT/$NAME.tar.gz" ] || die "the kit $KIT has no $NAME.tar.gz (made for another version?): prepare it again"
for t in cmake ninja python3 xz; do command -v $t >/dev/null 2>&1 || die "$t is needed on this machine"; done
mkdir -p "$OUT" "$WORK" || die "cannot create $OUT or $WORK"
LOG="$OUT/gpu-check.log"
: > "$LOG"
START=$(date +%s)
declare -A SECONDS_OF
step() { # NAME COMMAND...: runs it with its output in the log, times it, stops the check on failure
  local name="$1"; shift
  local t0; t0=$(date +%s)
  say "$name ($(( $(date +%s) - START )) s so far)"
  echo "== $name: $*" >> "$LOG"
  if ! "$@" >> "$LOG" 2>&1; then tail -40 "$LOG" >&2; die "step '$name' failed (log: $LOG)"; fi
  SECONDS_OF[$name]=$(( $(date +%s) - t0 ))
}
# What this machine offers the build, in the log first: it decides what step 1 can use.
{
  echo "== machine: $(uname -srm), $(nproc) cores, $(ldd --version 2>&1 | sed -n 1p)"
  command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -2
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "cmake $(cmake --version | sed -n 1p), ninja $(ninja --version)"
} >> "$LOG" 2>&1
unpack() {
  rm -rf "$DIST" "$WORK/llama.cpp" "$WORK/cpu" && mkdir -p "$WORK/llama.cpp" "$WORK/cpu" \
    && tar -C "$WORK" -xzf "$KIT/$NAME.tar.gz" && tar -C "$WORK/llama.cpp" -xJf "$KIT/llama.cpp.tar.xz" \
    && python3 - "$DIST/lib/phi2-native-$VERSION-linux-x86_64.jar" "$WORK/cpu" <<'PY' && "$DIST/runtime/bin/java" -version
import sys, zipfile, os
# the portable engine's CPU modules, for the llama-bench built beside the GPU module
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if base.startswith("libggml-cpu-") and base.endswith(".so"):
            with open(os.path.join(sys.argv[2], base), "wb") as f:
                f.write(z.read(n))
PY
}
step unpack unpack
# the CLI runs from the package, away from the checkout (as a user's would): no PHI2_HOME, the engine from its jars
export PHI2_CACHE_DIR="$WORK/cache"
unset PHI2_HOME PHI2_NATIVE_LIB PHI2_ENGINE
case "$BACKEND" in
  cuda)
    command -v nvcc >/dev/null 2>&1 || die "nvcc (the CUDA toolkit) is not on PATH"
    # ggml's CUDA backend links cuBLAS; an image may carry nvcc without it, and PyTorch's nvidia-cublas wheel with it:
    # then a shim folder holds the wheel's headers and libraries under the names CMake looks for
    CUDA_HOME_GUESS="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    if ! ls "$CUDA_HOME_GUESS"/include/cublas_v2.h "$CUDA_HOME_GUESS"/targets/*/include/cublas_v2.h >/dev/null 2>&1; then
      WHEEL="$(python3 -c 'import nvidia.cublas, os; print(list(nvidia.cublas.__path__)[0])' 2>/dev/null || true)"
      { [ -n "$WHEEL" ] && [ -f "$WHEEL/include/cublas_v2.h" ]; } || die "no cuBLAS beside nvcc in $CUDA_HOME_GUESS and no nvidia-cublas wheel: install the CUDA toolkit's cuBLAS (libcublas-dev)"
      SHIM="$WORK/cublas-shim"
      rm -rf "$SHIM" && mkdir -p "$SHIM/lib" && ln -s "$WHEEL/include" "$SHIM/include"
      for f in "$WHEEL"/lib/libcublas*.so.*; do ln -s "$f" "$SHIM/lib/$(basename "$f")"; b="$(basename "$f")"; ln -sf "$f" "$SHIM/lib/${b%%.so.*}.so"; done
      export CPATH="$SHIM/include${CPATH:+:$CPATH}" LIBRARY_PATH="$SHIM/lib${LIBRARY_PATH:+:$LIBRARY_PATH}" LD_LIBRARY_PATH="$SHIM/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      CUDA_SHIM_ARGS=(-- "-DCUDA_cublas_LIBRARY=$SHIM/lib/libcublas.so" "-DCUDA_cublasLt_LIBRARY=$SHIM/lib/libcublasLt.so")
      say "cuBLAS from the nvidia-cublas wheel at $WHEEL (shim $SHIM)"
    fi ;;
  hip) [ -x "${ROCM_PATH:-/opt/rocm}/bin/hipconfig" ] || die "no ROCm in ${ROCM_PATH:-/opt/rocm} (set ROCM_PATH)" ;;
esac
if [ -n "$BUILD" ]; then
  if [ $REUSE -eq 1 ] && [ -f "$BUILD/manifest.json" ] && [ -x "$BUILD/cmake/bin/llama-bench" ]; then
    say "build: reusing $BUILD"
  else
    step build bash "$ROOT/scripts/build-native.sh" "portable-$BACKEND" --backend-only --with-tools --cpu-modules "$WORK/cpu" \
      --llama-src "$WORK/llama.cpp" --llama-src-listing "$KIT/llama.cpp.listing" ${TARGETS:+--gpu-targets "$TARGETS"} --jobs "$JOBS" \
      --out "$BUILD" ${CUDA_SHIM_ARGS[@]+"${CUDA_SHIM_ARGS[@]}"}
  fi
  step add-on bash "$ROOT/scripts/native-jar.sh" "$BUILD" --out "$DIST/lib" --version "$VERSION"
fi
WANT_DEVICE='"type": "GPU"'; [ "$BACKEND" = cpu ] && WANT_DEVICE='"type": "CPU"'
devices() { (cd "$WORK" && "$PHI2" devices --json) > "$WORK/devices.json" && grep -q "$WANT_DEVICE" "$WORK/devices.json"; }
step devices devices
rm -rf "$M"
step models env PHI2="$PHI2" PHI2_SHAPE="$SHAPE" PHI2_TYPES="$QUANTS" PHI2_MODELS_DIR="$M" PHI2_SHARED_DATA="$KIT/data" bash "$ROOT/scripts/make-phi2-shaped.sh"
JAVA="$DIST/runtime/bin/java"
# A verify is a result when phi2 exited 0 (PASS) or 1 (FAIL) and the JSON it wrote says the same verdict (and, on a GPU,
# that every layer ran there); anything else (a refusal, a JVM that died, an empty file) is a step that gave none.
verify() { # TYPE EXPECT MODEL ARGS...: EXPECT is PASS, or FAIL for the control
  local t="$1" expect="$2" model="$3"; shift 3
  (cd "$WORK" && "$PHI2" verify -m "$model" "$@" --positions 4 --json) > "$WORK/verify-$t.json"; local rc=$?
  [ "$rc" -le 1 ] || { echo "phi2 verify exited $rc: no result"; return 1; }
  local v; v="$("$JAVA" -cp "$CP" phi2j.bench.GpuCheckReport verdict "$WORK/verify-$t.json" ${ALL_LAYERS[@]+"${ALL_LAYERS[@]}"})"; local vrc=$?
  [ "$vrc" -le 1 ] || return 1
  [ "$vrc" -eq "$rc" ] || { echo "phi2 verify exited $rc but its JSON says $v"; return 1; }
  [ "$expect" = PASS ] || [ "$v" = FAIL ] || { echo "the control $t gave $v: this comparison cannot fail on the numbers"; return 1; }
  return 0
}
VERDICTS=()
for m in "${MODELS[@]}"; do
  t="$(basename "$m" .gguf)"; t="${t#synthetic-phi2-}"
  # a FAIL is a result, not a broken step: it is reported below
  step "verify $t" verify "$t" PASS "$m" "${VERIFY_ARGS[@]}"
  VERDICTS+=("$t")
done
# the control: two tiny models with different weights must FAIL, on the same devices
control_models() {
  (cd "$WORK" && "$PHI2" synth --shape tiny --seed 1 -o "$M/control-a.gguf" --force && "$PHI2" synth --shape tiny --seed 2 -o "$M/control-b.gguf" --force)
}
step "control models" control_models
step "verify control" verify control FAIL "$M/control-b.gguf" --against "$M/control-a.gguf" ${NGL[@]+"${NGL[@]}"}
bench() {
  (cd "$WORK" && "$DIST/runtime/bin/java" -cp "$CP" phi2j.bench.EngineComparison --tools "$BENCH_TOOLS" --phi2 "$PHI2" \
    --models "$(IFS=,; echo "${MODELS[*]}")" --pp 512 --tg 128 --ngl "$BENCH_NGL" --rounds "$ROUNDS" --reps 3 --binding false --parallel 1 \
    --json "$WORK/bench.json" --plot "$OUT/bench.png") > "$WORK/bench.md"
}
step bench bench

# ---------------------------------------------------------------- results
GPU="$(sed -n 's/.*"description": "\(.*\)",/\1/p' "$WORK/devices.json" | grep -v -i cpu | sed -n 1p)"
{
  echo "# phi2j GPU check: $BACKEND${TARGETS:+ ($TARGETS)} on ${GPU:-an unnamed device}"
  echo
  echo "$(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || sed -n 's/.*"commit": "\(.......\).*/\1/p' "$KIT/kit.json"), llama.cpp $LLAMA_VERSION, $(nproc) cores; whole check $(( $(date +%s) - START )) s"
  echo "The package's phi2 with the portable engine and the $BACKEND add-on jar built here; llama-bench built with the same module."
  echo
  echo "| step | seconds |"; echo "| --- | --: |"
  for k in unpack build add-on devices models "${VERDICTS[@]/#/verify }" "control models" "verify control" bench; do echo "| $k | ${SECONDS_OF[$k]:-} |"; done
  echo
  if [ "$BACKEND" = cpu ]; then
    echo "## phi2 verify on the CPU, each model against the F16 one; the control (different weights) must FAIL"
  else
    echo "## phi2 verify, -ngl 99 against the CPU backend (-ngl 0), same file; the control (different weights) must FAIL"
  fi
  echo
  echo "| model | verdict | layers off the CPU | positions | top-1 agreement | worst abs dp (limit) | mean KL (limit) |"
  echo "| --- | --- | --: | --: | --: | --: | --: |"
  for t in "${VERDICTS[@]}" control; do "$JAVA" -cp "$CP" phi2j.bench.GpuCheckReport row "$t" "$WORK/verify-$t.json" || exit 2; done
  echo
  echo "## Throughput, phi2 bench against llama-bench of the same module, interleaved ($ROUNDS rounds x 3 repetitions)"
  echo
  [ -s "$WORK/bench.md" ] || exit 2
  cat "$WORK/bench.md"
} > "$OUT/results.md" || die "results.md could not be written (a report step failed; log: $LOG)"
VFILES=(); for t in "${VERDICTS[@]}" control; do VFILES+=("$WORK/verify-$t.json"); done
"$JAVA" -cp "$CP" phi2j.bench.GpuCheckReport json "$WORK/devices.json" "$WORK/bench.json" "${VFILES[@]}" > "$OUT/results.json" \
  || die "results.json could not be written"
cat "$OUT/results.md"
say "results in $OUT"
# the verdict, from each file's own verdict: every model must PASS (the control's FAIL was checked in its step)
FAILS=()
for t in "${VERDICTS[@]}"; do
  v="$("$JAVA" -cp "$CP" phi2j.bench.GpuCheckReport verdict "$WORK/verify-$t.json" ${ALL_LAYERS[@]+"${ALL_LAYERS[@]}"})"; rc=$?
  [ $rc -le 1 ] || die "no verdict for $t"
  [ "$v" = PASS ] || FAILS+=("$t")
done
[ ${#FAILS[@]} -eq 0 ] || { say "phi2 verify FAILED on ${FAILS[*]}: see $OUT/results.md"; exit 1; }
say "every model PASSed and the control FAILed"
exit 0
