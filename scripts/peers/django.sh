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
bin="$dir/bin/django-admin"
stamp=$(sha256sum < "$req" | cut -c1-16)
if [ ! -x "$bin" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
  peer_log "installing Django $version from PyPI into a venv"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req" >&2
  mkdir -p "$tmp/bin"
  # `python -m django`, not the venv's console script: the venv is built here and renamed
  # into place, and only its console scripts name their directory.
  # shellcheck disable=SC2016 # the wrappers expand $0 and $@ when they run, not now
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec "$d/venv/bin/python" %s"$@"\n' \
    '-m django ' > "$tmp/bin/django-admin"
  # shellcheck disable=SC2016
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec "$d/venv/bin/python" %s"$@"\n' \
    '' > "$tmp/bin/python"
  chmod +x "$tmp/bin/django-admin" "$tmp/bin/python"
  "$tmp/bin/django-admin" --version >/dev/null
  echo "$stamp" > "$tmp/stamp"
  rm -rf "$dir.old"
  if [ -e "$dir" ]; then mv -T "$dir" "$dir.old"; fi
  peer_publish "$tmp" "$dir"
  rm -rf "$dir.old"
  trap - EXIT
fi
echo "$bin"
