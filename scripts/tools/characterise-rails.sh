#!/usr/bin/env bash
# Drives Rails' migrations (Active Record 6.1 from Debian, scripts/peers/rails.sh, in the app of
# scripts/peers/rails/app) through the scenarios of docs/tools/rails.md: applied, rolled back,
# failing half-way (in a transaction and with disable_ddl_transaction!), out of order, a row
# without a file, file names Rails refuses or skips, nested directories, versions with leading
# zeros. After each step: `rake db:migrate:status`, `rake db:abort_if_pending_migrations`
# (which creates the tables), the rows of schema_migrations and ar_internal_metadata.
#   scripts/tools/characterise-rails.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
rake=$("$here/../peers/rails.sh")
work=${1:-$(mktemp -d)}
app=$work/app
rm -rf "$app"; mkdir -p "$work"; cp -r "$here/../peers/rails/app" "$app"
DB=$(tools_db rails_char)
export DATABASE_URL=$DB RAILS_ENV=development
printf 'development:\n  adapter: postgresql\n  url: <%%= ENV["DATABASE_URL"] %%>\n' > "$app/config/database.yml"
mig() { # mig FILE CLASS UP_SQL DOWN_SQL [extra line]
  printf 'class %s < ActiveRecord::Migration[6.1]\n  %s\n  def up\n    execute "%s"\n  end\n\n  def down\n    execute "%s"\n  end\nend\n' \
    "$2" "${5:-}" "$3" "$4" > "$app/db/migrate/$1"
}
cd "$app"
# rake, a backtrace cut to its first line (the error)
r() {
  local out rc
  out=$("$rake" "$@" 2>&1) && rc=0 || rc=$?
  grep -v -e '^/' -e '^Tasks: ' -e '^(See full trace' -e '^Caused by:' <<<"$out" || true
  return "$rc"
}
state() {
  echo "rows: $(rows 'SELECT version FROM schema_migrations ORDER BY version' | tr '\n' ' ')"
  echo "ar_internal_metadata: $(rows 'SELECT key, value FROM ar_internal_metadata ORDER BY key' | tr '\n' ' ')"
}
check() { step "$1: db:migrate:status" r db:migrate:status; step "$1: db:abort_if_pending_migrations" r db:abort_if_pending_migrations; }

mig 20240101000001_create_a.rb CreateA 'CREATE TABLE a (id int)' 'DROP TABLE a'
mig 20240101000002_create_b.rb CreateB 'CREATE TABLE b (id int)' 'DROP TABLE b'
step "no table: db:migrate:status" r db:migrate:status
echo "tables after db:migrate:status: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"
step "no table: db:abort_if_pending_migrations" r db:abort_if_pending_migrations
echo "tables after db:abort_if_pending_migrations: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"
state
echo "ddl:"; ddl schema_migrations; ddl ar_internal_metadata
step "db:migrate" r db:migrate; state
check "all applied"
mig 20240101000003_create_c.rb CreateC 'CREATE TABLE c (id int); SELECT 1/0' 'DROP TABLE c'
step "db:migrate: 3 fails half-way" r db:migrate; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
check "after the failure"
mig 20240101000003_create_c.rb CreateC 'CREATE TABLE c (id int); SELECT 1/0' 'DROP TABLE c' 'disable_ddl_transaction!'
sed -i 's/execute "CREATE TABLE c (id int); SELECT 1\/0"/execute "CREATE TABLE c (id int)"\n    execute "SELECT 1\/0"/' db/migrate/20240101000003_create_c.rb
step "db:migrate: 3 fails half-way (disable_ddl_transaction!)" r db:migrate; state
echo "table c exists: $(rows "SELECT to_regclass('c') IS NOT NULL")"
rows 'DROP TABLE c' >/dev/null
mig 20240101000003_create_c.rb CreateC 'CREATE TABLE c (id int)' 'DROP TABLE c'
step "db:migrate after fix" r db:migrate; state
step "db:rollback" r db:rollback; state
check "rolled back"
step "db:migrate" r db:migrate; state
mig 20231231000000_create_early.rb CreateEarly 'SELECT 1' 'SELECT 1'
check "out of order: a file older than the applied ones"
step "db:migrate: out of order" r db:migrate; state
step "db:migrate:down VERSION=20240101000002 (a hole below applied versions)" r db:migrate:down VERSION=20240101000002; state
check "a hole"
step "db:migrate" r db:migrate; state
rows "INSERT INTO schema_migrations VALUES ('20991231000000'), ('0042')" >/dev/null
check "rows without files (20991231000000, 0042)"
rows "DELETE FROM schema_migrations WHERE version IN ('20991231000000', '0042')" >/dev/null
mig 001_leading.rb Leading 'SELECT 1' 'SELECT 1'
rows "INSERT INTO schema_migrations VALUES ('1')" >/dev/null
check "001_leading.rb with the row '1'"
rows "UPDATE schema_migrations SET version = '0001' WHERE version = '1'" >/dev/null
check "001_leading.rb with the row '0001'"
rm db/migrate/001_leading.rb; rows "DELETE FROM schema_migrations WHERE version = '0001'" >/dev/null
mkdir -p db/migrate/sub
mig sub/20240101000004_create_d.rb CreateD 'SELECT 1' 'SELECT 1'
check "a file in a subdirectory"
step "db:migrate: a file in a subdirectory" r db:migrate; state
mig 20240101000005_create_e.scoped.rb CreateE 'SELECT 1' 'SELECT 1'
printf '# not a migration\n' > db/migrate/README.md
printf '# not a migration\n' > db/migrate/helper.rb
check "names: 20240101000005_create_e.scoped.rb README.md helper.rb"
step "db:migrate: a scoped file" r db:migrate; state
mig 20240101000006_CreateF.rb CreateF 'SELECT 1' 'SELECT 1'
check "an illegal name: 20240101000006_CreateF.rb"
rm db/migrate/20240101000006_CreateF.rb
mig 20240101000005_create_e2.rb CreateE2 'SELECT 1' 'SELECT 1'
check "a duplicate version: 20240101000005 twice"
rm db/migrate/20240101000005_create_e2.rb
rows "DELETE FROM ar_internal_metadata" >/dev/null
check "ar_internal_metadata emptied"
rows "DROP TABLE ar_internal_metadata" >/dev/null
check "ar_internal_metadata dropped"
echo "tables now: $(rows "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"
