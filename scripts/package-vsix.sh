#!/usr/bin/env bash
# Builds the bundles (every entry required) and packages cxr-studio-<version>.vsix with @vscode/vsce, offline, then
# checks the package (test/e2e/vsix.test.ts: unpacked far from this repository, its bundles find everything they load
# inside it; sharp, h5wasm and the packaged CLI work from there).
#   --no-build   package the dist/ that is already there
#   --no-check   skip the package check (npm run test:e2e runs it with the other e2e tests)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

build=1
check=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-check) check=0 ;;
    *) echo "package-vsix: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then node scripts/build.mjs --strict; fi
# The default backbone's ImageNet weights, licence and provenance ship inside the package (dist/models).
node scripts/bundle-weights.mjs

NAME="$(node -p "require('./package.json').name")"
VERSION="$(node -p "require('./package.json').version")"
OUT="$NAME-$VERSION.vsix"
# sharp's native binaries are the ones npm installed for this machine, so the package is only valid for this target.
TARGET="$(node -p "process.platform + '-' + process.arch")"

# .vscodeignore names linux-x64's native binaries (webgpu's dist/<platform>-<arch>, onnxruntime-node's
# bin/napi-v6/<platform>/<arch>): on any other target the same whitelist is used with that target's folders.
PLATFORM="$(node -p "process.platform")"
ARCH="$(node -p "process.arch")"
IGNORE_FILE="$(mktemp)"
trap 'rm -f "$IGNORE_FILE"' EXIT
sed -e "s#webgpu/dist/linux-x64/#webgpu/dist/$PLATFORM-$ARCH/#" \
    -e "s#onnxruntime-node/bin/napi-v6/linux/x64/#onnxruntime-node/bin/napi-v6/$PLATFORM/$ARCH/#" .vscodeignore >"$IGNORE_FILE"
for kept in "node_modules/webgpu/dist/$PLATFORM-$ARCH" "node_modules/onnxruntime-node/bin/napi-v6/$PLATFORM/$ARCH"; do
  [ -d "$kept" ] || echo "package-vsix: warning: $kept is missing, the package will lack that native binary" >&2
done

rm -f "$OUT"
started=$(date +%s%N)
# --no-yarn: npm decides which dependencies exist; the ignore file then keeps only what the bundles load at run time.
npx --no-install vsce package --no-yarn --target "$TARGET" --ignoreFile "$IGNORE_FILE" --allow-missing-repository --skip-license --out "$OUT"
echo "package-vsix: vsce took $(( ($(date +%s%N) - started) / 1000000 )) ms; $OUT is $(du -k "$OUT" | cut -f1) KiB"

if [ "$check" = 1 ]; then
  CXR_E2E_VSIX="$ROOT/$OUT" node --import tsx --test test/e2e/vsix.test.ts
fi
