#!/usr/bin/env bash
# The whole test suite. In order (0: shellcheck over every script):
#   1. the CPU native engine (scripts/build-native.sh cpu: clang, with llama-bench and the C++ test under ASan; built
#      when missing or changed, incrementally after the first time), then every Maven test with it;
#   2. the portable engine and the Vulkan backend module for it (scripts/build-native.sh portable, and portable-vulkan
#      --backend-only with Debian sid's shader compiler, scripts/vulkan-sdk.sh), then `mvn deploy` of every published
#      artifact into a file repository in a temporary folder; deploy/kubernetes built as kustomize does and checked
#      against phi2 serve's flags, probes, drain timeout and metric names (scripts/check-manifests.py);
#   3. the runtime and CLI tests again on the de.kherud:llama binding;
#   4. the engine's own C++ test on a tiny model, plain and under AddressSanitizer;
#   5. phi2j as a dependency (scripts/consumer-check.sh): consumer projects outside the checkout resolve it only from
#      that repository: plain java -cp, mvn exec:java, a shaded jar, a Spring Boot jar, Vulkan, without phi2-native,
#      the README's library example as written (with and without phi2-native), a LangChain4j application and a Spring
#      Boot application on the Spring AI starter;
#   6. the CLI as one download (scripts/package.sh, scripts/dist-check.sh): unpacked in a Debian root with no Java,
#      phi2 demo and phi2 serve; then on this machine with the Vulkan add-on jar: phi2 devices lists Vulkan (Mesa's
#      lavapipe: its device line) and phi2 verify -ngl 99 passes with every layer on Vulkan0, and fails on a copy with
#      damaged output weights; with the device hidden (GGML_VK_VISIBLE_DEVICES unset) the device check fails and verify
#      refuses, naming the cause;
#   7. the GPU check's whole pipeline on the CPU build: its kit, then a smoke run on the tiny shape (Q8_0 against
#      the F16 model must PASS, and the control, two models with different weights, must FAIL).
# Usage: scripts/test.sh [--skip-build]     (extra Maven arguments through MAVEN_ARGS)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SECONDS=0
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true"
step() { echo "== $* ($(( SECONDS / 60 )) min $(( SECONDS % 60 )) s so far)" >&2; }
WORK="$(mktemp -d /tmp/phi2j-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
SKIP_BUILD=0; [ "${1:-}" = "--skip-build" ] && SKIP_BUILD=1
read -ra MVN_EXTRA <<< "${MAVEN_ARGS:-}" # extra Maven arguments, split on spaces as a user types them

step "0. shellcheck over every script (Debian's shellcheck; each remaining exception is disabled in place with its reason)"
command -v shellcheck >/dev/null 2>&1 || { echo "test.sh: shellcheck not found: apt-get install shellcheck" >&2; exit 2; }
shellcheck scripts/*.sh .ci/run phi2

if [ $SKIP_BUILD -eq 0 ]; then
  step "1. the CPU native engine (scripts/build-native.sh cpu --with-tools --sanitize)"
  bash scripts/build-native.sh cpu --with-tools --sanitize >&2
fi
step "1. all tests, native engine"
mvn -B -ntp ${MVN_EXTRA[@]+"${MVN_EXTRA[@]}"} test -pl '!java/native'

if [ $SKIP_BUILD -eq 0 ]; then
  step "2. the portable engine and its Vulkan module (scripts/build-native.sh portable, portable-vulkan --backend-only)"
  bash scripts/build-native.sh portable >&2
  VKSDK="$(bash scripts/vulkan-sdk.sh | tail -1)"
  bash scripts/build-native.sh portable-vulkan --backend-only --vulkan-sdk "$VKSDK" >&2
fi
step "2. mvn deploy into a file repository ($WORK/repo)"
mvn -q -B -ntp ${MVN_EXTRA[@]+"${MVN_EXTRA[@]}"} -DskipTests deploy -DaltDeploymentRepository="local::file:$WORK/repo"

step "2. the Kubernetes manifests, built as kustomize does and checked against phi2 serve (scripts/check-manifests.py)"
./phi2 serve --help > "$WORK/serve-help.txt"
/usr/bin/python3 scripts/check-manifests.py deploy/kubernetes "$WORK/serve-help.txt" java/server/src/main/java/phi2j/server/Metrics.java

step "3. runtime and CLI tests again on the binding engine"
PHI2_ENGINE=binding mvn -B -ntp ${MVN_EXTRA[@]+"${MVN_EXTRA[@]}"} test -pl java/runtime,java/cli

step "4. the engine's C++ test, plain and under AddressSanitizer"
native/build/cpu/cmake/phi2j_engine_test java/runtime/target/test-models/tiny-phi2.gguf
if [ -x native/build/cpu/cmake/phi2j_engine_test_asan ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 native/build/cpu/cmake/phi2j_engine_test_asan java/runtime/target/test-models/tiny-phi2.gguf
elif [ $SKIP_BUILD -eq 0 ] || [ "${CI:-}" = true ]; then
  echo "no native/build/cpu/cmake/phi2j_engine_test_asan: build with scripts/build-native.sh cpu --sanitize" >&2; exit 1
fi

step "5. phi2j as a dependency: consumer projects outside the checkout (scripts/consumer-check.sh)"
bash scripts/consumer-check.sh "$WORK/repo" java/runtime/target/test-models/tiny-phi2.gguf --vulkan --work "$WORK/consumers"

step "6. the CLI as one download (scripts/package.sh), in a Debian root with no Java and with Vulkan (scripts/dist-check.sh)"
TAR="$(bash scripts/package.sh --out "$WORK/dist" | tail -1)"
bash scripts/dist-check.sh "$TAR" --addon "$WORK/repo" --work "$WORK/dist-check"

if [ $SKIP_BUILD -eq 0 ]; then
  step "7. the GPU check's pipeline on the CPU build: kit, then a smoke run"
  mvn -q -B -ntp ${MVN_EXTRA[@]+"${MVN_EXTRA[@]}"} -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true package -pl java/bench -am >&2
  rm -rf target/gpu-kit target/gpu-check-smoke
  bash scripts/gpu-check.sh --prepare target/gpu-kit >&2
  bash scripts/gpu-check.sh --kit target/gpu-kit --backend cpu --shape tiny --types F16,Q8_0 --reuse-build --rounds 1 \
    --out target/gpu-check-smoke --work target/gpu-check-work >&2
  grep -q '^| f16 | PASS |' target/gpu-check-smoke/results.md
  grep -q '^| control | FAIL |' target/gpu-check-smoke/results.md   # the case that must fail on the numbers did
  [ -s target/gpu-check-smoke/bench.png ]
fi
step "done"
