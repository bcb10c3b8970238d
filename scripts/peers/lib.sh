# shellcheck shell=bash
# Shared by the peer scripts of scripts/peers/: where a peer is cached, and how a build lands
# there atomically (built in a temporary directory beside it, then renamed into place, so an
# interrupted or concurrent install never leaves a half-built peer that a later run trusts).
#
#   peer_dir TOOL VERSION        prints ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/TOOL/VERSION
#   peer_tmp DIR                 makes and prints a fresh temporary directory beside DIR
#   peer_publish TMP DIR         renames TMP to DIR (another process that won the race wins)
#   peer_log MESSAGE             a progress line on stderr (stdout carries only paths)

peer_dir() {
  printf '%s/%s/%s\n' "${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}" "$1" "$2"
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

peer_log() {
  echo "peer: $*" >&2
}
