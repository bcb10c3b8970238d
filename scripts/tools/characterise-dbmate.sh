#!/usr/bin/env bash
# Drives dbmate (scripts/peers/dbmate.sh) through the scenarios of docs/tools/dbmate.md and
# prints, after each step, its output and exit code and the rows of schema_migrations.
#   scripts/tools/characterise-dbmate.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
dbmate=$("$here/../peers/dbmate.sh")
work=${1:-$(mktemp -d)}
rm -rf "$work/a" "$work/b"; mkdir -p "$work/a" "$work/b"
DB=$(tools_db dbmate_char)
dirs=(-d "$work/a")
d() { "$dbmate" --url "$DB?sslmode=disable" --no-dump-schema "${dirs[@]}" "$@"; }
state() { echo "rows: $(rows 'SELECT version FROM schema_migrations ORDER BY version' | tr '\n' ' ')"; }
mig() { printf -- '-- migrate:up\n%s\n-- migrate:down\n%s\n' "$2" "${3:-SELECT 1;}" > "$1"; }

mig "$work/a/001_a.sql" 'CREATE TABLE a (id int);' 'DROP TABLE a;'
mig "$work/a/002_b.sql" 'CREATE TABLE b (id int);' 'DROP TABLE b;'
step "status, no table" d status; state
step "status --exit-code, no table" d status --exit-code
step "migrate" d migrate; state
echo "ddl:"; ddl schema_migrations
step "status --exit-code, all applied" d status --exit-code
mig "$work/a/003_c.sql" 'CREATE TABLE c (id int); SELECT 1/0;'
step "migrate: 003 fails half-way" d migrate; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
step "status --exit-code, 003 pending" d status --exit-code
printf -- '-- migrate:up transaction:false\nCREATE TABLE c (id int);\nSELECT 1/0;\n-- migrate:down\nDROP TABLE c;\n' > "$work/a/003_c.sql"
step "migrate: 003 fails half-way (transaction:false)" d migrate; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
rows 'DROP TABLE c' >/dev/null
mig "$work/a/003_c.sql" 'CREATE TABLE c (id int);' 'DROP TABLE c;'
step "migrate after fix" d migrate; state
step "rollback" d rollback; state
step "status after rollback" d status --exit-code
step "migrate" d migrate; state
mig "$work/a/1_one.sql" 'SELECT 1;'
step "1_one.sql beside 001_a.sql: strings, not numbers" d status; state
step "migrate applies 1 out of order" d migrate; state
mig "$work/a/0005_e.sql" 'SELECT 1;'
mig "$work/a/004_d.sql" 'SELECT 1;'
step "status: sorted by file name" d status
step "migrate --strict with 004 and 0005 pending" d migrate --strict; state
step "migrate" d migrate; state
mig "$work/a/003_dup.sql" 'SELECT 1;'
step "two files with version 003" d status --exit-code; state
rm "$work/a/003_dup.sql"
mig "$work/b/006_f.sql" 'SELECT 1;'
dirs=(-d "$work/a" -d "$work/b")
step "two directories (-d twice)" d status --exit-code; state
step "migrate from two directories" d migrate; state
dirs=(-d "$work/a")
rows "INSERT INTO schema_migrations VALUES ('999')" >/dev/null
step "a row without a file: status" d status --exit-code
step "a row without a file: rollback" d rollback; state
printf 'x' > "$work/a/README.md"; printf 'x' > "$work/a/x7_y.sql"; printf 'x' > "$work/a/8_h.SQL"; mkdir -p "$work/a/9_dir.sql"
mig "$work/a/10.sql" 'SELECT 1;'; mig "$work/a/11a.sql" 'SELECT 1;'
step "names: README.md x7_y.sql 8_h.SQL 9_dir.sql/ 10.sql 11a.sql" d status
DBMATE_MIGRATIONS_DIR="$work/a,$work/b" "$dbmate" --url "$DB?sslmode=disable" status --exit-code >/dev/null 2>&1 && rc=0 || rc=$?
echo "== DBMATE_MIGRATIONS_DIR=a,b status --exit-code"; echo "exit=$rc"
