#!/usr/bin/env bash
# The GPU sweep for one MI250/MI300 (or NVIDIA) node on the native engine: F16, Q8_0, Q4_K_M and Q4_0, all layers on
# the GPU, pp512 and tg128, flash attention off and on: one runner, 8 parallel sequences in one runner, then one runner
# per GPU. Writes markdown, JSON and a chart into results/<host>-<date>/ and prints each tg figure next to the
# memory-bandwidth bound (MI250 1.6 TB/s per GCD, MI300X 5.3 TB/s, H100 SXM 3.35 TB/s, H200 4.8 TB/s).
#
# Usage: scripts/bench-gpu.sh --lib DIR [--device mi250|mi300x|h100|h200|BYTES_PER_S] [--gpus N] [--models-dir DIR]
#                             [--out DIR] [--repetitions N] [--dry-run]
#   --lib DIR       a native engine GPU build (scripts/build-native.sh hip-gfx90a -> native/build/hip-gfx90a)
#   --gpus N        GPUs for the one-runner-per-GPU pass (default: as many as 'phi2 devices' reports; an MI250 is 2)
#   --dry-run       print the commands without running them
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "bench-gpu: $*" >&2; exit 2; }
LIB=""; DEVICE="mi250"; GPUS=""; MODELS="${PHI2_MODELS_DIR:-$ROOT/models-gguf}"; OUT=""; REPS=5; DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) [ $# -ge 2 ] || die "--lib needs a folder"; LIB="$2"; shift 2 ;;
    --device) [ $# -ge 2 ] || die "--device needs a name"; DEVICE="$2"; shift 2 ;;
    --gpus) [ $# -ge 2 ] || die "--gpus needs a number"; GPUS="$2"; shift 2 ;;
    --models-dir) [ $# -ge 2 ] || die "--models-dir needs a folder"; MODELS="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --repetitions) [ $# -ge 2 ] || die "--repetitions needs a number"; REPS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$LIB" ] || die "--lib is required: the sweep measures a GPU build (see scripts/build-native.sh)"
[ $DRY -eq 1 ] || [ -d "$LIB" ] || die "--lib folder '$LIB' does not exist"
[ $DRY -eq 1 ] || [ -f "$LIB/manifest.json" ] || die "--lib folder '$LIB' is not a native engine build (no manifest.json): build one with scripts/build-native.sh"
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--repetitions must be a positive number, not '$REPS'"
case "$DEVICE" in mi250|mi250x|mi210|mi300x|mi300a|h100|h200) ;; *) [[ "$DEVICE" =~ ^[0-9.]+([eE][0-9]+)?$ ]] || die "unknown --device '$DEVICE'" ;; esac
if [ -z "$GPUS" ]; then
  if [ $DRY -eq 1 ]; then GPUS=1; else
    GPUS=$("$ROOT/phi2" devices --lib "$LIB" --json | grep -c '"type": "GPU"' || true)
    [ "$GPUS" -ge 1 ] || die "the library in $LIB reports no GPU device (run: phi2 devices --lib $LIB)"
  fi
fi
[[ "$GPUS" =~ ^[1-9][0-9]*$ ]] || die "--gpus must be a positive number, not '$GPUS'"
MODELS_LIST=()
for t in f16 q8_0 q4_k_m q4_0; do
  f="$MODELS/synthetic-phi2-$t.gguf"
  [ -f "$MODELS/phi-2.$(echo "$t" | tr '[:lower:]' '[:upper:]').gguf" ] && f="$MODELS/phi-2.$(echo "$t" | tr '[:lower:]' '[:upper:]').gguf"
  if [ -f "$f" ] || [ $DRY -eq 1 ]; then MODELS_LIST+=("$f"); else echo "bench-gpu: skipping $t: no $f (scripts/make-phi2-shaped.sh builds it)" >&2; fi
done
[ ${#MODELS_LIST[@]} -gt 0 ] || die "no models found in $MODELS"
[ -n "$OUT" ] || OUT="$ROOT/results/$(hostname -s 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M)"
M=$(IFS=,; echo "${MODELS_LIST[*]}")
B="$ROOT/phi2 bench --engine native --lib $LIB -m $M -ngl 99 -p 512 -n 128 -r $REPS"
CMDS=(
  "$B -fa 0,1 -o json > $OUT/single.json"
  "$B --parallel 8 -o json > $OUT/parallel8.json"
  "$B -fa 0,1 --runners $GPUS -o json > $OUT/per-gpu.json"
  "$ROOT/phi2 bench-report $OUT/single.json --device $DEVICE --plot $OUT/single.png > $OUT/single.md"
  "$ROOT/phi2 bench-report $OUT/parallel8.json --device $DEVICE --plot $OUT/parallel8.png > $OUT/parallel8.md"
  "$ROOT/phi2 bench-report $OUT/per-gpu.json --device $DEVICE --plot $OUT/per-gpu.png > $OUT/per-gpu.md"
)
for c in "${CMDS[@]}"; do echo "$c"; done
[ $DRY -eq 1 ] && exit 0
mkdir -p "$OUT"
for c in "${CMDS[@]}"; do eval "$c" || die "failed: $c"; done
cat "$OUT/single.md" "$OUT/parallel8.md" "$OUT/per-gpu.md"
echo "bench-gpu: results in $OUT" >&2
