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

ready() { [ -x "$1/bin/migrate" ]; }

build() {
  peer_log "building golang-migrate $version (go install -tags postgres)"
  GOBIN="$1/bin" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    go install -tags postgres "github.com/golang-migrate/migrate/v4/cmd/migrate@$version"
  "$1/bin/migrate" -version >/dev/null 2>&1
}

peer_install "$dir" ready build
peer_paths "$dir" bin/migrate
