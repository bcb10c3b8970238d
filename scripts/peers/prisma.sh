#!/usr/bin/env bash
# Prisma Migrate as Node users install it: `npm install prisma @prisma/adapter-pg pg` from npm.
# Only the 6.x line runs here: its CLI carries the schema engine compiled to WebAssembly
# (build/schema_engine_bg.wasm), used when prisma.config.ts says `engine: 'js'` and gives a
# driver adapter; every other way (and every 7.x release, which no longer ships it) downloads a
# native engine from outside the registries. @prisma/adapter-pg 7.10.1, not 6.19: the 6.x
# adapter cannot read PostgreSQL's `name` columns, which the engine's own queries return
# (prisma/orm#27403; the 7.x adapter can, and keeps the same interface). Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/prisma/<version>/ (npm's cache keeps the
# tarballs). Prints the path of a `prisma` wrapper that keeps the CLI off the network
# (no update check, no telemetry, the query compiler instead of a native query engine); run it
# in a project whose node_modules is this one's (prisma.config.ts imports from it). Beside it,
# `prisma-session` runs many command lines of that same CLI in one Node process (one a line on
# stdin, arguments tab-separated, each answer ending `== exit N`: scripts/peers/prisma/
# session.js, copied in when it changes), for the differential test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=6.19.3
adapter=7.10.1
pg=8.23.1
dir=$(peer_dir prisma "$version")
bin="$dir/bin/prisma"
if [ ! -x "$bin" ]; then
  peer_log "installing prisma $version, @prisma/adapter-pg $adapter and pg $pg from npm"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  # The engines package's postinstall tries to download native engines and fails quietly.
  PRISMA_SKIP_POSTINSTALL_GENERATE=1 npm install --prefix "$tmp" --no-audit --no-fund --no-save \
    --loglevel=error "prisma@$version" "@prisma/adapter-pg@$adapter" "pg@$pg" >&2
  test -f "$tmp/node_modules/prisma/build/schema_engine_bg.wasm"
  mkdir -p "$tmp/bin"
  # shellcheck disable=SC2016 # expanded when the wrapper runs
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nCHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 PRISMA_CLIENT_ENGINE_TYPE=client \\\n  exec node "$d/node_modules/prisma/build/index.js" "$@"\n' \
    > "$tmp/bin/prisma"
  chmod +x "$tmp/bin/prisma"
  peer_publish "$tmp" "$dir"
  trap - EXIT
fi
# The session driver: refreshed in place (one file, renamed in) when the repository's differs.
if ! cmp -s "$here/prisma/session.js" "$dir/bin/session.js"; then
  cp "$here/prisma/session.js" "$dir/bin/session.js.$$"
  mv -f "$dir/bin/session.js.$$" "$dir/bin/session.js"
fi
if [ ! -x "$dir/bin/prisma-session" ]; then
  # shellcheck disable=SC2016 # expanded when the wrapper runs
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nCHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 PRISMA_CLIENT_ENGINE_TYPE=client \\\n  exec node "$d/bin/session.js" "$d/node_modules" "$@"\n' \
    > "$dir/bin/prisma-session.$$"
  chmod +x "$dir/bin/prisma-session.$$"
  mv -f "$dir/bin/prisma-session.$$" "$dir/bin/prisma-session"
fi
echo "$bin"
