#!/usr/bin/env bash
# What a migration tool's own status command says, in one normalised form, for the
# differential tests to compare with `schema-gate check --json` (docs/tools/differential.md).
# Runs the real CLI (from scripts/peers/) and prints `key=value` lines:
#
#   exit=N             the status command's exit code
#   current=ID …       what the tool calls the current version(s)
#   failed=ID …        recorded as started and not finished (golang-migrate dirty, Flyway FAILED)
#   pending=ID …       the tool's own pending list (where it has one)
#   ahead=ID …         applied without a file (where the tool shows them)
#   mismatch=ID …      checksum mismatches (Flyway validate)
#   at_heads=0|1       Alembic: `current --check-heads` succeeded
#
# Usage (the URL is postgres://user:password@127.0.0.1:PORT/DB):
#   oracle.sh golang-migrate URL DIR
#   oracle.sh flyway URL DIR [-key=value …]
#   oracle.sh alembic PROJECT_DIR          (alembic.ini there names the database)
#   oracle.sh dbmate URL DIR[:DIR…]
#   oracle.sh django PROJECT_DIR           (manage.py there; DATABASE_URL, DJANGO_SETTINGS_MODULE)
#   oracle.sh rails APP_DIR                (config/database.yml there; DATABASE_URL)
#   oracle.sh sqlx URL DIR
#   oracle.sh knex PROJECT_DIR             (knexfile.js and node_modules there)
#   oracle.sh liquibase PROJECT_DIR        (LIQUIBASE_COMMAND_URL, _USERNAME, _PASSWORD,
#                                           _CHANGELOG_FILE name the database and changelog)
#   oracle.sh prisma PROJECT_DIR           (prisma.config.ts and node_modules there; DATABASE_URL)
#
# Issue 19's tools add:
#   applied=ID …       what the status command lists as applied
#   refuse=MESSAGE     sqlx: why `migrate run --dry-run` refuses (dirty, missing, modified)
#
# Several of these commands write (docs/tools/<tool>.md): knex migrate:status, sqlx migrate
# info and liquibase status create their tables; run them after the gate's no-table check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tool=${1:?usage: oracle.sh TOOL …}
shift

join() { tr '\n' ' ' | sed 's/ *$//'; }

case "$tool" in
  golang-migrate)
    url=$1 dir=$2
    migrate=$("$here/../peers/golang-migrate.sh")
    out=$("$migrate" -source "file://$dir" -database "$url?sslmode=disable" version 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    case "$out" in
      *" (dirty)") echo "current=${out% (dirty)}"; echo "failed=${out% (dirty)}" ;;
      "error: no migration") echo "current="; echo "failed=" ;;
      *[!0-9]*) echo "error=$out" ;;
      *) echo "current=$out"; echo "failed=" ;;
    esac
    ;;
  flyway)
    url=$1 dir=$2
    shift 2
    flyway=$("$here/../peers/flyway.sh")
    rest=${url#postgres://}
    creds=${rest%%@*} hostdb=${rest#*@}
    args=(-url="jdbc:postgresql://$hostdb" -user="${creds%%:*}" -password="${creds#*:}"
          -locations="filesystem:$dir" "$@")
    out=$(printf 'info %s\nvalidate %s\n' "${args[*]}" "${args[*]}" | "$flyway" session 2>&1)
    lines=$(grep -P '^migration\t' <<<"$out" || true)
    pick() { awk -F'\t' -v want="$1" '$6 ~ want { print ($3 != "" ? $3 : $8) }' <<<"$lines" | join; }
    echo "exit=$(grep '^== exit' <<<"$out" | tail -1 | cut -d' ' -f3)"
    echo "current=$(grep -P '^current\t' <<<"$out" | cut -f2)"
    echo "failed=$(pick '^(FAILED|FUTURE_FAILED|MISSING_FAILED)$')"
    echo "pending=$(pick '^(PENDING|IGNORED|OUTDATED)$')"
    echo "ahead=$(pick '^(FUTURE_SUCCESS|MISSING_SUCCESS)$')"
    echo "mismatch=$(sed -n 's/^Migration checksum mismatch for migration version //p' <<<"$out" | join)"
    ;;
  alembic)
    project=$1
    alembic=$("$here/../peers/alembic.sh")
    cd "$project"
    "$alembic" current --check-heads >/dev/null 2>&1 && heads=1 || heads=0
    out=$("$alembic" current 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "at_heads=$heads"
    echo "current=$(grep -v '^INFO' <<<"$out" | awk '{print $1}' | sort | join)"
    ;;
  dbmate)
    url=$1 dirs=$2
    dbmate=$("$here/../peers/dbmate.sh")
    flags=()
    IFS=: read -r -a parts <<<"$dirs"
    for d in "${parts[@]}"; do flags+=(-d "$d"); done
    out=$("$dbmate" --url "$url?sslmode=disable" --no-dump-schema "${flags[@]}" status --exit-code 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "pending=$(sed -n 's/^\[ \] \([0-9]*\).*/\1/p' <<<"$out" | join)"
    echo "applied=$(sed -n 's/^\[X\] \([0-9]*\).*/\1/p' <<<"$out" | join)"
    ;;
  django)
    project=$1
    python=$(dirname "$("$here/../peers/django.sh")")/python
    cd "$project"
    "$python" manage.py migrate --check >/dev/null 2>&1 && rc=0 || rc=$?
    echo "exit=$rc"
    out=$("$python" manage.py showmigrations --plan 2>&1) || true
    echo "pending=$(sed -n 's/^\[ \]  \([^ ]*\).*/\1/p' <<<"$out" | join)"
    echo "applied=$(sed -n 's/^\[X\]  \([^ ]*\).*/\1/p' <<<"$out" | join)"
    ;;
  rails)
    app=$1
    rake=$("$here/../peers/rails.sh")
    cd "$app"
    out=$("$rake" db:migrate:status 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "pending=$(awk '$1 == "down" { print $2 }' <<<"$out" | join)"
    echo "applied=$(awk '$1 == "up" && !/NO FILE/ { print $2 }' <<<"$out" | join)"
    echo "ahead=$(awk '$1 == "up" && /NO FILE/ { print $2 }' <<<"$out" | join)"
    ;;
  sqlx)
    url=$1 dir=$2
    sqlx=$("$here/../peers/sqlx.sh")
    s() { NO_COLOR=1 "$sqlx" migrate "$@" --source "$dir" --database-url "$url?sslmode=disable"; }
    out=$(s info 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "pending=$(sed -n 's|^\(-\?[0-9]*\)/pending .*|\1|p' <<<"$out" | join)"
    echo "applied=$(sed -n 's|^\(-\?[0-9]*\)/installed .*|\1|p' <<<"$out" | join)"
    echo "mismatch=$(sed -n 's|^\(-\?[0-9]*\)/installed (different checksum) .*|\1|p' <<<"$out" | join)"
    refuse=$(s run --dry-run 2>&1 | sed -n 's/^error: //p' | head -1)
    echo "refuse=$refuse"
    ;;
  knex)
    project=$1
    knex=$("$here/../peers/knex.sh")
    cd "$project"
    out=$("$knex" --knexfile "$project/knexfile.js" migrate:status 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "applied=$(awk '/Completed Migration file/ { on = 1; next } /Pending Migration file|No Pending/ { on = 0 } on' <<<"$out" | join)"
    echo "pending=$(awk '/Pending Migration file\/files/ { on = 1; next } on' <<<"$out" | join)"
    echo "error=$(sed -n 's/^Error: //p' <<<"$out" | head -1)"
    ;;
  liquibase)
    project=$1
    liquibase=$("$here/../peers/liquibase.sh")
    cd "$project"
    out=$("$liquibase" status --verbose 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "pending=$(sed -n 's/^     \(.*::.*::.*\)$/\1/p' <<<"$out" | join)"
    ;;
  prisma)
    project=$1
    prisma=$("$here/../peers/prisma.sh")
    cd "$project"
    out=$("$prisma" migrate status 2>&1) && rc=0 || rc=$?
    echo "exit=$rc"
    echo "pending=$(awk '/have not yet been applied:/ { on = 1; next } on && (/^$/ || /^To apply/ || /^The migration/) { on = 0 } on' <<<"$out" | join)"
    echo "failed=$(awk '/have failed:/ { on = 1; next } on && /^$/ { on = 0 } on' <<<"$out" | join)"
    echo "ahead=$(awk '/are not found locally/ { on = 1; next } on && /^$/ { on = 0 } on' <<<"$out" | join)"
    ;;
  *)
    echo "oracle.sh: unknown tool $tool (golang-migrate, flyway, alembic, dbmate, django, rails, sqlx, knex, liquibase, prisma)" >&2
    exit 2
    ;;
esac
