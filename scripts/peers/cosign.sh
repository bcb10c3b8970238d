#!/usr/bin/env bash
# cosign (sigstore), pinned, built from the Go module proxy: signs the published gate image and
# attaches its SBOM as a signed attestation (scripts/publish-image.sh with COSIGN_KEY).
#
#   scripts/peers/cosign.sh      prints the binary's path
#
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cosign/VERSION/bin (built into a
# temporary directory renamed into place: scripts/peers/lib.sh). A cold build takes a few minutes; a warm run, none.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

version=${COSIGN_VERSION:-v2.6.5}
dir=$(peer_dir cosign "$version")

ready() { [ -x "$1/bin/cosign" ]; }

build() {
  peer_need go Go
  peer_log "building cosign $version (a few minutes, once)"
  GOBIN=$1/bin CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -ldflags "-s -w" \
    "github.com/sigstore/cosign/v2/cmd/cosign@$version" >&2
}

peer_install "$dir" ready build
peer_paths "$dir" bin/cosign
