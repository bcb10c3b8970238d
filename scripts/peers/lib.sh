# shellcheck shell=bash
# Shared by the peer scripts of scripts/peers/: where a peer is cached, how a build lands there
# atomically (built in a temporary directory beside it, then renamed into place, so an
# interrupted or concurrent install never leaves a half-built peer that a later run trusts), and
# how the installed paths are printed (stdout carries only paths; progress goes to stderr).
#
#   peer_dir TOOL VERSION        prints ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/TOOL/VERSION
#   peer_install DIR READY BUILD unless `READY DIR` succeeds: runs `BUILD TMP` in a fresh
#                                temporary directory beside DIR, checks `READY TMP`, and puts TMP
#                                in place as DIR (replacing an incomplete or outdated DIR; if a
#                                concurrent install made DIR ready meanwhile, theirs stays). BUILD
#                                runs under the caller's `set -e`: a failing step exits the script,
#                                and the temporary directory is removed. Call it as a plain
#                                command (not in `if` or `||`, which would switch `set -e` off).
#   peer_paths DIR PATH...       prints DIR/PATH for each PATH, one a line
#   peer_need COMMAND WHAT       exits 1 unless COMMAND is on PATH, saying the peer needs WHAT
#   peer_log MESSAGE             a progress line on stderr, named after the script
#   peer_npm PREFIX ARGS...      `npm install` of ARGS (packages, options) into PREFIX, quietly
#   peer_maven POM LIBDIR        Maven copies POM's runtime dependencies (jars) into LIBDIR
#   peer_venv TMP REQS CMD MODULE
#                                a Python venv in TMP/venv with REQS (a pinned requirements file)
#                                installed by pip, and wrappers TMP/bin/CMD (`python -m MODULE`)
#                                and TMP/bin/python that find the venv wherever TMP is renamed to
#
# The lower-level steps peer_install is made of, for a script that needs them alone:
#   peer_tmp DIR                 makes and prints a fresh temporary directory beside DIR
#   peer_publish TMP DIR         renames TMP to DIR (another process that won the race wins)
#   peer_replace TMP DIR         renames TMP to DIR, moving an existing DIR aside and removing it

peer_dir() {
  printf '%s/%s/%s\n' "${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}" "$1" "$2"
}

peer_log() {
  echo "${0##*/}: $*" >&2
}

peer_need() {
  command -v "$1" >/dev/null 2>&1 || { peer_log "needs $2"; exit 1; }
}

peer_paths() {
  local dir=$1 path
  shift
  for path in "$@"; do printf '%s/%s\n' "$dir" "$path"; done
}

peer_tmp() {
  mkdir -p "$(dirname "$1")"
  local tmp
  tmp=$(mktemp -d "$1.tmp.XXXXXX")
  chmod 755 "$tmp"
  echo "$tmp"
}

peer_publish() {
  if ! mv -T "$1" "$2" 2>/dev/null; then
    # Another install finished first; theirs is as good as ours.
    [ -e "$2" ] || { echo "peer: could not move $1 to $2" >&2; return 1; }
    rm -rf "$1"
  fi
}

peer_replace() {
  local old=""
  if [ -e "$2" ]; then
    old=$(mktemp -u "$2.old.XXXXXX")
    mv -T "$2" "$old" 2>/dev/null || old=""
  fi
  peer_publish "$1" "$2"
  [ -z "$old" ] || rm -rf "$old"
}

# The temporary directory of the install under way (global: the EXIT trap reads it).
PEER_TMP=""

peer_install() {
  local dir=$1 ready=$2 build=$3
  "$ready" "$dir" && return 0
  PEER_TMP=$(peer_tmp "$dir")
  trap 'rm -rf "$PEER_TMP"' EXIT
  "$build" "$PEER_TMP"
  "$ready" "$PEER_TMP" || { peer_log "the build in $PEER_TMP is incomplete"; exit 1; }
  if "$ready" "$dir"; then
    rm -rf "$PEER_TMP" # a concurrent install finished first; its copy is as good
  else
    peer_replace "$PEER_TMP" "$dir"
  fi
  trap - EXIT
  PEER_TMP=""
}

peer_npm() {
  local prefix=$1
  shift
  npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "$@" >&2
}

peer_maven() {
  mvn -q -B -Dstyle.color=never -f "$1" dependency:copy-dependencies \
    -DoutputDirectory="$2" -DincludeScope=runtime >&2
}

peer_venv() {
  local tmp=$1 reqs=$2 cmd=$3 module=$4
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$reqs" >&2
  mkdir -p "$tmp/bin"
  # `python -m MODULE`, not the venv's console script: the venv is built here and renamed
  # into place, and only its console scripts name their directory.
  # shellcheck disable=SC2016 # the wrappers expand $0 and $@ when they run, not now
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec "$d/venv/bin/python" %s"$@"\n' \
    "-m $module " > "$tmp/bin/$cmd"
  # shellcheck disable=SC2016
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec "$d/venv/bin/python" %s"$@"\n' \
    '' > "$tmp/bin/python"
  chmod +x "$tmp/bin/$cmd" "$tmp/bin/python"
}
