#!/usr/bin/env bash
# cargo-cyclonedx (CycloneDX), pinned, from crates.io: writes the SBOM of the crates linked into
# the gate binary, from Cargo's own dependency resolution, which scripts/publish-image.sh attaches
# to the published image (COSIGN_KEY).
#
#   scripts/peers/cargo-cyclonedx.sh     prints the binary's path (run it as `PATH cyclonedx ...`)
#
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cargo-cyclonedx/VERSION/bin, built
# with `cargo install --locked` into a temporary directory renamed into place
# (scripts/peers/lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

version=0.5.9
dir=$(peer_dir cargo-cyclonedx "$version")

ready() { [ -x "$1/bin/cargo-cyclonedx" ]; }

build() {
  peer_log "building cargo-cyclonedx $version (once)"
  cargo install --quiet --locked --root "$1" "cargo-cyclonedx@$version" >&2
  rm -f "$1/.crates.toml" "$1/.crates2.json"
}

peer_install "$dir" ready build
peer_paths "$dir" bin/cargo-cyclonedx
