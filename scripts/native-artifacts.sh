#!/usr/bin/env bash
# The jars of io.github.phi2j:phi2-native, as java/native's Maven build makes them: builds the portable engine
# (scripts/build-native.sh portable: the first time in full, incrementally after), then turns it into its jar, and
# every GPU backend module built for it (native/build/portable-cuda, -hip, -vulkan, with or without --backend-only)
# into that backend's add-on jar.
# Usage: scripts/native-artifacts.sh OUT_DIR VERSION
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: scripts/native-artifacts.sh OUT_DIR VERSION" >&2; exit 2; }
OUT="$1"; VERSION="$2"
rm -rf "$OUT"
bash "$ROOT/scripts/build-native.sh" portable >&2
bash "$ROOT/scripts/native-jar.sh" "$ROOT/native/build/portable" --out "$OUT" --version "$VERSION" >/dev/null
for gpu in cuda hip vulkan; do
  for dir in "$ROOT/native/build/portable-$gpu" "$ROOT/native/build/portable-$gpu-backend"; do
    if [ -f "$dir/manifest.json" ]; then
      bash "$ROOT/scripts/native-jar.sh" "$dir" --out "$OUT" --version "$VERSION" --addons-only >/dev/null
      break
    fi
  done
done
ls -la "$OUT" >&2
