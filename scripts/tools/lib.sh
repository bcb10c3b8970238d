# shellcheck shell=bash
# Shared by the characterisation and differential drivers in scripts/tools/: a scratch
# database per scenario, and one-line records of each step.
#
#   tools_db NAME            drops and creates database NAME on the cluster in $PGDIR; prints
#                            its URL (postgres://postgres:postgres@127.0.0.1:PORT/NAME)
#   rows SQL                 the query's rows, `|`-separated, one per line, on $DB
#   ddl TABLE                the table's DDL as pg_dump prints it (comments and SETs dropped)
#   step NAME CMD…           runs CMD, then prints `== NAME`, its output, `exit=N`
here_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGDIR=${PGDIR:-/tmp/schema-gate-tools-pg}
PG_BIN_DIR=${PG_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -1)}

tools_cluster() {
  if ! { [ -f "$PGDIR/port" ] && "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PGDIR/port")"; }; then
    "$here_tools/pg.sh" start "$PGDIR" >/dev/null
  fi
}

tools_db() {
  tools_cluster
  local admin
  admin=$("$here_tools/pg.sh" url "$PGDIR" postgres)
  psql -q -X "$admin" -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\"" >/dev/null
  "$here_tools/pg.sh" url "$PGDIR" "$1"
}

rows() {
  psql -X -At -F '|' "$DB" -c "$1" 2>&1 | grep -v -e '^LINE ' -e '^ *\^' || true
}

ddl() {
  "$PG_BIN_DIR/pg_dump" -s -t "$1" "$DB" | grep -v -e '^--' -e '^SET ' -e '^SELECT pg_catalog' -e '^$' -e '^\\\(un\)\?restrict '
}

step() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1) && rc=0 || rc=$?
  printf '== %s\n%s\nexit=%s\n' "$name" "$out" "$rc"
}
