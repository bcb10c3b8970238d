#!/usr/bin/env bash
# Installs the pinned goose CLIs the tests compare the gate with, and prints their paths.
#
#   scripts/peers/goose.sh [VERSION...]     (default: every pinned version)
#
# Each is `go install github.com/pressly/goose/v3/cmd/goose@VERSION`, static (CGO_ENABLED=0, so it
# also runs in a scratch image) and built with goose's own tags that leave out every driver but
# PostgreSQL's. A built binary is cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/goose/VERSION/goose (Go's module and build caches
# are the default ones), so a second run only checks that the binaries are there. Installs are
# atomic (scripts/peers/lib.sh): each builds into its own temporary directory renamed into
# place, so engineers (or test binaries) running this at the same time never see a half-written
# one.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

# v3.22.1: the deployment's pin; v3.27.3: the last one the gate was first compared with;
# v3.30.0: the newest the Go module proxy serves.
PINNED=(v3.22.1 v3.27.3 v3.30.0)
TAGS="no_mysql no_sqlite3 no_mssql no_clickhouse no_vertica no_ydb no_libsql"

ready() { [ -x "$1/goose" ]; }

build() {
  peer_need go "Go (go install)"
  peer_log "building goose $version (first run: about a minute each)"
  CGO_ENABLED=0 GOBIN="$1" go install -trimpath -tags "$TAGS" \
    "github.com/pressly/goose/v3/cmd/goose@$version" >&2 ||
    { peer_log "go install goose@$version failed"; exit 1; }
}

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("${PINNED[@]}")

for version in "${versions[@]}"; do
  case " ${PINNED[*]} " in
    *" $version "*) ;;
    *) peer_log "$version is not pinned (pinned: ${PINNED[*]})"; exit 2 ;;
  esac
  dir=$(peer_dir goose "$version")
  peer_install "$dir" ready build
  peer_paths "$dir" goose
done
