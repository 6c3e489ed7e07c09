#!/usr/bin/env bash
# The CLI package (scripts/package.sh) checked as a new user meets it:
#   1. unpacked in a Debian root with no Java and none of our tools (debootstrap --variant=minbase, the host's release,
#      made once and reused): bin/phi2 demo -m TINY and bin/phi2 serve answering /health, run in that root (chroot);
#      with the Vulkan add-on jar dropped into lib/, phi2 devices still lists the CPU and names the missing Vulkan loader;
#   2. on this machine, which has a Vulkan driver (Mesa's lavapipe: llvmpipe), with the add-on jar: phi2 devices lists
#      the Vulkan device and phi2 verify -ngl 99 passes against the CPU on the tiny model and on an F16 model, and
#      fails on a copy whose output weights are damaged.
# Prints what it ran and saw (a transcript), and the package's size.
#
# Usage: scripts/dist-check.sh TARBALL [--addon REPO_DIR|JAR] [--root DIR] [--work DIR] [--model TINY.gguf]
#   --addon   the linux-x86_64-vulkan jar, or a repository that mvn deploy wrote (its newest one is taken); without it
#             only step 1's demo and serve run
#   --root    the Java-free root (default: $PHI2_CACHE_DIR/dist-root, else ~/.cache/phi2j/dist-root)
# Needs root (debootstrap, chroot) and python3 (the damaged copy).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "dist-check: $*" >&2; exit 2; }
say() { echo "dist-check: $*" >&2; }
CACHE_BASE="${PHI2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phi2j}"
TAR=""; ADDON=""; DROOT="$CACHE_BASE/dist-root"; WORK=""; MODEL="$ROOT/java/runtime/target/test-models/tiny-phi2.gguf"
while [ $# -gt 0 ]; do
  case "$1" in
    --addon) [ $# -ge 2 ] || die "--addon needs a jar or a repository"; ADDON="$2"; shift 2 ;;
    --root) [ $# -ge 2 ] || die "--root needs a folder"; DROOT="$2"; shift 2 ;;
    --work) [ $# -ge 2 ] || die "--work needs a folder"; WORK="$2"; shift 2 ;;
    --model) [ $# -ge 2 ] || die "--model needs a file"; MODEL="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$TAR" ] || die "one tarball"; TAR="$1"; shift ;;
  esac
done
[ -f "$TAR" ] || die "no package '$TAR' (scripts/package.sh makes one)"
[ -f "$MODEL" ] || die "no model '$MODEL' (the runtime's tests make the tiny one; or --model FILE)"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot)"
if [ -d "$ADDON" ]; then
  ADDON="$(find "$ADDON" -name 'phi2-native-*-linux-x86_64-vulkan.jar' | sort | tail -1)"
  [ -n "$ADDON" ] || die "the repository holds no phi2-native linux-x86_64-vulkan jar"
fi
[ -z "$ADDON" ] || [ -f "$ADDON" ] || die "no add-on jar '$ADDON'"
[ -n "$WORK" ] || WORK="$(mktemp -d /tmp/phi2j-dist-check.XXXXXX)"
mkdir -p "$WORK" || die "cannot create $WORK"
NAME="$(basename "$TAR" .tar.gz)"
FAILED=()
check() { # DESCRIPTION COMMAND...: runs it, shows the transcript, records a failure
  local what="$1"; shift
  echo "\$ ${*: -1}" | sed "s#$WORK#WORK#g" >&2
  if ! "$@"; then FAILED+=("$what"); say "FAILED: $what"; fi
}

# --- 1. a root with no Java ---
# shellcheck source=/dev/null # the host's release file
RELEASE="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
MIRROR="$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 1p)"
[ -n "$MIRROR" ] || MIRROR="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
if [ ! -x "$DROOT/usr/bin/apt-get" ]; then
  say "making a Debian $RELEASE root with no Java: debootstrap --variant=minbase $RELEASE $DROOT"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is needed: apt-get install debootstrap"
  rm -rf "$DROOT.partial" && mkdir -p "$(dirname "$DROOT")"
  debootstrap --variant=minbase "$RELEASE" "$DROOT.partial" ${MIRROR:+"$MIRROR"} > "$WORK/debootstrap.log" 2>&1 \
    || die "debootstrap failed (log: $WORK/debootstrap.log)"
  mv "$DROOT.partial" "$DROOT"
fi
IN_ROOT=(chroot "$DROOT" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8)
# each tool by name: dash's `command -v a b c` looks up only the first
for tool in java javac mvn cmake cc gcc clang; do
  "${IN_ROOT[@]}" sh -c "command -v $tool" >/dev/null 2>&1 && die "$DROOT has $tool in it ($("${IN_ROOT[@]}" sh -c "command -v $tool")); give a clean root with --root"
done
mountpoint -q "$DROOT/proc" || mount -t proc proc "$DROOT/proc" || die "cannot mount /proc in $DROOT"
trap 'mountpoint -q "$DROOT/proc" && umount "$DROOT/proc"' EXIT
rm -rf "$DROOT/opt/$NAME" "$DROOT/opt/models" && mkdir -p "$DROOT/opt/models"
tar -C "$DROOT/opt" -xzf "$TAR" || die "cannot unpack $TAR"
cp "$MODEL" "$DROOT/opt/models/tiny.gguf"
say "package: $(basename "$TAR"), $(stat -c %s "$TAR") bytes ($(( $(stat -c %s "$TAR") / 1048576 )) MiB); unpacked $(du -sm "$DROOT/opt/$NAME" | cut -f1) MiB"
say "in $DROOT (Debian $RELEASE minbase, no Java: $("${IN_ROOT[@]}" sh -c 'command -v java || echo "java: not found"'))"

P="/opt/$NAME/bin/phi2"
demo() {
  "${IN_ROOT[@]}" "$P" demo -m /opt/models/tiny.gguf --only 1 --max-length 260 > "$WORK/demo.out" 2> "$WORK/demo.err" || { cat "$WORK/demo.err" >&2; return 1; }
  sed -n '1,2p' "$WORK/demo.out" >&2; tail -3 "$WORK/demo.out" >&2
  grep -q '^Loaded in ' "$WORK/demo.out" && grep -q '^Generated in ' "$WORK/demo.out"
}
check "phi2 demo in the root" demo
serve() {
  "${IN_ROOT[@]}" "$P" serve -m /opt/models/tiny.gguf --port 0 -c 256 --parallel 1 > "$WORK/serve.log" 2>&1 &
  local pid=$! port=""
  for _ in $(seq 1 300); do
    port="$(sed -n 's#.*http://127\.0\.0\.1:\([0-9]*\)/v1.*#\1#p' "$WORK/serve.log" | sed -n 1p)"
    [ -n "$port" ] && break
    sleep 0.2
  done
  [ -n "$port" ] || { cat "$WORK/serve.log" >&2; kill "$pid" 2>/dev/null; return 1; }
  local body=""
  for _ in $(seq 1 300); do # /health says "loading" until the model is open, then "ok"
    body="$("${IN_ROOT[@]}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null)"
    echo "$body" | grep -q '"status":"ok"' && break
    sleep 0.2
  done
  echo "$body" | sed -n '1p;$p' >&2
  kill -TERM "$pid"; wait "$pid"; local rc=$?
  sed -n '1p;$p' "$WORK/serve.log" >&2
  echo "$body" | grep -q '"status":"ok"' && [ $rc -eq 0 ]
}
check "phi2 serve in the root answers /health" serve
if [ -n "$ADDON" ]; then
  cp "$ADDON" "$DROOT/opt/$NAME/lib/"
  no_loader() {
    "${IN_ROOT[@]}" "$P" devices > "$WORK/devices-root.out" 2>&1 || { cat "$WORK/devices-root.out" >&2; return 1; }
    grep -E 'CPU|not loaded' "$WORK/devices-root.out" >&2
    grep -q 'libggml-vulkan.so needs libvulkan.so.1, which is not installed' "$WORK/devices-root.out" && grep -q '  0  CPU' "$WORK/devices-root.out"
  }
  check "phi2 devices in the root names the missing Vulkan loader and keeps the CPU" no_loader
  rm -f "$DROOT/opt/$NAME/lib/$(basename "$ADDON")"
fi

# --- 2. here, with Vulkan ---
if [ -n "$ADDON" ]; then
  rm -rf "${WORK:?}/$NAME" && tar -C "$WORK" -xzf "$TAR" && cp "$ADDON" "$WORK/$NAME/lib/"
  H="$WORK/$NAME/bin/phi2"
  export PHI2_CACHE_DIR="$WORK/cache"
  # ggml's Vulkan backend passes over CPU-type devices (llvmpipe) unless they are named, as CUDA_VISIBLE_DEVICES does
  export GGML_VK_VISIBLE_DEVICES="${GGML_VK_VISIBLE_DEVICES:-0}"
  # a device line, not a word: "  1  GPU    Vulkan0  llvmpipe (LLVM ...)" (index, type, name, description)
  VK_DEVICE='^  [0-9]+  (GPU|IGPU) +Vulkan0 +llvmpipe'
  vulkan_device() { # OUT [env ARG...]
    local out="$1"; shift
    (cd "$WORK" && env -u PHI2_HOME "$@" "$H" devices) > "$WORK/$out" 2>&1 || { cat "$WORK/$out" >&2; return 1; }
    set -- "$out"
    grep -E '^  [0-9]|^backends' "$WORK/$1" >&2
    grep -Eq "$VK_DEVICE" "$WORK/$1"
  }
  check "phi2 devices lists the Vulkan device Vulkan0 (llvmpipe)" vulkan_device devices.out
  # the control: with the device hidden the same check must fail (the backends line still says Vulkan)
  hidden_device() { ! vulkan_device devices-hidden.out -u GGML_VK_VISIBLE_DEVICES && grep -q '^backends: .*Vulkan' "$WORK/devices-hidden.out"; }
  check "control: with GGML_VK_VISIBLE_DEVICES unset, the Vulkan module loads and the device check fails" hidden_device
  F16="$WORK/tiny-f16.gguf"
  (cd "$WORK" && env -u PHI2_HOME "$H" quantize "$MODEL" "$F16" F16 --force >/dev/null 2>&1) || die "cannot make an F16 copy of $MODEL"
  python3 - "$MODEL" "$WORK/tiny-damaged.gguf" <<'PY' || die "cannot make the damaged copy"
import struct, sys, shutil
# a copy whose output.weight (F32) is scaled by 4: the GGUF header and tensor table read as the spec lays them out
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
data = bytearray(open(dst, "rb").read())
def u32(o): return struct.unpack_from("<I", data, o)[0], o + 4
def u64(o): return struct.unpack_from("<Q", data, o)[0], o + 8
def string(o):
    n, o = u64(o); return bytes(data[o:o + n]).decode(), o + n
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip_value(t, o):
    if t == 8: return string(o)[1]
    if t == 9:
        et, o = u32(o); n, o = u64(o)
        for _ in range(n): o = skip_value(et, o)
        return o
    return o + SIZES[t]
o = 8
n_tensors, o = u64(o); n_kv, o = u64(o)
alignment = 32
for _ in range(n_kv):
    key, o = string(o); t, o = u32(o)
    if key == "general.alignment": alignment = struct.unpack_from("<I", data, o)[0]
    o = skip_value(t, o)
tensors = []
for _ in range(n_tensors):
    name, o = string(o); nd, o = u32(o)
    dims = []
    for _ in range(nd):
        d, o = u64(o); dims.append(d)
    t, o = u32(o); off, o = u64(o)
    tensors.append((name, dims, t, off))
base = (o + alignment - 1) // alignment * alignment
for name, dims, t, off in tensors:
    if name == "output.weight":
        assert t == 0, "output.weight is not F32"
        n = 1
        for d in dims: n *= d
        start = base + off
        vals = struct.unpack_from("<%df" % n, data, start)
        struct.pack_into("<%df" % n, data, start, *[v * 4 for v in vals])
        open(dst, "wb").write(data)
        sys.exit(0)
sys.exit("no output.weight")
PY
  # where the layers ran, from verify's header: "verify: MODEL (-ngl 99: 33/33 layers on Vulkan0 (llvmpipe ...), KV cache on Vulkan0; ..."
  ON_VULKAN='^verify: [^ ]+ \(-ngl 99: ([0-9]+)/\1 layers on Vulkan0 \(llvmpipe.*KV cache on Vulkan0;'
  verify_passes() { # MODEL LABEL
    (cd "$WORK" && env -u PHI2_HOME "$H" verify -m "$1" -ngl 99 --positions 4) > "$WORK/verify-$2.out" 2>&1
    local rc=$?; grep -E '^verify:|^PASS|^FAIL' "$WORK/verify-$2.out" >&2
    [ $rc -eq 0 ] && grep -q '^PASS: ' "$WORK/verify-$2.out" && grep -Eq "$ON_VULKAN" "$WORK/verify-$2.out"
  }
  check "phi2 verify -ngl 99 on Vulkan passes on the tiny F32 model" verify_passes "$MODEL" f32
  check "phi2 verify -ngl 99 on Vulkan passes on its F16 copy" verify_passes "$F16" f16
  damaged_fails() {
    (cd "$WORK" && env -u PHI2_HOME "$H" verify -m "$WORK/tiny-damaged.gguf" --against "$MODEL" -ngl 99 --positions 4) > "$WORK/verify-damaged.out" 2>&1
    local rc=$?; grep -E '^verify:|^PASS|^FAIL' "$WORK/verify-damaged.out" >&2
    [ $rc -eq 1 ] && grep -q '^FAIL: ' "$WORK/verify-damaged.out" && grep -Eq "$ON_VULKAN" "$WORK/verify-damaged.out"
  }
  check "phi2 verify -ngl 99 on Vulkan fails on a copy with damaged output weights" damaged_fails
  # the control: with the device hidden, verify -ngl 99 must refuse (exit 2) naming the cause, and never print PASS
  hidden_verify() {
    (cd "$WORK" && env -u PHI2_HOME -u GGML_VK_VISIBLE_DEVICES "$H" verify -m "$MODEL" -ngl 99 --positions 4) > "$WORK/verify-hidden.out" 2>&1
    local rc=$?; sed -n 1p "$WORK/verify-hidden.out" | cut -c1-240 >&2
    [ $rc -eq 2 ] && ! grep -q 'PASS' "$WORK/verify-hidden.out" && grep -q 'no GPU device' "$WORK/verify-hidden.out" \
      && grep -q 'GGML_VK_VISIBLE_DEVICES' "$WORK/verify-hidden.out"
  }
  check "control: with the Vulkan device hidden, phi2 verify -ngl 99 refuses naming the missing device" hidden_verify
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  say "FAILED: ${FAILED[*]}"
  exit 1
fi
say "the package passed every check"
