#!/usr/bin/env bash
# golang-migrate's CLI as its users install it: `go install -tags postgres …/cmd/migrate@v4.20.1`
# (the tag compiles in the postgres driver; without it the CLI knows no database). Go's own
# module and build caches are used; the binary is cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/golang-migrate/<version>/bin/migrate.
# Prints the binary's path. A second run only checks the cache.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

version=v4.20.1
dir=$(peer_dir golang-migrate "$version")
bin="$dir/bin/migrate"
if [ ! -x "$bin" ]; then
  peer_log "building golang-migrate $version (go install -tags postgres)"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    go install -tags postgres "github.com/golang-migrate/migrate/v4/cmd/migrate@$version"
  "$tmp/bin/migrate" -version >/dev/null 2>&1
  peer_publish "$tmp" "$dir"
  trap - EXIT
fi
echo "$bin"
