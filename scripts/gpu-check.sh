#!/usr/bin/env bash
# The GPU check as one command, for a Linux machine with an NVIDIA GPU and the CUDA toolkit (or an AMD GPU and ROCm,
# --backend hip), cmake and ninja, and no network and perhaps no JDK. Everything else comes in a kit that
# --prepare makes on a machine with network: the pinned llama.cpp source (trimmed, checked file by file against the
# pinned tree's listing), a small Java runtime, the project's jars and Phi-2's tokenizer files.
#
# Usage: scripts/gpu-check.sh --prepare DIR          make the kit in DIR (under 60 MiB), here
#        scripts/gpu-check.sh [options]               run the check from the repository root, on the GPU machine
#   --kit DIR          the kit (default: gpu-kit)
#   --backend B        cuda (default) or hip; cpu runs the same pipeline on the CPU build, as a smoke run
#   --shape S          phi2 (default: Phi-2's real dimensions) or tiny (a smoke run's small model)
#   --reuse-build      keep an existing build of the backend instead of building it again
#   --targets LIST     CUDA architectures (default: 90) or HIP gfx targets (default: gfx90a,gfx942)
#   --out DIR          results folder (default: results/gpu-check-<host>-<date>)
#   --work DIR         scratch for the source, the build's models and logs (default: /tmp/phi2j-gpu-check)
#   --jobs N           compile jobs (default: all cores)
#   --rounds N         interleaved benchmark rounds (default: 2)
#   --dry-run          print each step and its commands without running anything
# Steps: 1 build the native engine with llama-bench from the kit's source; 2 phi2 devices (a GPU must show);
# 3 a Phi-2-shaped model with random weights, F16, Q8_0 and Q4_K_M; 4 phi2 verify, GPU against CPU, on each;
# 5 phi2 bench -ngl 99 interleaved with the same build's llama-bench, pp512 and tg128; then results.md,
# results.json and bench.png (with gpu-check.log) in the results folder.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "gpu-check: $*" >&2; exit 2; }
say() { echo "gpu-check: $*" >&2; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
KIT_LIMIT=$((60 * 1024 * 1024))

PREPARE=""; KIT="gpu-kit"; BACKEND="cuda"; TARGETS=""; OUT=""; WORK="/tmp/phi2j-gpu-check"
JOBS="$(nproc 2>/dev/null || echo 2)"; ROUNDS=2; DRY=0; SHAPE=phi2; REUSE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) [ $# -ge 2 ] || die "--prepare needs a folder"; PREPARE="$2"; shift 2 ;;
    --kit) [ $# -ge 2 ] || die "--kit needs a folder"; KIT="$2"; shift 2 ;;
    --backend) [ $# -ge 2 ] || die "--backend needs cuda or hip"; BACKEND="$2"; shift 2 ;;
    --targets) [ $# -ge 2 ] || die "--targets needs a list"; TARGETS="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --work) [ $# -ge 2 ] || die "--work needs a folder"; WORK="$2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; ROUNDS="$2"; shift 2 ;;
    --shape) [ $# -ge 2 ] || die "--shape needs phi2 or tiny"; SHAPE="$2"; shift 2 ;;
    --reuse-build) REUSE=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$BACKEND" in
  cuda) TARGETS="${TARGETS:-90}"; [[ "$TARGETS" =~ ^[0-9]+[a-z]?(,[0-9]+[a-z]?)*$ ]] || die "--targets for cuda are architectures such as 90 or 80,90, not '$TARGETS'" ;;
  hip) TARGETS="${TARGETS:-gfx90a,gfx942}"; [[ "$TARGETS" =~ ^gfx[0-9a-f]+(,gfx[0-9a-f]+)*$ ]] || die "--targets for hip are gfx names such as gfx90a,gfx942, not '$TARGETS'" ;;
  cpu) [ -z "$TARGETS" ] || die "--targets does not apply to the cpu backend" ;;
  *) die "--backend must be cuda, hip or cpu, not '$BACKEND'" ;;
esac
case "$SHAPE" in phi2|tiny) ;; *) die "--shape must be phi2 or tiny, not '$SHAPE'" ;; esac
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number, not '$ROUNDS'"

pin() { sed -n "s/^set($1 *\"\([^\"]*\)\".*/\1/p" "$ROOT/cmake/versions.cmake"; }
LLAMA_TREE="$(pin PHI2J_LLAMA_CPP_TREE)"; LLAMA_VERSION="$(pin PHI2J_LLAMA_CPP_VERSION)"
# What the build reads of the pinned tree; the rest (docs, model vocabularies, tests, examples) stays behind.
SOURCE_PATHS=(CMakeLists.txt CMakePresets.json LICENSE cmake common ggml include licenses src tools vendor)
JAVA_MODULES="java.base,java.desktop,java.logging,java.net.http,java.management,java.sql,jdk.unsupported"

# ---------------------------------------------------------------- the kit, made where the network is
if [ -n "$PREPARE" ]; then
  SRC="$(bash "$ROOT/scripts/build-native.sh" cpu --fetch-only 2>/dev/null | tail -1)"
  JLINK="${JAVA_HOME:+$JAVA_HOME/bin/}jlink"
  STEPS=(
    "1. the project's jars: mvn -q -B -DskipTests package -pl java/bench -am (reused when newer than the sources)"
    "2. a Java runtime: $JLINK --add-modules $JAVA_MODULES --strip-debug --no-man-pages --compress=2, packed as jre.tar.xz"
    "3. the pinned llama.cpp $LLAMA_VERSION from ${SRC:-the cache or npm (build-native.sh --fetch-only)}: git archive of ${SOURCE_PATHS[*]} as llama.cpp.tar.xz, and git ls-tree -r of the whole tree as llama.cpp.listing"
    "4. Phi-2's tokenizer and config files from ${PHI2_SHARED_DATA:-../shared/data}/phi-2 into data/phi-2"
    "5. bin/phi2 (the CLI on the kit's runtime) and kit.json; the kit must stay under $((KIT_LIMIT / 1024 / 1024)) MiB"
  )
  if [ $DRY -eq 1 ]; then for s in "${STEPS[@]}"; do echo "prepare $s"; done; exit 0; fi
  [ -n "$SRC" ] && [ -d "$SRC/.git" ] || die "cannot get the pinned llama.cpp source (run scripts/build-native.sh cpu --fetch-only to see why)"
  command -v "$JLINK" >/dev/null 2>&1 || die "jlink not found: a JDK 17+ is needed to prepare the kit (set JAVA_HOME)"
  command -v xz >/dev/null 2>&1 || die "xz not found: apt-get install xz-utils"
  DATA="${PHI2_SHARED_DATA:-$ROOT/../shared/data}/phi-2"
  [ -f "$DATA/tokenizer.json" ] || die "no Phi-2 tokenizer in $DATA (set PHI2_SHARED_DATA)"
  mkdir -p "$(dirname "$PREPARE")" || die "cannot create $(dirname "$PREPARE")"
  TMP="$(mktemp -d "$(dirname "$PREPARE")/.gpu-kit.XXXXXX")" || die "cannot create a temporary folder beside $PREPARE"
  trap 'rm -rf "$TMP"' EXIT
  say "${STEPS[0]}"
  JAR="$ROOT/java/bench/target/phi2-bench-0.1.0-SNAPSHOT.jar"
  if [ ! -f "$JAR" ] || [ -n "$(find "$ROOT"/pom.xml "$ROOT"/java/*/pom.xml "$ROOT"/java/*/src/main -newer "$JAR" -type f -print -quit)" ]; then
    (cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -DskipTests package -pl java/bench -am) >&2 || die "the Maven build failed"
  fi
  mkdir -p "$TMP/lib" "$TMP/bin" "$TMP/data/phi-2"
  cp "$JAR" "$ROOT"/java/bench/target/lib/*.jar "$TMP/lib/" || die "cannot copy the jars"
  # The binding's jar carries libjllama for seven platforms; the kit needs Linux x86-64's (ggml's quantizers).
  for j in "$TMP"/lib/llama-*.jar; do
    zip -q -d "$j" 'de/kherud/llama/Linux/aarch64/*' 'de/kherud/llama/Linux-Android/*' 'de/kherud/llama/Mac/*' 'de/kherud/llama/Windows/*' >/dev/null 2>&1 \
      || python3 - "$j" <<'PY' || die "cannot slim $j"
import sys, zipfile, os
src = sys.argv[1]; tmp = src + '.tmp'
keep = lambda n: not n.startswith(('de/kherud/llama/Linux/aarch64/', 'de/kherud/llama/Linux-Android/', 'de/kherud/llama/Mac/', 'de/kherud/llama/Windows/'))
with zipfile.ZipFile(src) as a, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as b:
    for i in a.infolist():
        if keep(i.filename):
            b.writestr(i, a.read(i.filename))
os.replace(tmp, src)
PY
  done
  say "${STEPS[1]}"
  "$JLINK" --add-modules "$JAVA_MODULES" --strip-debug --no-man-pages --compress=2 --output "$TMP/jre" || die "jlink failed"
  tar -C "$TMP" -cf - jre | xz -6 -T0 > "$TMP/jre.tar.xz" && rm -rf "$TMP/jre" || die "cannot pack the runtime"
  say "${STEPS[2]}"
  git -C "$SRC" ls-tree -r --full-tree HEAD > "$TMP/llama.cpp.listing" || die "cannot list $SRC"
  [ "$(python3 "$ROOT/scripts/source_listing.py" tree "$TMP/llama.cpp.listing")" = "$LLAMA_TREE" ] || die "$SRC is not the pinned tree $LLAMA_TREE"
  git -C "$SRC" archive --format=tar HEAD "${SOURCE_PATHS[@]}" | xz -6 -T0 > "$TMP/llama.cpp.tar.xz" || die "cannot pack the source"
  say "${STEPS[3]}"
  for f in config.json tokenizer.json tokenizer_config.json vocab.json merges.txt added_tokens.json special_tokens_map.json \
           generation_config.json model.safetensors.index.json LICENSE NOTICE.md; do
    [ -f "$DATA/$f" ] && cp "$DATA/$f" "$TMP/data/phi-2/"
  done
  say "${STEPS[4]}"
  cat > "$TMP/bin/phi2" <<'SH'
#!/usr/bin/env bash
# phi2 on the kit's own Java runtime (unpacked by gpu-check.sh into $PHI2_KIT_JRE).
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "${PHI2_KIT_JRE:?run through scripts/gpu-check.sh, which unpacks the runtime}/bin/java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  -Dphi2.home="${PHI2_HOME:-$PWD}" -cp "$KIT/lib/*" phi2j.cli.Main "$@"
SH
  chmod +x "$TMP/bin/phi2"
  printf '{\n  "llamaCppVersion": "%s",\n  "llamaCppTree": "%s",\n  "commit": "%s",\n  "prepared": "%s",\n  "javaModules": "%s"\n}\n' \
    "$LLAMA_VERSION" "$LLAMA_TREE" "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$JAVA_MODULES" > "$TMP/kit.json"
  SIZE=$(du -sb "$TMP" | cut -f1)
  [ "$SIZE" -le "$KIT_LIMIT" ] || die "the kit is $((SIZE / 1024 / 1024)) MiB, over the $((KIT_LIMIT / 1024 / 1024)) MiB limit"
  rm -rf "$PREPARE" && mv "$TMP" "$PREPARE" || die "cannot move the kit into $PREPARE"
  trap - EXIT
  say "kit ready: $PREPARE, $((SIZE / 1024 / 1024)) MiB ($SIZE bytes); on the GPU machine: scripts/gpu-check.sh --kit $PREPARE"
  exit 0
fi

# ---------------------------------------------------------------- the check, on the GPU machine
[ -n "$OUT" ] || OUT="$ROOT/results/gpu-check-$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M)"
[ ! -d "$KIT" ] || KIT="$(cd "$KIT" && pwd)"
BUILD="$ROOT/native/build/$BACKEND"
JRE="$WORK/jre"
PHI2="$KIT/bin/phi2"
M="$WORK/models"
MODELS=("$M/synthetic-phi2-f16.gguf" "$M/synthetic-phi2-q8_0.gguf" "$M/synthetic-phi2-q4_k_m.gguf")
CP="$KIT/lib/*"
STEPS=(
  "1. build: bash scripts/build-native.sh $BACKEND --llama-src $WORK/llama.cpp --llama-src-listing $KIT/llama.cpp.listing --with-tools ${TARGETS:+--gpu-targets $TARGETS }--jobs $JOBS --out $BUILD$([ $REUSE -eq 1 ] && echo " (skipped when $BUILD has a manifest and llama-bench)")"
  "2. devices: $PHI2 devices --lib $BUILD --json > $WORK/devices.json ($([ "$BACKEND" = cpu ] && echo "the CPU must be listed" || echo "a GPU device must be listed"))"
  "3. models: PHI2=$PHI2 PHI2_SHAPE=$SHAPE PHI2_MODELS_DIR=$M PHI2_SHARED_DATA=$KIT/data bash scripts/make-phi2-shaped.sh (F16, then Q8_0 and Q4_K_M)"
  "4. verify: for each model, $PHI2 verify -m MODEL --lib $BUILD -ngl 99 --positions 4 --json > $WORK/verify-TYPE.json"
  "5. bench: $JRE/bin/java -cp '$CP' phi2j.bench.EngineComparison --build $BUILD --phi2 $PHI2 --models $(IFS=,; echo "${MODELS[*]}") --pp 512 --tg 128 --ngl 99 --rounds $ROUNDS --reps 3 --json $WORK/bench.json --plot $OUT/bench.png > $WORK/bench.md"
  "6. results: phi2j.bench.GpuCheckReport writes $OUT/results.md, $OUT/results.json, $OUT/bench.png, $OUT/gpu-check.log"
)
if [ $DRY -eq 1 ]; then
  echo "0. unpack: $KIT/jre.tar.xz into $WORK (JAVA_HOME=$JRE), $KIT/llama.cpp.tar.xz into $WORK/llama.cpp"
  for s in "${STEPS[@]}"; do echo "$s"; done
  exit 0
fi
[ -f "$KIT/kit.json" ] || die "no kit in '$KIT': make one with scripts/gpu-check.sh --prepare $KIT on a machine with network, and bring it along"
for t in cmake ninja python3 xz; do command -v $t >/dev/null 2>&1 || die "$t is needed on this machine"; done
case "$BACKEND" in
  cpu) ;;
  cuda)
    command -v nvcc >/dev/null 2>&1 || die "nvcc (the CUDA toolkit) is not on PATH"
    # ggml's CUDA backend links cuBLAS; some images carry nvcc without it (PyTorch's nvidia-cublas wheel has its own)
    CUDA_HOME_GUESS="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    if ! ls "$CUDA_HOME_GUESS"/include/cublas_v2.h "$CUDA_HOME_GUESS"/targets/*/include/cublas_v2.h >/dev/null 2>&1; then
      WHEEL="$(python3 -c 'import nvidia.cublas, os; print(list(nvidia.cublas.__path__)[0])' 2>/dev/null || true)"
      die "no cuBLAS headers beside nvcc in $CUDA_HOME_GUESS: install the CUDA toolkit's cuBLAS (libcublas-dev)${WHEEL:+; a cuBLAS wheel is at $WHEEL (include/, lib/), which this script does not wire in}"
    fi ;;
  hip) [ -x "${ROCM_PATH:-/opt/rocm}/bin/hipconfig" ] || die "no ROCm in ${ROCM_PATH:-/opt/rocm} (set ROCM_PATH)" ;;
esac
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
unpack() {
  rm -rf "$JRE" "$WORK/llama.cpp" && mkdir -p "$WORK/llama.cpp" \
    && tar -C "$WORK" -xJf "$KIT/jre.tar.xz" && tar -C "$WORK/llama.cpp" -xJf "$KIT/llama.cpp.tar.xz" && "$JRE/bin/java" -version
}
step unpack unpack
export JAVA_HOME="$JRE" PHI2_KIT_JRE="$JRE" PHI2_HOME="$ROOT"
if [ $REUSE -eq 1 ] && [ -f "$BUILD/manifest.json" ] && [ -x "$BUILD/cmake/bin/llama-bench" ]; then
  say "build: reusing $BUILD"
else
  step build bash "$ROOT/scripts/build-native.sh" "$BACKEND" --llama-src "$WORK/llama.cpp" --llama-src-listing "$KIT/llama.cpp.listing" \
    --with-tools ${TARGETS:+--gpu-targets "$TARGETS"} --jobs "$JOBS" --out "$BUILD"
fi
WANT_DEVICE='"type": "GPU"'; [ "$BACKEND" = cpu ] && WANT_DEVICE='"type": "CPU"'
devices() { "$PHI2" devices --lib "$BUILD" --json > "$WORK/devices.json" && grep -q "$WANT_DEVICE" "$WORK/devices.json"; }
step devices devices
rm -rf "$M"
step models env PHI2="$PHI2" PHI2_SHAPE="$SHAPE" PHI2_TYPES="Q8_0 Q4_K_M" PHI2_MODELS_DIR="$M" PHI2_SHARED_DATA="$KIT/data" bash "$ROOT/scripts/make-phi2-shaped.sh"
VERDICTS=()
for m in "${MODELS[@]}"; do
  t="$(basename "$m" .gguf)"; t="${t#synthetic-phi2-}"
  # a FAIL (exit 1) is a result, not a broken step: it is reported below
  verify() { "$PHI2" verify -m "$1" --lib "$BUILD" -ngl 99 --positions 4 --json > "$WORK/verify-$2.json"; local rc=$?; [ $rc -le 1 ]; }
  step "verify $t" verify "$m" "$t"
  VERDICTS+=("$t")
done
bench() {
  "$JRE/bin/java" -cp "$CP" phi2j.bench.EngineComparison --build "$BUILD" --phi2 "$PHI2" --models "$(IFS=,; echo "${MODELS[*]}")" \
    --pp 512 --tg 128 --ngl 99 --rounds "$ROUNDS" --reps 3 --json "$WORK/bench.json" --plot "$OUT/bench.png" > "$WORK/bench.md"
}
step bench bench

# ---------------------------------------------------------------- results
GPU="$(sed -n 's/.*"description": "\(.*\)",/\1/p' "$WORK/devices.json" | grep -v -i cpu | head -1)"
{
  echo "# phi2j GPU check: $BACKEND${TARGETS:+ ($TARGETS)} on ${GPU:-an unnamed device}"
  echo
  echo "$(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || sed -n 's/.*"commit": "\(.......\).*/\1/p' "$KIT/kit.json"), llama.cpp $LLAMA_VERSION, $(nproc) cores; whole check $(( $(date +%s) - START )) s"
  echo
  echo "| step | seconds |"; echo "| --- | --: |"
  for k in unpack build devices models "${VERDICTS[@]/#/verify }" bench; do echo "| $k | ${SECONDS_OF[$k]:-} |"; done
  echo
  echo "## phi2 verify, -ngl 99 against the CPU backend (-ngl 0), same file"
  echo
  echo "| model | verdict | positions | top-1 agreement | worst abs dp (limit) | mean KL (limit) |"; echo "| --- | --- | --: | --: | --: | --: |"
  for t in "${VERDICTS[@]}"; do "$JRE/bin/java" -cp "$CP" phi2j.bench.GpuCheckReport row "$t" "$WORK/verify-$t.json"; done
  echo
  echo "## Throughput, phi2 bench against llama-bench of the same build, interleaved ($ROUNDS rounds x 3 repetitions)"
  echo
  cat "$WORK/bench.md"
} > "$OUT/results.md"
VFILES=(); for t in "${VERDICTS[@]}"; do VFILES+=("$WORK/verify-$t.json"); done
"$JRE/bin/java" -cp "$CP" phi2j.bench.GpuCheckReport json "$WORK/devices.json" "$WORK/bench.json" "${VFILES[@]}" > "$OUT/results.json"
cat "$OUT/results.md"
say "results in $OUT"
grep -q '"verdict": "FAIL"' "$WORK"/verify-*.json && { say "phi2 verify FAILED on at least one model: see $OUT/results.md"; exit 1; }
exit 0
