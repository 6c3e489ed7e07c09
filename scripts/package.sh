#!/usr/bin/env bash
# The CLI as one download: dist/phi2j-VERSION-linux-x86_64.tar.gz, which runs unpacked anywhere on x86-64 Linux (glibc
# 2.36 or newer) with no JDK, Maven or compiler:
#   bin/phi2                 the CLI on the bundled Java runtime
#   runtime/                 a Java runtime made by jlink with the modules the CLI uses
#   lib/                     the CLI's jars, and phi2-native-VERSION-linux-x86_64.jar: the portable native engine
#   models-gguf/catalog.json the known Phi-2 files (phi2 pull puts models beside it, or in $PHI2_MODELS_DIR)
#   LICENSE, LICENSE-llama.cpp, README.txt
# A GPU: drop its phi2-native add-on jar (phi2-native-VERSION-linux-x86_64-vulkan.jar, -cuda, -hip) into lib/.
#
# Usage: scripts/package.sh [--out DIR] [--dry-run]
#   needs a JDK 17+ (jlink), Maven, and the portable engine (built here when missing: scripts/build-native.sh portable)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "package: $*" >&2; exit 2; }
say() { echo "package: $*" >&2; }
# The Java modules the CLI and its libraries use (jdeps --print-module-deps over the CLI's jars), plus TLS's elliptic
# curves for downloads (jdk.crypto.ec). The GPU check's kit carries this same package.
JAVA_MODULES="java.base,java.desktop,java.logging,java.management,java.net.http,java.sql,jdk.crypto.ec,jdk.httpserver,jdk.unsupported"

OUT="$ROOT/dist"; DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
VERSION="$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' "$ROOT/pom.xml")"
NAME="phi2j-$VERSION-linux-x86_64"
JLINK="${JAVA_HOME:+$JAVA_HOME/bin/}jlink"
STEPS=(
  "1. the CLI's jars: mvn -q -B -DskipTests package -pl java/cli -am"
  "2. the portable engine: scripts/build-native.sh portable (incremental), then scripts/native-jar.sh native/build/portable"
  "3. a Java runtime: $JLINK --add-modules $JAVA_MODULES --strip-debug --no-man-pages --no-header-files --compress=2"
  "4. $OUT/$NAME.tar.gz: bin/phi2, runtime/, lib/ (the binding's jar slimmed to its Linux x86-64 library), models-gguf/catalog.json, licences"
)
if [ $DRY -eq 1 ]; then printf '%s\n' "${STEPS[@]}"; exit 0; fi
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "the package is for x86-64 Linux; this is $(uname -s)-$(uname -m)"
command -v "$JLINK" >/dev/null 2>&1 || die "jlink not found: a JDK 17+ is needed (set JAVA_HOME)"
command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to build the jars"
command -v python3 >/dev/null 2>&1 || die "python3 is needed (the engine's jar and the slimmed binding jar)"
mkdir -p "$OUT" || die "cannot create $OUT"
TMP="$(mktemp -d "$OUT/.package.XXXXXX")" || die "cannot create a temporary folder in $OUT"
trap 'rm -rf "$TMP"' EXIT
D="$TMP/$NAME"
mkdir -p "$D/bin" "$D/lib" "$D/models-gguf"
START=$(date +%s)

say "${STEPS[0]}"
(cd "$ROOT" && MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true" mvn -q -B -ntp -Dstyle.color=never -DskipTests \
   -Dmaven.javadoc.skip=true -Dmaven.source.skip=true package -pl java/cli -am) >&2 || die "the Maven build failed"
cp "$ROOT"/java/cli/target/phi2-cli-"$VERSION".jar "$ROOT"/java/cli/target/lib/*.jar "$D/lib/" || die "cannot copy the jars"
# the binding's jar carries libjllama for seven platforms; this package runs on one
python3 - "$D"/lib/llama-*.jar <<'PY' || die "cannot slim the binding's jar"
import os, sys, zipfile
for src in sys.argv[1:]:
    tmp = src + ".tmp"
    drop = ('de/kherud/llama/Linux/aarch64/', 'de/kherud/llama/Linux-Android/', 'de/kherud/llama/Mac/', 'de/kherud/llama/Windows/')
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as b:
        for i in a.infolist():
            if not i.filename.startswith(drop):
                b.writestr(i, a.read(i.filename))
    os.replace(tmp, src)
PY

say "${STEPS[1]}"
bash "$ROOT/scripts/build-native.sh" portable >&2 || die "the portable engine did not build"
bash "$ROOT/scripts/native-jar.sh" "$ROOT/native/build/portable" --out "$D/lib" --version "$VERSION" >/dev/null || die "cannot make the engine's jar"
cp "$ROOT/native/build/portable/LICENSE-llama.cpp" "$D/" || die "no LICENSE-llama.cpp in the portable build"

say "${STEPS[2]}"
"$JLINK" --add-modules "$JAVA_MODULES" --strip-debug --no-man-pages --no-header-files --compress=2 --output "$D/runtime" >&2 \
  || die "jlink failed"

say "${STEPS[3]}"
{ cp "$ROOT/models-gguf/catalog.json" "$D/models-gguf/" && cp "$ROOT/LICENSE" "$D/"; } || die "cannot copy the catalog or the licence"
cat > "$D/bin/phi2" <<'SH'
#!/usr/bin/env bash
# phi2 from the phi2j package: the bundled Java runtime, the jars in lib/ (a GPU add-on jar dropped there is used).
set -euo pipefail
HOME_DIR="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# C1 alone for every command, phi2 serve too: measured with ServerLoad (16 clients, 90 s, 2 cores), the full JIT's
# compiler threads took cores from llama.cpp's and the server completed 25% fewer answers. PHI2_JAVA_OPTS can override.
# shellcheck disable=SC2086
exec "$HOME_DIR/runtime/bin/java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dphi2.home="$HOME_DIR" -Dphi2.launcher=phi2 ${PHI2_JAVA_OPTS:-} \
  -cp "$HOME_DIR/lib/*" phi2j.cli.Main "$@"
SH
chmod +x "$D/bin/phi2"
cat > "$D/README.txt" <<TXT
phi2j $VERSION for x86-64 Linux: Microsoft Phi-2 on the JVM through llama.cpp, with its own Java runtime.

  bin/phi2 --help                      the commands
  bin/phi2 demo                        the walkthrough's six prompts (downloads phi-2.Q4_K_M, 1.79 GB, first)
  bin/phi2 serve -m MODEL.gguf         an OpenAI-compatible server on 127.0.0.1:8080
  bin/phi2 devices                     what computes: the CPU variant the engine chose, and GPUs

The native engine (lib/phi2-native-$VERSION-linux-x86_64.jar) runs on any x86-64 CPU: it carries every CPU variant
and loads the best one. For a GPU, put its add-on jar beside it in lib/ (phi2-native-$VERSION-linux-x86_64-vulkan.jar,
-cuda or -hip, from the same release). Models go to models-gguf/ here, or to \$PHI2_MODELS_DIR.
TXT
TAR="$OUT/$NAME.tar.gz"
tar -C "$TMP" --owner=0 --group=0 --numeric-owner --sort=name -czf "$TAR.tmp" "$NAME" || die "cannot write $TAR"
mv "$TAR.tmp" "$TAR" || die "cannot move $TAR into place"
SIZE=$(stat -c %s "$TAR")
say "wrote $TAR: $(( SIZE / 1048576 )) MiB ($SIZE bytes; unpacked $(du -sm "$D" | cut -f1) MiB) in $(( $(date +%s) - START )) s"
echo "$TAR"
