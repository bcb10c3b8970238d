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
  *)
    echo "oracle.sh: unknown tool $tool (golang-migrate, flyway, alembic, dbmate)" >&2
    exit 2
    ;;
esac
