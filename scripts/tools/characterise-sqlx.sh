#!/usr/bin/env bash
# Drives sqlx-cli (scripts/peers/sqlx.sh) through the scenarios of docs/tools/sqlx.md: applied,
# reverted, failing half-way (in a transaction and with `-- no-transaction`), out of order, a
# row without a file, an edited file (checksum), a `success = false` row (sqlx on PostgreSQL
# never writes one: inserted by hand, labelled so, to show what sqlx's own commands make of
# it), names sqlx skips or refuses. After each step: `sqlx migrate info` (which creates the
# table, sqlx#4105), the rows of _sqlx_migrations and, for checksums, sha384sum of the file.
#   scripts/tools/characterise-sqlx.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
sqlx=$("$here/../peers/sqlx.sh")
work=${1:-$(mktemp -d)}
m=$work/migrations
rm -rf "$m"; mkdir -p "$m"
DB=$(tools_db sqlx_char)
s() { NO_COLOR=1 "$sqlx" migrate "$@" --source "$m" --database-url "$DB?sslmode=disable"; }
state() { echo "rows: $(rows "SELECT version, success, substr(encode(checksum, 'hex'), 1, 16) FROM _sqlx_migrations ORDER BY version" | tr '\n' ' ')"; }
tables() { echo "tables: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"; }

printf 'CREATE TABLE a (id int);\n' > "$m/1_create_a.sql"
printf 'CREATE TABLE b (id int);\n' > "$m/2_create_b.up.sql"
printf 'DROP TABLE b;\n' > "$m/2_create_b.down.sql"
tables
step "info, no table" s info; state
tables
echo "ddl:"; ddl _sqlx_migrations
step "run" s run; state
echo "sha384sum 1_create_a.sql: $(sha384sum "$m/1_create_a.sql" | cut -c1-16)"
echo "sha384sum 2_create_b.up.sql: $(sha384sum "$m/2_create_b.up.sql" | cut -c1-16)"
step "info, all applied" s info
printf 'CREATE TABLE c (id int);\nSELECT 1/0;\n' > "$m/3_create_c.sql"
step "run: 3 fails half-way" s run; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
step "info after the failure" s info
printf -- '-- no-transaction\nCREATE TABLE c (id int);\nSELECT 1/0;\n' > "$m/3_create_c.sql"
step "run: 3 fails half-way (-- no-transaction)" s run; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
rows 'DROP TABLE IF EXISTS c' >/dev/null
printf 'CREATE TABLE c (id int);\n' > "$m/3_create_c.sql"
step "run after fix" s run; state
step "revert (2 is reversible)" s revert; state
step "info after revert" s info
step "revert again (3 is simple: no down)" s revert; state
step "run" s run; state
printf 'SELECT 1;\n' > "$m/0_early.sql"
step "out of order: 0 added below the applied ones, info" s info
step "run: out of order" s run; state
printf 'CREATE TABLE a (id int); -- edited\n' > "$m/1_create_a.sql"
step "1 edited: info" s info
step "1 edited: run" s run; state
printf 'CREATE TABLE a (id int);\n' > "$m/1_create_a.sql"
rows "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99, 'gone', true, '\\x00', 1)" >/dev/null
step "a row without a file (99): info" s info
step "a row without a file: run" s run
step "a row without a file: run --ignore-missing" s run --ignore-missing; state
rows "DELETE FROM _sqlx_migrations WHERE version = 99" >/dev/null
rows "UPDATE _sqlx_migrations SET success = false WHERE version = 3" >/dev/null
echo "== BY HAND: UPDATE _sqlx_migrations SET success = false WHERE version = 3 (sqlx 0.9 on PostgreSQL never writes false)"
step "success = false at 3: info" s info; state
step "success = false at 3: run" s run
step "success = false at 3: revert" s revert
rows "UPDATE _sqlx_migrations SET success = true WHERE version = 3" >/dev/null
printf 'SELECT 1;\n' > "$m/README.md"; printf 'SELECT 1;\n' > "$m/4.sql"; printf 'SELECT 1;\n' > "$m/5_x.SQL"
mkdir -p "$m/6_dir.sql"; printf 'SELECT 1;\n' > "$m/007_padded.sql"
step "names: README.md 4.sql 5_x.SQL 6_dir.sql/ 007_padded.sql, info" s info
step "names: run" s run; state
printf 'SELECT 1;\n' > "$m/7_again.sql"
step "two files with version 7 (007_padded.sql, 7_again.sql): info" s info
step "two files with version 7: run" s run; state
rm "$m/7_again.sql"
printf 'SELECT 1;\n' > "$m/x8_bad.sql"
step "a name sqlx refuses (x8_bad.sql): info" s info
rm "$m/x8_bad.sql"
printf 'SELECT 1;\n' > "$m/-9_negative.sql"
step "a negative version (-9_negative.sql): info" s info
rm -- "$m/-9_negative.sql"
DB=$(tools_db sqlx_char)
rows "CREATE ROLE sqlx_reader LOGIN PASSWORD 'r'" >/dev/null 2>&1 || true
reader=${DB/postgres:postgres@/sqlx_reader:r@}
step "info as a role without CREATE, no table" env NO_COLOR=1 "$sqlx" migrate info --source "$m" --database-url "$reader?sslmode=disable"
