#!/usr/bin/env bash
# Turns a portable native engine build folder into the jars of io.github.phi2j:phi2-native: the engine itself
# (classifier linux-x86_64: libphi2j_engine.so, libllama, libggml, libggml-base, every libggml-cpu-<variant>.so, its
# manifest and llama.cpp's license) and one add-on jar per GPU backend module in the folder (linux-x86_64-cuda,
# -hip, -vulkan: that module alone). A folder made with --backend-only gives its add-on jar alone.
#
# Usage: scripts/native-jar.sh BUILD_DIR [--out DIR] [--version V]
#   BUILD_DIR     made by scripts/build-native.sh portable[-cuda|-hip|-vulkan] [--backend-only]
#   --out DIR     where the jars go (default: BUILD_DIR/jars), named phi2-native-V-CLASSIFIER.jar
#   --version V   the version in the jar names (default: the project's, from pom.xml)
#   --addons-only only the GPU backends' add-on jars (from a portable-cuda|hip|vulkan folder beside the engine's own)
#   --dry-run     print each jar and its files without writing anything
# In a jar: phi2j/native/CLASSIFIER/files.sha256 ("<sha256>  <file>" per file) and the files beside it; the runtime
# (phi2j.runtime.NativeArtifact) finds them on the classpath, checks them and extracts them into its private cache.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "native-jar: $*" >&2; exit 2; }
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

DIR=""; OUT=""; VERSION=""; DRY=0; ADDONS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a value"; VERSION="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --addons-only) ADDONS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$DIR" ] || die "one build folder, not '$DIR' and '$1'"; DIR="$1"; shift ;;
  esac
done
[ -n "$DIR" ] || { usage >&2; exit 2; }
[ -d "$DIR" ] || die "no build folder '$DIR' (make one with scripts/build-native.sh portable)"
[ -f "$DIR/manifest.json" ] || die "$DIR has no manifest.json: it is not a native engine build (scripts/build-native.sh portable)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the jars"
[ -n "$VERSION" ] || VERSION="$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' "$ROOT/pom.xml")"
[ -n "$OUT" ] || OUT="$DIR/jars"

exec python3 - "$DIR" "$OUT" "$VERSION" "$DRY" "$ADDONS" <<'PY'
import hashlib, json, os, sys, zipfile

build, out, version, dry, addons_only = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1"
m = json.load(open(os.path.join(build, "manifest.json")))
def die(msg):
    print("native-jar: " + msg, file=sys.stderr)
    sys.exit(2)

platform = "linux-x86_64"
kind = m.get("kind", "engine")
if not m.get("portable") and kind != "backend":
    die(f"{build} is a {m.get('preset')} build for this machine's CPU (GGML_NATIVE): it would not run on other CPUs. "
        "Jars are made from portable builds: scripts/build-native.sh portable (or portable-cuda, -hip, -vulkan)")

def present(name):
    p = os.path.join(build, name)
    if not os.path.isfile(p):
        die(f"{build} lacks {name}, which its manifest names: rebuild it with scripts/build-native.sh {m.get('preset')}")
    return name

jars = []  # (classifier, [files])
licenses = [f for f in ("LICENSE-llama.cpp",) if os.path.isfile(os.path.join(build, f))]
if not licenses:
    die(f"{build} lacks LICENSE-llama.cpp (llama.cpp's license, installed by builds since ABI 2): rebuild it with scripts/build-native.sh {m.get('preset')}")
if kind == "engine" and not addons_only:
    core = [present(m["library"]), present("libllama.so.0"), present("libggml.so.0"), present("libggml-base.so.0")]
    core += [present(f"libggml-cpu-{v}.so") for v in m.get("cpuVariants", [])]
    jars.append((platform, core + ["manifest.json"] + licenses))
for gpu in m.get("gpuBackends", []):
    jars.append((f"{platform}-{gpu}", [present(f"libggml-{gpu}.so"), f"manifest-{gpu}.json"] + licenses))
if not jars:
    die(f"{build} holds no engine and no GPU backend module")

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

EPOCH = (2026, 1, 1, 0, 0, 0)  # fixed times: the same build gives the same jar
if not dry:
    os.makedirs(out, exist_ok=True)
for classifier, files in jars:
    target = os.path.join(out, f"phi2-native-{version}-{classifier}.jar")
    if dry:
        print(f"{target}: {' '.join(files)}")
        continue
    base = f"phi2j/native/{classifier}/"
    sources = {f: os.path.join(build, "manifest.json" if f.startswith("manifest-") else f) for f in files}
    index = "".join(f"{sha256(sources[f])}  {f}\n" for f in files)
    tmp = target + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        def add(name, data):
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
        add("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nCreated-By: scripts/native-jar.sh\nImplementation-Title: phi2-native {classifier}\n"
                                    f"Implementation-Version: {version}\n\n")
        add(base + "files.sha256", index)
        for f in files:
            with open(sources[f], "rb") as src:
                add(base + f, src.read())
    os.replace(tmp, target)
    print(f"native-jar: {target} ({os.path.getsize(target) / 1048576:.1f} MiB: {len(files)} files)", file=sys.stderr)
    print(target)
PY
