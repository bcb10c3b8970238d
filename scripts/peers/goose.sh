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
# atomic: each builds into its own temporary directory and renames the binary into place, so
# engineers (or test binaries) running this at the same time never see a half-written one.
set -euo pipefail

# v3.22.1: the deployment's pin; v3.27.3: the last one the gate was first compared with;
# v3.30.0: the newest the Go module proxy serves.
PINNED=(v3.22.1 v3.27.3 v3.30.0)
TAGS="no_mysql no_sqlite3 no_mssql no_clickhouse no_vertica no_ydb no_libsql"
cache=${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/goose

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("${PINNED[@]}")

for version in "${versions[@]}"; do
  case " ${PINNED[*]} " in
    *" $version "*) ;;
    *) echo "goose.sh: $version is not pinned (pinned: ${PINNED[*]})" >&2; exit 2 ;;
  esac
  final=$cache/$version
  if [ ! -x "$final/goose" ]; then
    command -v go >/dev/null 2>&1 || { echo "goose.sh: needs Go (go install)" >&2; exit 1; }
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.$version.XXXXXX")
    echo "goose.sh: building goose $version (first run: about a minute each)" >&2
    if ! CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -tags "$TAGS" \
        "github.com/pressly/goose/v3/cmd/goose@$version" >&2; then
      rm -rf "$tmp"
      echo "goose.sh: go install goose@$version failed" >&2
      exit 1
    fi
    # rename(2) of the file is atomic: a concurrent install replaces it with an equal binary.
    mkdir -p "$final"
    mv -f "$tmp/goose" "$final/goose"
    rm -rf "$tmp"
  fi
  echo "$final/goose"
done
