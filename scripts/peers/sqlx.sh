#!/usr/bin/env bash
# sqlx-cli as Rust users install it: `cargo install sqlx-cli` from crates.io, pinned and with
# only the PostgreSQL driver and rustls (`--no-default-features --features postgres,rustls`),
# `--locked` to sqlx-cli's own lock file, and unoptimised (`--debug`, without debug info): the
# same source and behaviour at half the build's CPU time (2.3 CPU-minutes against 4.5 measured),
# and a status command has nothing to optimise. Built into
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/sqlx/<version>/ (cargo's registry cache keeps
# the sources; the build directory is temporary). Prints the path of `sqlx`
# (`sqlx migrate info|run|revert --source DIR --database-url URL`). Slow when cold: minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=0.9.0
dir=$(peer_dir sqlx "$version")

ready() { [ -x "$1/bin/sqlx" ]; }

build() {
  peer_log "building sqlx-cli $version from crates.io (cargo install; minutes)"
  CARGO_TARGET_DIR="$1/target" CARGO_PROFILE_DEV_DEBUG=0 cargo install --quiet --locked --debug \
    "sqlx-cli@$version" \
    --no-default-features --features postgres,rustls --root "$1" >&2
  rm -rf "$1/target"
  "$1/bin/sqlx" --version >/dev/null
}

peer_install "$dir" ready build
peer_paths "$dir" bin/sqlx
