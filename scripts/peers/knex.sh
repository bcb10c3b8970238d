#!/usr/bin/env bash
# knex as Node users install it: `npm install knex pg` from npm (pure JavaScript; nothing is
# downloaded at install time beyond the registry's packages). Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/knex/<version>/ (npm's own cache keeps the
# tarballs). Prints the path of the knex CLI (run it where a knexfile.js is, or with --knexfile).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=3.3.0
pg=8.23.1
dir=$(peer_dir knex "$version")
bin="$dir/node_modules/.bin/knex"
if [ ! -x "$bin" ]; then
  peer_log "installing knex $version and pg $pg from npm"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
    "knex@$version" "pg@$pg" >&2
  "$tmp/node_modules/.bin/knex" --version >/dev/null
  peer_publish "$tmp" "$dir"
  trap - EXIT
fi
echo "$bin"
