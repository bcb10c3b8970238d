#!/usr/bin/env bash
# Drives Liquibase 4.33.0 (scripts/peers/liquibase.sh) through the scenarios of
# docs/tools/liquibase.md: an XML changelog including a formatted-SQL one in a subdirectory;
# update, failing changesets (in a transaction, runInTransaction="false", failOnError="false"),
# rollback-count, changelog-sync, a MARK_RAN precondition, an edited changeset (checksum; and
# runOnChange), runAlways, contexts, a row whose changeset is gone, and the lock: seen from
# another session while a changeset runs, and left held by a killed Liquibase. After each
# step: `liquibase status --verbose` (which creates both tables), the rows of
# databasechangelog and databasechangeloglock; and the build-time manifest, written offline.
#   scripts/tools/characterise-liquibase.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
liquibase=$("$here/../peers/liquibase.sh")
work=${1:-$(mktemp -d)}
proj=$work/proj
rm -rf "$proj"; mkdir -p "$proj/db/more"
DB=$(tools_db liquibase_char)
export LIQUIBASE_COMMAND_URL="jdbc:postgresql://${DB#postgres://postgres:postgres@}"
export LIQUIBASE_COMMAND_USERNAME=postgres LIQUIBASE_COMMAND_PASSWORD=postgres
export LIQUIBASE_COMMAND_CHANGELOG_FILE=db/changelog.xml
cd "$proj"
changesets() { # the master changelog: its changesets (XML) from stdin, then the include
  {
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<databaseChangeLog xmlns="%s"\n  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n  xsi:schemaLocation="%s %s/dbchangelog-4.33.xsd">\n' \
      http://www.liquibase.org/xml/ns/dbchangelog http://www.liquibase.org/xml/ns/dbchangelog http://www.liquibase.org/xml/ns/dbchangelog
    cat
    printf '  <include file="more/more.sql" relativeToChangelogFile="true"/>\n</databaseChangeLog>\n'
  } > db/changelog.xml
}
base() {
  printf '  <changeSet id="1" author="alice"><sql>CREATE TABLE a (id int)</sql><rollback>DROP TABLE a</rollback></changeSet>\n'
  printf '  <changeSet id="2" author="bob"><sql>CREATE TABLE b (id int)</sql><rollback>DROP TABLE b</rollback></changeSet>\n'
}
printf -- '--liquibase formatted sql\n\n--changeset carol:3\nCREATE TABLE c (id int);\n--rollback DROP TABLE c;\n' > db/more/more.sql
base | changesets
# Liquibase without its banner, start-up and licence lines
lb() {
  local out rc
  out=$("$liquibase" "$@" 2>&1) && rc=0 || rc=$?
  grep -v -e '^Starting Liquibase' -e '^Liquibase Version' -e '^WARNING: License service' \
    -e '^Liquibase Community' -e '^$' -e '^Liquibase: Update has been successful' \
    -e '^For more information, please use the --log-level flag' <<<"$out" || true
  return "$rc"
}
state() {
  echo "rows: $(rows "SELECT id, author, filename, exectype, substr(md5sum, 1, 10) FROM databasechangelog ORDER BY orderexecuted" | tr '\n' ' ')"
  echo "lock: $(rows 'SELECT id, locked, lockedby IS NOT NULL FROM databasechangeloglock' | tr '\n' ' ')"
}
tables() { echo "tables: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"; }
# The build-time manifest (docs/tools/liquibase.md): offline, no database.
manifest() {
  echo "== $1: manifest (offline status --verbose)"
  lb --url="offline:postgresql?outputLiquibaseSql=none&changeLogFile=$work/offline.csv" status --verbose |
    sed -n 's/^     \(.*\)::\(.*\)::\(.*\)$/\2\t\3\t\1/p'
  rm -f "$work/offline.csv"
}
wait_for() {
  local deadline=$((SECONDS + 120))
  until [ "$(rows "$1")" = t ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $1"; return 1; }
  done
}

manifest "three changesets"
tables
step "no table: status --verbose" lb status --verbose
tables; state
echo "ddl:"; ddl databasechangelog; ddl databasechangeloglock
step "update" lb update; state
step "all applied: status --verbose" lb status --verbose
{ base; printf '  <changeSet id="4" author="dave"><sql>CREATE TABLE d (id int)</sql><sql>SELECT 1/0</sql><rollback>DROP TABLE d</rollback></changeSet>\n'; } | changesets
step "update: 4 fails half-way" lb update; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
step "after the failure: status --verbose" lb status --verbose
{ base; printf '  <changeSet id="4" author="dave" runInTransaction="false"><sql>CREATE TABLE d (id int)</sql><sql>SELECT 1/0</sql><rollback>DROP TABLE d</rollback></changeSet>\n'; } | changesets
step "update: 4 fails half-way (runInTransaction=false)" lb update; state
echo "table d exists: $(rows "SELECT to_regclass('d') IS NOT NULL")"
rows 'DROP TABLE d' >/dev/null
{ base; printf '  <changeSet id="4" author="dave" failOnError="false"><sql>SELECT 1/0</sql></changeSet>\n'; } | changesets
step "update: 4 fails with failOnError=false" lb update; state
step "FAILED row: status --verbose" lb status --verbose
step "FAILED row: update again" lb update; state
rows "DELETE FROM databasechangelog WHERE id = '4'" >/dev/null
{ base; printf '  <changeSet id="4" author="dave"><sql>CREATE TABLE d (id int)</sql><rollback>DROP TABLE d</rollback></changeSet>\n'; } | changesets
step "update after fix" lb update; state
step "rollback-count 1" lb rollback-count --count=1; state
step "rolled back: status --verbose" lb status --verbose
step "changelog-sync (records 4 without running it)" lb changelog-sync; state
rows "DELETE FROM databasechangelog WHERE id = '4'" >/dev/null
{ base; printf '  <changeSet id="4" author="dave"><preConditions onFail="MARK_RAN"><tableExists tableName="nope"/></preConditions><sql>SELECT 1</sql></changeSet>\n'; } | changesets
step "update: 4's precondition fails, onFail=MARK_RAN" lb update; state
step "MARK_RAN: status --verbose" lb status --verbose
{ base; printf '  <changeSet id="4" author="dave"><preConditions onFail="MARK_RAN"><tableExists tableName="nope"/></preConditions><sql>SELECT 2</sql></changeSet>\n'; } | changesets
step "4 edited: status --verbose" lb status --verbose
step "4 edited: validate" lb validate
step "4 edited: update" lb update; state
{ base; printf '  <changeSet id="4" author="dave" runOnChange="true"><preConditions onFail="MARK_RAN"><tableExists tableName="nope"/></preConditions><sql>SELECT 2</sql></changeSet>\n'; } | changesets
step "4 edited, runOnChange: status --verbose" lb status --verbose
step "4 edited, runOnChange: update" lb update; state
{ base; printf '  <changeSet id="5" author="erin" runAlways="true"><sql>SELECT 1</sql></changeSet>\n  <changeSet id="6" author="frank" context="test"><sql>SELECT 1</sql></changeSet>\n'; } | changesets
manifest "runAlways 5, context test 6 (no --contexts)"
echo "== with --contexts=prod"
lb --url="offline:postgresql?outputLiquibaseSql=none&changeLogFile=$work/offline.csv" --contexts=prod status --verbose |
  sed -n 's/^     \(.*\)::\(.*\)::\(.*\)$/\2\t\3\t\1/p'; rm -f "$work/offline.csv"
step "runAlways, contexts: status --verbose --contexts=prod" lb status --verbose --contexts=prod
step "update --contexts=prod" lb update --contexts=prod; state
step "runAlways applied: status --verbose --contexts=prod" lb status --verbose --contexts=prod
base | changesets
step "a row whose changeset is gone (4, 5): status --verbose" lb status --verbose
step "a row whose changeset is gone: update" lb update; state

{ base; printf '  <changeSet id="7" author="gina"><sql>SELECT pg_sleep(5)</sql></changeSet>\n'; } | changesets
"$liquibase" update > "$work/update.out" 2>&1 &
pid=$!
wait_for "SELECT locked FROM databasechangeloglock"
echo "== while 7 runs (seen from another session)"; state
wait "$pid" && rc=0 || rc=$?; echo "update exit=$rc"; state
{ base; printf '  <changeSet id="8" author="hal"><sql>SELECT pg_sleep(60)</sql></changeSet>\n'; } | changesets
"$liquibase" update > "$work/update.out" 2>&1 &
pid=$!
wait_for "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
rows "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
echo "== Liquibase killed during 8"; state
step "stale lock: status --verbose (waits for the lock)" timeout 60 "$liquibase" --changelog-lock-wait-time-in-minutes=0 status --verbose
step "release-locks" lb release-locks; state
step "after release-locks: status --verbose" lb status --verbose
