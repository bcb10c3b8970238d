#!/usr/bin/env bash
# Alembic as Python users install it: pip from PyPI into a virtual environment, with the psycopg2
# driver, every package pinned in scripts/peers/alembic/requirements.txt. Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/alembic/<version>/ (pip's own cache keeps the
# wheels). Prints the path of an `alembic` wrapper (`python -m alembic` in that venv; `python`
# is beside it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

req="$here/alembic/requirements.txt"
version=$(sed -n 's/^alembic==//p' "$req")
dir=$(peer_dir alembic "$version")
stamp=$(sha256sum < "$req" | cut -c1-16)

ready() { [ -x "$1/bin/alembic" ] && [ "$(cat "$1/stamp" 2>/dev/null)" = "$stamp" ]; }

build() {
  peer_log "installing Alembic $version from PyPI into a venv"
  peer_venv "$1" "$req" alembic alembic
  "$1/bin/alembic" --version >/dev/null
  echo "$stamp" > "$1/stamp"
}

peer_install "$dir" ready build
peer_paths "$dir" bin/alembic
