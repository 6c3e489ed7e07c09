#!/usr/bin/env bash
# The converter's throughput benchmark: the full-size synthetic checkpoint (5.56 GB fp16) to an f16 GGUF with the
# converter's JVM limited to -Xmx512m, next to a plain cp of the same shards on the same disk, in the same run.
# Prints GB/s for both and the converter's peak RSS. Needs GNU time (/usr/bin/time).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$ROOT/models-gguf/bench-convert}"
export PHI2_SHARED_DATA="${PHI2_SHARED_DATA:-$ROOT/../shared/data}"
mkdir -p "$WORK"
CKPT="$WORK/checkpoint"
[ -f "$CKPT/model.safetensors.index.json" ] || "$ROOT/phi2" synth --checkpoint --shape phi2 -o "$CKPT"
BYTES=$(cat "$CKPT"/*.safetensors | wc -c)
sync
"$ROOT/phi2" --version >/dev/null   # build first, outside the timings

rm -rf "$WORK/cp-copy"; mkdir -p "$WORK/cp-copy"
t0=$(date +%s.%N); cp "$CKPT"/*.safetensors "$WORK/cp-copy/"; sync; t1=$(date +%s.%N)
rm -rf "$WORK/cp-copy"

rm -f "$WORK/out.gguf"
t2=$(date +%s.%N)
PHI2_JAVA_OPTS="-Xmx512m" /usr/bin/time -v -o "$WORK/time.txt" "$ROOT/phi2" convert "$CKPT" -o "$WORK/out.gguf" --outtype f16
sync; t3=$(date +%s.%N)
RSS=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$WORK/time.txt")
awk -v b="$BYTES" -v c="$(echo "$t1 - $t0" | bc)" -v v="$(echo "$t3 - $t2" | bc)" -v r="$RSS" 'BEGIN {
  printf "input            %.2f GB (two fp16 shards)\n", b/1e9
  printf "cp               %6.1f s  %.2f GB/s\n", c, b/1e9/c
  printf "phi2 convert f16 %6.1f s  %.2f GB/s  (%.2f x cp)  peak RSS %.0f MB with -Xmx512m\n", v, b/1e9/v, c/v, r/1024 }'
rm -f "$WORK/out.gguf"
