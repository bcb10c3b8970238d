#!/usr/bin/env bash
# Django as Python users install it: pip from PyPI into a virtual environment, with the psycopg2
# driver, every package pinned in scripts/peers/django/requirements.txt. Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/django/<version>/ (pip's own cache keeps the
# wheels). Prints the path of a `django-admin` wrapper (`python -m django` in that venv; `python`
# is beside it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

req="$here/django/requirements.txt"
version=$(sed -n 's/^Django==//p' "$req")
dir=$(peer_dir django "$version")
stamp=$(sha256sum < "$req" | cut -c1-16)

ready() { [ -x "$1/bin/django-admin" ] && [ "$(cat "$1/stamp" 2>/dev/null)" = "$stamp" ]; }

build() {
  peer_log "installing Django $version from PyPI into a venv"
  peer_venv "$1" "$req" django-admin django
  "$1/bin/django-admin" --version >/dev/null
  echo "$stamp" > "$1/stamp"
}

peer_install "$dir" ready build
peer_paths "$dir" bin/django-admin
