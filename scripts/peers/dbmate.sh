#!/usr/bin/env bash
# dbmate as Node users install it: `npm install dbmate@<version>` from npm, whose optional
# dependency @dbmate/linux-x64 ships the prebuilt binary (nothing is downloaded at install
# time beyond the registry's packages). Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/dbmate/<version>/ (npm's own cache keeps the
# tarballs). Prints the path of the dbmate binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=2.36.0
dir=$(peer_dir dbmate "$version")
bin="$dir/bin/dbmate"
if [ ! -x "$bin" ]; then
  peer_log "installing dbmate $version from npm"
  tmp=$(peer_tmp "$dir")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
    "dbmate@$version" "@dbmate/linux-x64@$version" >&2
  mkdir -p "$tmp/bin"
  # The platform package's binary itself (the `dbmate` package's bin is a Node launcher).
  ln -s ../node_modules/@dbmate/linux-x64/bin/dbmate "$tmp/bin/dbmate"
  "$tmp/bin/dbmate" --version >/dev/null
  peer_publish "$tmp" "$dir"
  trap - EXIT
fi
echo "$bin"
