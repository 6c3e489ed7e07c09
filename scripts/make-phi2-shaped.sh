#!/usr/bin/env bash
# Builds the full-size random-weight Phi-2 models for benchmarks, without downloading anything:
#   synthetic checkpoint (Phi-2's shape, fp16, two shards, real tokenizer) -> phi2 convert (f16 GGUF)
#   -> phi2 quantize Q4_K_M, Q8_0 and Q4_0, all into models-gguf/. About 17 GB of disk while it runs.
# Usage: scripts/make-phi2-shaped.sh [--keep-checkpoint]
#   PHI2_MODELS_DIR: where the models go; PHI2_SHAPE=tiny: the same files from the tiny shape, for smoke runs;
#   PHI2_TYPES: the quantized types made from the F16 file (default: Q4_K_M Q8_0 Q4_0)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODELS="${PHI2_MODELS_DIR:-$ROOT/models-gguf}"
CKPT="$MODELS/synthetic-phi2-checkpoint"
export PHI2_SHARED_DATA="${PHI2_SHARED_DATA:-$ROOT/../shared/data}"
P="${PHI2:-$ROOT/phi2}" # PHI2: another launcher, for example a gpu-check kit's bin/phi2
step() { echo "== $*" >&2; }

if [ ! -f "$CKPT/model.safetensors.index.json" ]; then
  step "synthetic checkpoint -> $CKPT"
  "$P" synth --checkpoint --shape "${PHI2_SHAPE:-phi2}" -o "$CKPT"
fi
step "convert -> synthetic-phi2-f16.gguf"
"$P" convert "$CKPT" -o "$MODELS/synthetic-phi2-f16.gguf" --outtype f16 --force
for t in ${PHI2_TYPES:-Q4_K_M Q8_0 Q4_0}; do
  lower=$(echo "$t" | tr '[:upper:]' '[:lower:]')
  step "quantize -> synthetic-phi2-$lower.gguf"
  "$P" quantize "$MODELS/synthetic-phi2-f16.gguf" "$MODELS/synthetic-phi2-$lower.gguf" "$t" --force
done
if [ "${1:-}" != "--keep-checkpoint" ]; then
  rm -rf "$CKPT"
fi
ls -la "$MODELS"/synthetic-phi2-*.gguf >&2
