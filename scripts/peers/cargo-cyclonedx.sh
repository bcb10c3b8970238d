#!/usr/bin/env bash
# cargo-cyclonedx (CycloneDX), pinned, from crates.io: writes the SBOM of the crates linked into
# the gate binary, from Cargo's own dependency resolution, which scripts/publish-image.sh attaches
# to the published image (COSIGN_KEY).
#
#   scripts/peers/cargo-cyclonedx.sh     prints the binary's path (run it as `PATH cyclonedx ...`)
#
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cargo-cyclonedx/VERSION/bin, built
# with `cargo install --locked` into a temporary directory renamed into place.
set -euo pipefail

version=0.5.9
dir=${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cargo-cyclonedx/$version
if ! [ -x "$dir/bin/cargo-cyclonedx" ]; then
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "cargo-cyclonedx.sh: building cargo-cyclonedx $version (once)" >&2
  cargo install --quiet --locked --root "$tmp" "cargo-cyclonedx@$version" >&2
  rm -f "$tmp/.crates.toml" "$tmp/.crates2.json"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi
echo "$dir/bin/cargo-cyclonedx"
