#!/usr/bin/env bash
# Drives the real golang-migrate CLI through the scenarios of docs/tools/golang-migrate.md and
# prints, after each step, the CLI's output and exit code and the rows of schema_migrations.
# The output is the evidence docs/tools/golang-migrate.md quotes. Needs PostgreSQL (scripts/tools/pg.sh).
#   scripts/tools/characterise-golang-migrate.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
migrate=$("$here/../peers/golang-migrate.sh")
work=${1:-$(mktemp -d)}
rm -rf "$work/m"; mkdir -p "$work/m"
DB=$(tools_db gm_char)
src="file://$work/m"
m() { "$migrate" -source "$src" -database "$DB?sslmode=disable" "$@"; }
state() { echo "rows: $(rows 'SELECT version, dirty FROM schema_migrations' | tr '\n' ' ')"; }

printf 'CREATE TABLE a (id int);\n' > "$work/m/1_a.up.sql"
printf 'DROP TABLE a;\n' > "$work/m/1_a.down.sql"
printf 'CREATE TABLE b (id int);\n' > "$work/m/2_b.up.sql"
printf 'DROP TABLE b;\n' > "$work/m/2_b.down.sql"
printf 'CREATE TABLE c (id int);\nSELECT 1/0;\n' > "$work/m/3_c.up.sql"
printf 'DROP TABLE c;\n' > "$work/m/3_c.down.sql"

step "version, no table" m version; state
echo "ddl:"; ddl schema_migrations
step "up 2" m up 2; state
step "version at 2" m version; state
step "up: 3 fails half-way" m up; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
step "version while dirty" m version
step "up while dirty" m up; state
step "down 1 while dirty" m down 1; state
step "force 2" m force 2; state
printf 'CREATE TABLE c (id int);\n' > "$work/m/3_c.up.sql"
step "up after fix" m up; state
printf 'DROP TABLE c;\nSELECT 1/0;\n' > "$work/m/3_c.down.sql"
step "down 1: the down of 3 fails" m down 1; state
step "version after failed down" m version
step "force 3" m force 3; state
printf 'DROP TABLE c;\n' > "$work/m/3_c.down.sql"
step "down 1" m down 1; state
step "version at 2" m version
printf 'CREATE TABLE e (id int);\n' > "$work/m/5_e.up.sql"
step "up to 5" m up; state
printf 'CREATE TABLE d (id int);\n' > "$work/m/4_d.up.sql"
step "out of order: 4 added below 5, up" m up; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
step "goto 4 (down from 5 without a down file)" m goto 4; state
rm "$work/m/4_d.up.sql"
step "force 9 (a version with no file)" m force 9; state
step "version at 9" m version
step "up at an unknown version" m up; state
step "force 5" m force 5; state
printf 'SELECT 1;\n' > "$work/m/7_g.down.sql"
step "down-only file 7: up" m up; state
step "force -1" m force -- -1; state
step "version after force -1" m version
step "drop -f" m drop -f; state
printf 'CREATE TABLE a (id int);\nSELECT 1/0;\n' > "$work/m/1_a.up.sql"
step "first migration fails" m up; state
step "force -1 again" m force -- -1; state
printf 'CREATE TABLE a (id int);\n' > "$work/m/1_a.up.sql"
printf 'SELECT 1/0;\n' > "$work/m/1_a.down.sql"
step "up 1" m up 1; state
step "down of the first migration fails" m down 1; state
step "version when dirty at -1" m version
step "up when dirty at -1" m up; state
step "force -1 once more" m force -- -1; state
printf 'x' > "$work/m/1_a.down.sql"; printf 'y' > "$work/m/01_dup.down.sql"
step "duplicate version (1 and 01, both down)" m version
rm "$work/m/01_dup.down.sql"
printf 'z' > "$work/m/08_x.UP.sql"; printf 'z' > "$work/m/x_9.up.sql"; mkdir -p "$work/m/10_dir.up.sql"
step "names that do not match are skipped" m force 3; state
rows "CREATE TABLE IF NOT EXISTS b (id int); CREATE TABLE IF NOT EXISTS c (id int); DROP TABLE IF EXISTS e" >/dev/null
step "up skips 08_x.UP.sql and the directory" m up; state
