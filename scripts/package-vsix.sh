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

rm -f "$OUT"
started=$(date +%s%N)
# --no-yarn: npm decides which dependencies exist; .vscodeignore then keeps only what the bundles load at run time.
npx --no-install vsce package --no-yarn --target "$TARGET" --allow-missing-repository --skip-license --out "$OUT"
echo "package-vsix: vsce took $(( ($(date +%s%N) - started) / 1000000 )) ms; $OUT is $(du -k "$OUT" | cut -f1) KiB"

if [ "$check" = 1 ]; then
  CXR_E2E_VSIX="$ROOT/$OUT" node --import tsx --test test/e2e/vsix.test.ts
fi
