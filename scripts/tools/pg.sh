#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for characterising migration tools by hand
# and for the tools' differential drivers (the Rust tests have tests/support/postgres.rs).
#
#   scripts/tools/pg.sh start DIR    initdb (trust for local, scram for 127.0.0.1) and start;
#                                    prints PORT; the superuser is postgres, password postgres
#   scripts/tools/pg.sh stop DIR     fast shutdown
#   scripts/tools/pg.sh url DIR [DB] prints postgres://postgres:postgres@127.0.0.1:PORT/DB
#
# PG_BIN picks the server (default: the newest /usr/lib/postgresql/*/bin). As root the server
# runs as user postgres through setpriv, as the test suite does.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|url DIR}
dir=${2:?usage: pg.sh start|stop|url DIR}
bin=${PG_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -1)}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      echo postgres > "$dir/pw"
      [ "$(id -u)" = 0 ] && chown postgres "$dir/pw"
      as_pg "$bin/initdb" -A trust --auth-host=scram-sha-256 -U postgres --pwfile="$dir/pw" \
        -E UTF8 --locale=C --no-sync -D "$dir/data" >"$dir/initdb.log"
    fi
    port=$(free_port)
    echo "$port" > "$dir/port"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" \
      start >/dev/null
    echo "$port"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  url)
    echo "postgres://postgres:postgres@127.0.0.1:$(cat "$dir/port")/${3:-postgres}"
    ;;
  *)
    echo "usage: pg.sh start|stop|url DIR" >&2
    exit 2
    ;;
esac
