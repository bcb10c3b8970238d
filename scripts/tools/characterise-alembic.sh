#!/usr/bin/env bash
# Drives Alembic (scripts/peers/alembic.sh) through the scenarios of docs/tools/alembic.md:
# a project made by `alembic init`, revisions made by `alembic revision`, branches and a
# merge; after each step `alembic current --check-heads`, `alembic heads` and the rows of
# alembic_version.   scripts/tools/characterise-alembic.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
alembic=$("$here/../peers/alembic.sh")
work=${1:-$(mktemp -d)}
rm -rf "$work/proj"; mkdir -p "$work/proj"
DB=$(tools_db alembic_char)
cd "$work/proj"
"$alembic" init migrations >/dev/null
sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = ${DB/postgres:\/\//postgresql:\/\/}|" alembic.ini
a() { "$alembic" "$@" 2>&1 | grep -v '^INFO  \[alembic.runtime.migration\] \(Context impl\|Will assume\)'; return "${PIPESTATUS[0]}"; }
state() { echo "rows: $(rows 'SELECT version_num FROM alembic_version ORDER BY 1' | tr '\n' ' ')"; }
rev() { # rev ID PARENT [extra args]: a generated revision with one CREATE TABLE
  local id=$1 parent=$2; shift 2
  a revision -m "r$id" --rev-id "$id" --head "$parent" "$@" >/dev/null
  sed -i -e "0,/^    pass$/s||    op.execute('CREATE TABLE t_$id (id int)')|" \
    -e "s|^    pass$|    op.execute('DROP TABLE t_$id')|" migrations/versions/"${id}"_*.py
}

step "current --check-heads, no table, no revisions" a current --check-heads; state
rev a1 base
rev b2 a1
step "current --check-heads, no table" a current --check-heads; state
step "heads" a heads
step "upgrade a1" a upgrade a1; state
echo "ddl:"; ddl alembic_version
step "current --check-heads at a1 (b2 is the head)" a current --check-heads
step "upgrade head" a upgrade head; state
step "current --check-heads at the head" a current --check-heads
step "current at the head" a current
rev c3 b2
sed -i "s|^    op.execute('CREATE TABLE t_c3 (id int)')|    op.execute('CREATE TABLE t_c3 (id int)')\n    op.execute('SELECT 1/0')|" migrations/versions/c3_*.py
step "upgrade: c3 fails half-way" a upgrade head; state
echo "table t_c3 exists: $(rows "SELECT to_regclass('t_c3') IS NOT NULL")"
sed -i "/SELECT 1\/0/d" migrations/versions/c3_*.py
step "upgrade after fix" a upgrade head; state
step "downgrade -1" a downgrade -1; state
step "current --check-heads after downgrade" a current --check-heads
step "upgrade head" a upgrade head; state
rev d4 b2 --splice
step "branch: d4 beside c3 (both on b2), heads" a heads
step "branch: current --check-heads" a current --check-heads
step "branch: upgrade head (multiple heads)" a upgrade head; state
step "branch: upgrade heads" a upgrade heads; state
step "branch: current --check-heads" a current --check-heads
step "branch: current" a current
a merge -m merge --rev-id m5 heads >/dev/null
step "merge m5 of c3 and d4: heads" a heads
step "merge: current --check-heads before upgrade" a current --check-heads
step "merge: upgrade head" a upgrade head; state
step "merge: current --check-heads" a current --check-heads
step "downgrade -1 from the merge" a downgrade -1; state
step "downgrade c3 from the merge" a downgrade c3; state
step "current --check-heads after undoing the merge" a current --check-heads
step "upgrade head" a upgrade head; state
rows "UPDATE alembic_version SET version_num = 'zz9'" >/dev/null
step "database at a revision the scripts do not know: current --check-heads" a current --check-heads
step "database at an unknown revision: current" a current
step "database at an unknown revision: upgrade head" a upgrade head
rows "UPDATE alembic_version SET version_num = 'm5'" >/dev/null
rev e6 m5
step "a newer release's revision e6 applied, then its file removed (old pods)" a upgrade head; state
e6=$(ls migrations/versions/e6_*.py)
mv "$e6" "$work/e6.away"
step "old scripts, database at e6: current --check-heads" a current --check-heads
step "old scripts, database at e6: heads" a heads
mv "$work/e6.away" "$e6"
rev f7 base --depends-on a1 --branch-label other
step "second base f7 (depends_on a1, label other): heads" a heads
step "upgrade heads" a upgrade heads; state
step "current --check-heads" a current --check-heads
step "stamp base (empties the table)" a stamp base; state
step "current --check-heads after stamp base" a current --check-heads
step "history" a history
echo "== a generated file"; cat migrations/versions/m5_*.py | sed -n '1,25p'
