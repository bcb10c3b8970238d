#!/usr/bin/env bash
# sqlx-cli as Rust users install it: `cargo install sqlx-cli` from crates.io, pinned and with
# only the PostgreSQL driver and rustls (`--no-default-features --features postgres,rustls`),
# `--locked` to sqlx-cli's own lock file. Built into
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/sqlx/<version>/ (cargo's registry cache keeps
# the sources; the build directory is temporary). Prints the path of `sqlx`
# (`sqlx migrate info|run|revert --source DIR --database-url URL`). Slow when cold: minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=0.9.0
dir=$(peer_dir sqlx "$version")
bin="$dir/bin/sqlx"
if [ ! -x "$bin" ]; then
  peer_log "building sqlx-cli $version from crates.io (cargo install; minutes)"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  CARGO_TARGET_DIR="$tmp/target" cargo install --quiet --locked "sqlx-cli@$version" \
    --no-default-features --features postgres,rustls --root "$tmp" >&2
  rm -rf "$tmp/target"
  "$tmp/bin/sqlx" --version >/dev/null
  peer_publish "$tmp" "$dir"
  trap - EXIT
fi
echo "$bin"
