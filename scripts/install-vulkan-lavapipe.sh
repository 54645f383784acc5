#!/usr/bin/env bash
# Installs a software Vulkan driver for the WebGPU correctness tests: Mesa 25 lavapipe from Debian bookworm-backports.
# Debian 12's own Mesa 22.3 lavapipe gives Dawn no adapter ("Vulkan shaderUniform*ArrayDynamicIndexing required"),
# so the backports suite is added (pinned low by Debian: only the packages named with -t come from it).
# Idempotent: does nothing when a Mesa >= 25 lavapipe is already installed. Run as root. Called by install-e2e-deps.sh.
set -euo pipefail

log() { echo "[install-vulkan-lavapipe] $*"; }

SOURCES=/etc/apt/sources.list.d/cxr-bookworm-backports.sources
PACKAGES="mesa-vulkan-drivers libvulkan1"

installed_mesa_major() {
  dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null | awk '/install ok installed/ { split($4, v, "."); print v[1] }'
}

major="$(installed_mesa_major || true)"
if [ -n "$major" ] && [ "$major" -ge 25 ]; then
  log "Mesa $major lavapipe already installed"
  exit 0
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
  log "not Debian bookworm (${PRETTY_NAME:-unknown}); install Mesa >= 25 (mesa-vulkan-drivers) yourself for the WebGPU tests"
  exit 0
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding bookworm-backports to $SOURCES"
  cat > "$SOURCES" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends -t bookworm-backports $PACKAGES
log "installed: $(dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers)"
