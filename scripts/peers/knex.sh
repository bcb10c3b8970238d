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

ready() { [ -x "$1/node_modules/.bin/knex" ]; }

build() {
  peer_log "installing knex $version and pg $pg from npm"
  peer_npm "$1" "knex@$version" "pg@$pg"
  "$1/node_modules/.bin/knex" --version >/dev/null
}

peer_install "$dir" ready build
peer_paths "$dir" node_modules/.bin/knex
