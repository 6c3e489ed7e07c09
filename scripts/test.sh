#!/usr/bin/env bash
# The whole test suite, on both engines: builds the CPU native engine when it is missing or its sources changed
# (scripts/build-native.sh cpu; incremental after the first time), runs every Maven test with it (the default
# engine when a build exists), runs the runtime and CLI tests again on the de.kherud:llama binding, then the
# engine's own C++ test on a tiny model, plain and under AddressSanitizer (leak checks on), and last the GPU check's
# whole pipeline on the CPU build: its kit made from the packaged jars, then a smoke run on the tiny shape.
# Usage: scripts/test.sh [--skip-build]     (extra Maven arguments through MAVEN_ARGS)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SECONDS=0
if [ "${1:-}" != "--skip-build" ]; then
  echo "== native engine (scripts/build-native.sh cpu --with-tools)" >&2
  bash scripts/build-native.sh cpu --with-tools >&2
fi
echo "== all tests, native engine ($(( SECONDS / 60 )) min so far)" >&2
mvn -B -ntp ${MAVEN_ARGS:-} test
echo "== runtime and CLI tests again on the binding engine ($(( SECONDS / 60 )) min so far)" >&2
# -pl takes the other modules from the local repository, not from this tree: install this tree's first, or a fresh
# machine has none and a used one has stale ones
mvn -q -B -ntp ${MAVEN_ARGS:-} install -DskipTests
PHI2_ENGINE=binding mvn -B -ntp ${MAVEN_ARGS:-} test -pl java/runtime,java/cli
echo "== the engine's C++ test ($(( SECONDS / 60 )) min so far)" >&2
native/build/cpu/cmake/phi2j_engine_test java/runtime/target/test-models/tiny-phi2.gguf
if [ "${1:-}" != "--skip-build" ]; then
  echo "== the engine's C++ test under AddressSanitizer ($(( SECONDS / 60 )) min so far)" >&2
  bash scripts/build-native.sh cpu --sanitize --out native/build/cpu-asan >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 native/build/cpu-asan/cmake/phi2j_engine_test java/runtime/target/test-models/tiny-phi2.gguf
fi
if [ "${1:-}" != "--skip-build" ]; then
  echo "== the GPU check's pipeline on the CPU build: kit, then a smoke run ($(( SECONDS / 60 )) min so far)" >&2
  mvn -q -B -ntp ${MAVEN_ARGS:-} -DskipTests package -pl java/bench -am >&2
  rm -rf target/gpu-kit target/gpu-check-smoke
  bash scripts/gpu-check.sh --prepare target/gpu-kit >&2
  bash scripts/gpu-check.sh --kit target/gpu-kit --backend cpu --shape tiny --reuse-build --rounds 1 \
    --out target/gpu-check-smoke --work target/gpu-check-work >&2
  grep -q '^| f16 | PASS |' target/gpu-check-smoke/results.md
  [ -s target/gpu-check-smoke/bench.png ]
fi
echo "== done in $(( SECONDS / 60 )) min $(( SECONDS % 60 )) s" >&2
