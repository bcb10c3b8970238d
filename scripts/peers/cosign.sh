#!/usr/bin/env bash
# cosign (sigstore), pinned, built from the Go module proxy: signs the published gate image and
# attaches its SBOM as a signed attestation (scripts/publish-image.sh with COSIGN_KEY).
#
#   scripts/peers/cosign.sh      prints the binary's path
#
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cosign/VERSION/bin (built into a
# temporary directory renamed into place). A cold build takes a few minutes; a warm run, none.
set -euo pipefail

version=${COSIGN_VERSION:-v2.6.5}
dir=${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/cosign/$version
if ! [ -x "$dir/bin/cosign" ]; then
  command -v go >/dev/null || { echo "cosign.sh: go missing" >&2; exit 1; }
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "cosign.sh: building cosign $version (a few minutes, once)" >&2
  GOBIN=$tmp/bin CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -ldflags "-s -w" \
    "github.com/sigstore/cosign/v2/cmd/cosign@$version" >&2
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi
echo "$dir/bin/cosign"
