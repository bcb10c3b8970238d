#!/usr/bin/env bash
# VictoriaMetrics, the deployment's monitoring stack, built from the Go module proxy: the
# single-node server (victoria-metrics), vmagent and vmalert, pinned, static (CGO_ENABLED=0).
#
#   scripts/peers/victoriametrics.sh      prints the three binaries' paths, one a line:
#                                         victoria-metrics, vmagent, vmalert
#
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/victoriametrics/VERSION/bin; built
# into a temporary directory beside it and renamed into place (scripts/peers/lib.sh), so an
# interrupted build leaves
# nothing half-made. A cold build takes a few minutes (Go's module and build caches make a
# rebuild faster); a warm run prints the paths at once. Environment: VICTORIAMETRICS_VERSION
# (default below: the newest release that builds with Go 1.26).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

version=${VICTORIAMETRICS_VERSION:-v1.151.0}
module=github.com/VictoriaMetrics/VictoriaMetrics
apps=(victoria-metrics vmagent vmalert)
dir=$(peer_dir victoriametrics "$version")

ready() {
  local app
  for app in "${apps[@]}"; do [ -x "$1/bin/$app" ] || return 1; done
}

build() {
  local app
  peer_need go "Go 1.26 or newer"
  peer_log "building ${apps[*]} $version (a few minutes, once)"
  for app in "${apps[@]}"; do
    # One build per app, so that each binary's -version names itself, as upstream's do.
    GOBIN=$1/bin CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install \
      -ldflags "-s -w -X $module/lib/buildinfo.Version=$app-$version" "$module/app/$app@$version" >&2
  done
}

peer_install "$dir" ready build
peer_paths "$dir/bin" "${apps[@]}"
