#!/usr/bin/env bash
# Drives Flyway 13.12.0 (scripts/peers/flyway.sh) through the scenarios of docs/tools/flyway.md
# and prints, after each step, the command's output and exit code and the rows of
# flyway_schema_history. The output is the evidence docs/tools/flyway.md quotes.
#   scripts/tools/characterise-flyway.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
flyway=$("$here/../peers/flyway.sh")
work=${1:-$(mktemp -d)}
rm -rf "$work/sql"; mkdir -p "$work/sql"
DB=$(tools_db fw_char)
port=$(cat "$PGDIR/port")
extra=()
fw() {
  "$flyway" "$@" -url="jdbc:postgresql://127.0.0.1:$port/fw_char" -user=postgres -password=postgres \
    -locations="filesystem:$work/sql" "${extra[@]}" 2>&1 | grep -v -e '^WARNING' -e '^[A-Z][a-z][a-z] [0-9]' -e '^INFO:'
  return "${PIPESTATUS[0]}"
}
info() { fw info | grep -e '^migration' -e '^current'; }
state() {
  echo "rows:"
  rows 'SELECT installed_rank, version, description, type, script, checksum, success FROM flyway_schema_history ORDER BY installed_rank'
}

printf 'CREATE TABLE a (id int);\n' > "$work/sql/V1__a.sql"
printf 'CREATE TABLE b (id int);\r\nINSERT INTO b VALUES (1);\r\n' > "$work/sql/V1.1__b_crlf.sql"
printf '\xef\xbb\xbfCREATE TABLE c (id int);\n' > "$work/sql/V2__c_bom.sql"
step "info, no table" info; state
step "validate, no table" fw validate
step "migrate" fw migrate; state
echo "ddl:"; ddl flyway_schema_history
step "info after migrate" info
step "validate after migrate" fw validate
printf 'CREATE TABLE d (id int);\nSELECT 1/0;\n' > "$work/sql/V3__d_fails.sql"
step "migrate: V3 fails half-way (transactional)" fw migrate; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
step "info after transactional failure" info
printf -- '-- flyway:executeInTransaction=false\nCREATE TABLE d (id int);\nSELECT 1/0;\n' > "$work/sql/V3__d_fails.sql"
step "migrate: V3 fails half-way (an in-script -- flyway:executeInTransaction=false line)" fw migrate; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
printf 'CREATE TABLE d (id int);\nSELECT 1/0;\n' > "$work/sql/V3__d_fails.sql"
printf 'executeInTransaction=false\n' > "$work/sql/V3__d_fails.sql.conf"
step "migrate: V3 fails half-way (V3__d_fails.sql.conf: executeInTransaction=false)" fw migrate; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
step "info after non-transactional failure" info
step "validate after non-transactional failure" fw validate
step "migrate again while failed" fw migrate; state
step "repair" fw repair; state
step "info after repair" info
rows 'DROP TABLE d' >/dev/null
rm "$work/sql/V3__d_fails.sql.conf"
printf 'CREATE TABLE d (id int);\n' > "$work/sql/V3__d_fails.sql"
step "migrate after fix" fw migrate; state
printf 'CREATE TABLE f (id int);\n' > "$work/sql/V5__f.sql"
step "migrate to 5" fw migrate; state
printf 'CREATE TABLE e (id int);\n' > "$work/sql/V4__e.sql"
step "out of order: V4 added below 5, info" info
step "out of order: validate" fw validate
step "out of order: migrate" fw migrate; state
extra=(-outOfOrder=true)
step "out of order: info with outOfOrder=true" info
step "out of order: migrate with outOfOrder=true" fw migrate; state
step "info after out-of-order apply" info
extra=()
step "validate after out-of-order apply" fw validate
mv "$work/sql/V5__f.sql" "$work/V5__f.sql.away"
step "missing: V5's file deleted, info" info
step "missing: validate" fw validate
step "missing: migrate" fw migrate
mv "$work/V5__f.sql.away" "$work/sql/V5__f.sql"
mv "$work/sql/V3__d_fails.sql" "$work/V3.away"
step "missing: V3's file deleted (below 5), info" info
step "missing: validate" fw validate
step "missing: repair" fw repair; state
step "missing after repair: info" info
step "missing after repair: validate" fw validate
mv "$work/V3.away" "$work/sql/V3__d_fails.sql"
step "deleted, file back: info" info
step "deleted, file back: validate" fw validate
rows "DELETE FROM flyway_schema_history WHERE type = 'DELETE'" >/dev/null
printf 'CREATE TABLE a2 (id int);\n' > "$work/sql/V1__a.sql"
step "checksum: V1 edited, info" info
step "checksum: validate" fw validate
step "checksum: migrate" fw migrate
step "checksum: repair" fw repair; state
printf 'CREATE TABLE a (id int);\n' > "$work/sql/V1__a.sql"
step "repair back" fw repair
printf 'CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n' > "$work/sql/R__v.sql"
step "repeatable: info" info
step "repeatable: migrate" fw migrate; state
printf 'CREATE OR REPLACE VIEW v AS SELECT 2 AS x;\n' > "$work/sql/R__v.sql"
step "repeatable changed: info" info
step "repeatable changed: validate" fw validate
step "repeatable changed: migrate" fw migrate; state
step "repeatable re-applied: info" info
rm "$work/sql/R__v.sql"
step "repeatable deleted: info" info
step "repeatable deleted: validate" fw validate
rows "INSERT INTO flyway_schema_history VALUES (99, '9', 'future', 'SQL', 'V9__future.sql', 1, 'x', now(), 1, true)" >/dev/null
step "future: a row for 9 without a file, info" info
step "future: validate" fw validate
step "future: migrate" fw migrate
rows "DELETE FROM flyway_schema_history WHERE installed_rank = 99" >/dev/null

# Baselines: a new database with a schema made by hand.
DB=$(tools_db fw_char)
rm -rf "$work"/sql/*
for v in 1 2 3; do printf 'CREATE TABLE t%s (id int);\n' "$v" > "$work/sql/V${v}__t$v.sql"; done
rows 'CREATE TABLE t1 (id int); CREATE TABLE t2 (id int)' >/dev/null
step "baseline: migrate on a non-empty schema" fw migrate
step "baseline at 2" fw baseline -baselineVersion=2; state
step "baseline: info" info
step "baseline: validate" fw validate
step "baseline: migrate" fw migrate; state
step "baseline: info after migrate" info
step "baseline again" fw baseline -baselineVersion=2

# Versions: 1.2 and 1_2 are one version; 1.10 is above 1.9; 1.0 is 1.
DB=$(tools_db fw_char)
rm -rf "$work"/sql/*
printf 'SELECT 1;\n' > "$work/sql/V1.9__a.sql"
printf 'SELECT 1;\n' > "$work/sql/V1.10__b.sql"
printf 'SELECT 1;\n' > "$work/sql/V1_2__c.sql"
printf 'SELECT 1;\n' > "$work/sql/V01.3__d.sql"
printf 'SELECT 1;\n' > "$work/sql/V2.0__e.sql"
printf 'SELECT 1;\n' > "$work/sql/v7__lower.sql"
printf 'SELECT 1;\n' > "$work/sql/V8__upper_suffix.SQL"
printf 'SELECT 1;\n' > "$work/sql/V9_no_separator.sql"
printf 'SELECT 1;\n' > "$work/sql/V1x__bad.sql"
mkdir -p "$work/sql/sub"; printf 'SELECT 1;\n' > "$work/sql/sub/V10__nested.sql"
printf 'SELECT 1;\n' > "$work/sql/notes.txt"
step "versions: info" info
step "versions: migrate" fw migrate; state
printf 'SELECT 1;\n' > "$work/sql/V1.2__dup.sql"
step "versions: V1.2 beside V1_2" fw info
rm "$work/sql/V1.2__dup.sql"; printf 'SELECT 1;\n' > "$work/sql/V2__dup.sql"
step "versions: V2 beside V2.0" fw info
rm -rf "$work"/sql/*; rm -rf "$work/sql/sub"
for f in V1__a V+2__b V-3__c V1.__d V__e V4__ R1__bad; do printf 'SELECT 1;\n' > "$work/sql/$f.sql"; done
: > "$work/sql/V5__empty.sql"; printf 'SELECT 1;\n' > "$work/sql/B6__base.sql"
step "names: signs, empty description, empty file, a baseline migration B6" info
printf 'SELECT 1;\n' > "$work/sql/V7__after.sql"
DB=$(tools_db fw_char)
step "baseline migration: migrate on an empty database" fw migrate; state
step "baseline migration: info" info
step "baseline migration: validate" fw validate
