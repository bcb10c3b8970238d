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

ready() { [ -x "$1/bin/dbmate" ]; }

build() {
  peer_log "installing dbmate $version from npm"
  peer_npm "$1" "dbmate@$version" "@dbmate/linux-x64@$version"
  mkdir -p "$1/bin"
  # The platform package's binary itself (the `dbmate` package's bin is a Node launcher).
  ln -s ../node_modules/@dbmate/linux-x64/bin/dbmate "$1/bin/dbmate"
  "$1/bin/dbmate" --version >/dev/null
}

peer_install "$dir" ready build
peer_paths "$dir" bin/dbmate
