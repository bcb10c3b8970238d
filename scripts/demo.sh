#!/usr/bin/env bash
# The gate doing its job, end to end, on this machine: starts a throwaway PostgreSQL, runs the
# real goose (the deployment's pinned v3.22.1, built once by scripts/peers/goose.sh and cached)
# to migration 1 of examples/migrations, then shows `check` refusing, `wait` blocking while
# `goose up` has not run, both opening the moment goose applies migration 2, and `goose down`
# closing the gate again. Cleans up after itself.
#
#   ./scripts/demo.sh          (needs the postgresql package, as root it installs it, and Go:
#                               the first run builds goose, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

newest_pg_bin() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1; }
pg_bin=$(newest_pg_bin || true)
if [ -z "$pg_bin" ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing PostgreSQL (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(newest_pg_bin)
  else
    echo "demo: PostgreSQL server not found; install it: sudo apt-get install postgresql" >&2
    exit 1
  fi
fi

say "building schema-gate, and goose v3.22.1 (cached after the first run)"
cargo build --quiet --bin schema-gate
gate=$PWD/target/debug/schema-gate
[ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
goose_cli=$(scripts/peers/goose.sh v3.22.1)
migrations=$PWD/examples/migrations

work=$(mktemp -d /tmp/schema-gate-demo.XXXXXX)
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"   # initdb and postgres refuse to run as root
  run_as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  if [ -n "${wait_pid:-}" ]; then kill "$wait_pid" 2>/dev/null || true; fi
  "${run_as[@]}" "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "starting a throwaway PostgreSQL on 127.0.0.1:$port"
"${run_as[@]}" "$pg_bin/initdb" -A trust -U postgres --no-sync -D "$work/data" >/dev/null
printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$work/data/pg_hba.conf"
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql() { "$pg_bin/psql" -h "$work" -p "$port" -U postgres -d app -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
"$pg_bin/psql" -h "$work" -p "$port" -U postgres -d postgres -qAtX -c "CREATE DATABASE app"

goose() {
  echo "\$ goose $*"
  (cd "$work" && "$goose_cli" -dir "$migrations" postgres \
    "host=$work port=$port user=postgres dbname=app sslmode=disable" "$@" 2>&1 | sed 's/^/  /')
}

say "goose up-to 1 (the real goose CLI), and a least-privilege role for the gate"
goose up-to 1
psql "CREATE ROLE gate LOGIN PASSWORD 'demo-password';
      GRANT SELECT ON goose_db_version TO gate;"
goose status

export DATABASE_URL="postgres://gate:demo-password@127.0.0.1:$port/app"
export GATE_MIGRATIONS_DIR=$migrations GATE_INTERVAL=500ms GATE_TERMINATION_LOG=$work/termination-log

say "schema-gate check   (the build ships examples/migrations: 00001, 00002)"
set +e
"$gate" check; echo "exit code: $?"
"$gate" check --json; echo "exit code: $?"
set -e

say "schema-gate wait -- echo 'app starting'   (blocks until every migration is applied)"
"$gate" wait -- echo "app starting: schema is there" &
wait_pid=$!
sleep 3
say "goose up: the migrate Job applies migration 2"
goose up
wait "$wait_pid"; echo "wait exit code: $?"
wait_pid=

say "schema-gate check, and schema-gate status (goose status, read-only)"
"$gate" check; echo "exit code: $?"
"$gate" status

say "a rollback (goose down deletes the row): check fails again"
goose down
set +e
"$gate" check; echo "exit code: $?"
echo "termination message: $(cat "$work/termination-log")"
set -e
say "done: the password never appeared above"
