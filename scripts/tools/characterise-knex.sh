#!/usr/bin/env bash
# Drives knex (scripts/peers/knex.sh) through the scenarios of docs/tools/knex.md: applied,
# rolled back by batch, failing half-way (in knex's transaction and with
# `config = { transaction: false }`), out of order, a row without a file ("corrupt"), file
# names and extensions, two directories, and the lock: seen from another session while a
# migration runs (with and without knex's transaction), and left held by a killed migrator.
# After each step: `knex migrate:status` (which creates both tables and the lock row), the rows
# of knex_migrations and knex_migrations_lock.
#   scripts/tools/characterise-knex.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
knex=$("$here/../peers/knex.sh")
work=${1:-$(mktemp -d)}
proj=$work/proj
rm -rf "$proj"; mkdir -p "$proj/migrations" "$proj/more"
# knex's CLI runs the project's own knex: the project's node_modules is the installed one.
ln -s "$(dirname "$(dirname "$knex")")" "$proj/node_modules"
DB=$(tools_db knex_char)
export DATABASE_URL=$DB
cat > "$proj/knexfile.js" <<'EOF'
const dirs = (process.env.KNEX_DIRS || './migrations').split(',');
module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: dirs } };
EOF
mig() { # mig FILE UP_SQL DOWN_SQL [transaction false]
  {
    [ -n "${4:-}" ] && printf 'exports.config = { transaction: false };\n'
    printf 'exports.up = async (knex) => {\n'
    local stmt
    IFS=';' read -r -a stmts <<<"$2"
    for stmt in "${stmts[@]}"; do printf '  await knex.raw(%s);\n' "'$stmt'"; done
    printf '};\nexports.down = (knex) => knex.raw(%s);\n' "'$3'"
  } > "$proj/$1"
}
cd "$proj"
k() { "$knex" --knexfile "$proj/knexfile.js" "$@"; }
state() {
  echo "rows: $(rows 'SELECT id, name, batch FROM knex_migrations ORDER BY id' | tr '\n' ' ')"
  echo "lock: $(rows 'SELECT index, is_locked FROM knex_migrations_lock' | tr '\n' ' ')"
}
tables() { echo "tables: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"; }
# wait_for SQL: polls until the query prints t (60 s at most)
wait_for() {
  local deadline=$((SECONDS + 60))
  until [ "$(rows "$1")" = t ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $1"; return 1; }
  done
}

mig migrations/20240101000001_a.js 'CREATE TABLE a (id int)' 'DROP TABLE a'
mig migrations/20240101000002_b.js 'CREATE TABLE b (id int)' 'DROP TABLE b'
tables
step "no table: migrate:status" k migrate:status
tables; state
echo "ddl:"; ddl knex_migrations; ddl knex_migrations_lock
step "migrate:latest" k migrate:latest; state
step "all applied: migrate:status" k migrate:status
mig migrations/20240101000003_c.js 'CREATE TABLE c (id int); SELECT 1/0' 'DROP TABLE c'
step "migrate:latest: 3 fails half-way" k migrate:latest; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
step "after the failure: migrate:status" k migrate:status
mig migrations/20240101000003_c.js 'CREATE TABLE c (id int); SELECT 1/0' 'DROP TABLE c' no-transaction
step "migrate:latest: 3 fails half-way (transaction: false)" k migrate:latest; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
rows 'DROP TABLE c' >/dev/null
mig migrations/20240101000003_c.js 'CREATE TABLE c (id int)' 'DROP TABLE c'
step "migrate:latest after fix (batch 2)" k migrate:latest; state
step "migrate:rollback (the last batch)" k migrate:rollback; state
step "rolled back: migrate:status" k migrate:status
step "migrate:up (the next one)" k migrate:up; state
mig migrations/20231231000000_early.js 'SELECT 1' 'SELECT 1'
step "out of order: a file sorting first, migrate:status" k migrate:status
step "migrate:latest: out of order" k migrate:latest; state
rows "INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('20991231000000_gone.js', 9, now())" >/dev/null
step "a row without a file: migrate:status" k migrate:status
step "a row without a file: migrate:latest" k migrate:latest
rows "DELETE FROM knex_migrations WHERE name = '20991231000000_gone.js'" >/dev/null
printf 'exports.up = (knex) => knex.raw(%s);\nexports.down = (knex) => knex.raw(%s);\n' "'SELECT 1'" "'SELECT 1'" > migrations/20240101000004_d.ts
cp migrations/20240101000004_d.ts migrations/20240101000005_e.cjs
cp migrations/20240101000004_d.ts migrations/20240101000006_f.mjs
printf 'notes\n' > migrations/README.md
printf 'x\n' > migrations/.hidden.js
step "names: 4_d.ts 5_e.cjs 6_f.mjs README.md .hidden.js, migrate:status" k migrate:status
rm migrations/.hidden.js migrations/20240101000006_f.mjs migrations/20240101000004_d.ts
step "migrate:latest (5_e.cjs)" k migrate:latest; state
mv migrations/20240101000005_e.cjs migrations/20240101000005_e.js
step "5_e.cjs renamed to 5_e.js: migrate:status" k migrate:status
mv migrations/20240101000005_e.js migrations/20240101000005_e.cjs
mig more/20240101000007_g.js 'SELECT 1' 'SELECT 1'
export KNEX_DIRS=./migrations,./more
step "two directories: migrate:status" k migrate:status
step "two directories: migrate:latest" k migrate:latest; state
unset KNEX_DIRS; mv more/20240101000007_g.js migrations/

mig migrations/20240101000008_slow.js "SELECT pg_sleep(4)" 'SELECT 1'
"$knex" --knexfile "$proj/knexfile.js" migrate:latest > "$work/latest.out" 2>&1 &
pid=$!
wait_for "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()"
echo "== while 8_slow runs in knex's transaction (seen from another session)"; state
wait "$pid" && rc=0 || rc=$?; echo "migrate:latest exit=$rc"; state
k migrate:rollback >/dev/null 2>&1
mig migrations/20240101000008_slow.js "SELECT pg_sleep(4)" 'SELECT 1' no-transaction
"$knex" --knexfile "$proj/knexfile.js" migrate:latest > "$work/latest.out" 2>&1 &
pid=$!
wait_for "SELECT is_locked = 1 FROM knex_migrations_lock"
echo "== while 8_slow runs with transaction: false (seen from another session)"; state
step "lock held by a running migration: migrate:status" k migrate:status
wait "$pid" && rc=0 || rc=$?; echo "migrate:latest exit=$rc"; state
k migrate:rollback >/dev/null 2>&1
mig migrations/20240101000008_slow.js "SELECT pg_sleep(30)" 'SELECT 1' no-transaction
"$knex" --knexfile "$proj/knexfile.js" migrate:latest > "$work/latest.out" 2>&1 &
pid=$!
wait_for "SELECT is_locked = 1 FROM knex_migrations_lock"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
rows "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
echo "== migrator killed during 8_slow (transaction: false)"; state
step "stale lock: migrate:status" k migrate:status
step "stale lock: migrate:latest" k migrate:latest; state
step "migrate:unlock" k migrate:unlock; state
mig migrations/20240101000008_slow.js "SELECT 1" 'SELECT 1'
step "migrate:latest after unlock" k migrate:latest; state
step "migrate:currentVersion" k migrate:currentVersion
