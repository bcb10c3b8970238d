#!/usr/bin/env bash
# Drives Django (scripts/peers/django.sh) through the scenarios of docs/tools/django.md: a
# project of two apps (blog, shop; shop depends on blog) whose migrations run SQL, applied,
# rolled back, failing half-way (atomic and not), out of order, with a row whose file is gone,
# squashed by `squashmigrations` (all, none and part of the replaced migrations applied, the
# replaced files deleted). After each step: `migrate --check`, `showmigrations` (and --plan
# where it tells more), the rows of django_migrations, and the expectation file of
# scripts/manifests/django-manifest.py where the files changed.
#   scripts/tools/characterise-django.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"
django_admin=$("$here/../peers/django.sh")
python=$(dirname "$django_admin")/python
manifest_py=$here/../manifests/django-manifest.py
work=${1:-$(mktemp -d)}
proj=$work/proj
rm -rf "$proj"; mkdir -p "$proj/gateproj" "$proj/blog/migrations" "$proj/shop/migrations"
DB=$(tools_db django_char)
export DATABASE_URL=$DB DJANGO_SETTINGS_MODULE=gateproj.settings

cat > "$proj/manage.py" <<'EOF'
import sys
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
EOF
: > "$proj/gateproj/__init__.py"
cat > "$proj/gateproj/settings.py" <<'EOF'
import os
from urllib.parse import urlsplit
u = urlsplit(os.environ.get("DATABASE_URL", "postgres://build@127.0.0.1/none"))
SECRET_KEY = "characterisation"
INSTALLED_APPS = ["blog", "shop"]
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": u.path[1:],
    "USER": u.username, "PASSWORD": u.password, "HOST": u.hostname, "PORT": u.port}}
EOF
for app in blog shop; do : > "$proj/$app/__init__.py"; : > "$proj/$app/migrations/__init__.py"; done
# mig APP NAME DEPS SQL REVERSE [atomic]: a migration that runs SQL (DEPS: Python tuples)
mig() {
  local atomic=${6:-True}
  cat > "$proj/$1/migrations/$2.py" <<EOF
from django.db import migrations


class Migration(migrations.Migration):
    atomic = $atomic
    dependencies = [$3]
    operations = [migrations.RunSQL("$4", "$5")]
EOF
}
cd "$proj"
# manage.py, a traceback cut to its last line (the exception)
dj() {
  local out rc
  out=$("$python" manage.py "$@" 2>&1) && rc=0 || rc=$?
  awk '/^Traceback/ { tb = 1 } !tb { print } tb && NF { last = $0 } END { if (tb) print last }' <<<"$out"
  return "$rc"
}
state() { echo "rows: $(rows 'SELECT app, name FROM django_migrations ORDER BY id' | tr '\n' ' ')"; }
check() { step "$1: migrate --check" dj migrate --check; step "$1: showmigrations" dj showmigrations; }
manifest() { step "$1: django-manifest.py" env -u DATABASE_URL "$python" "$manifest_py"; }
# agree NAME: on a database where nothing is applied, the manifest's migrations (the part of
# each line before a colon) are exactly showmigrations --plan's (the test of django-manifest.py)
agree() {
  local ours theirs
  ours=$(env -u DATABASE_URL "$python" "$manifest_py" | grep -v '^#' | cut -d: -f1 | sort)
  theirs=$(dj showmigrations --plan | sed -n 's/^\[[ X-]\]  \([^ ]*\).*/\1/p' | sort)
  if [ "$ours" = "$theirs" ]; then echo "== $1: manifest = showmigrations --plan: yes"
  else printf '== %s: manifest = showmigrations --plan: NO\nmanifest: %s\nplan: %s\n' "$1" "$ours" "$theirs"; return 1; fi
}

mig blog 0001_initial '' 'CREATE TABLE blog_a (id int)' 'DROP TABLE blog_a'
mig blog 0002_b '("blog", "0001_initial")' 'CREATE TABLE blog_b (id int)' 'DROP TABLE blog_b'
mig blog 0003_c '("blog", "0002_b")' 'CREATE TABLE blog_c (id int)' 'DROP TABLE blog_c'
mig shop 0001_initial '("blog", "0002_b")' 'CREATE TABLE shop_a (id int)' 'DROP TABLE shop_a'
manifest "two apps"
check "no table"
agree "no table"
echo "table exists after migrate --check and showmigrations: $(rows "SELECT to_regclass('django_migrations') IS NOT NULL")"
step "showmigrations --plan, no table" dj showmigrations --plan
step "migrate blog 0001_initial" dj migrate blog 0001_initial; state
echo "ddl:"; ddl django_migrations
check "blog at 0001"
step "migrate" dj migrate; state
check "all applied"
step "showmigrations --plan, all applied" dj showmigrations --plan

mig blog 0004_fails '("blog", "0003_c")' 'CREATE TABLE blog_d (id int); SELECT 1/0' 'DROP TABLE blog_d'
manifest "0004 added"
step "migrate: 0004 fails half-way (atomic)" dj migrate; state
echo "table blog_d exists: $(rows "SELECT to_regclass('blog_d') IS NOT NULL")"
check "after the atomic failure"
mig blog 0004_fails '("blog", "0003_c")' 'CREATE TABLE blog_d (id int); SELECT 1/0' 'DROP TABLE blog_d' False
sed -i 's/RunSQL("CREATE TABLE blog_d (id int); SELECT 1\/0"/RunSQL(["CREATE TABLE blog_d (id int)", "SELECT 1\/0"]/' blog/migrations/0004_fails.py
step "migrate: 0004 fails half-way (atomic = False)" dj migrate; state
echo "table blog_d exists: $(rows "SELECT to_regclass('blog_d') IS NOT NULL")"
rows 'DROP TABLE blog_d' >/dev/null
mig blog 0004_fails '("blog", "0003_c")' 'CREATE TABLE blog_d (id int)' 'DROP TABLE blog_d'
step "migrate after fix" dj migrate; state
step "migrate blog 0002_b (roll back 0003 and 0004)" dj migrate blog 0002_b; state
check "blog rolled back to 0002"
step "migrate blog zero (shop depends on blog.0002)" dj migrate blog zero; state
check "blog at zero"
step "migrate" dj migrate; state

rows "DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'" >/dev/null
check "out of order: 0002 unrecorded below 0003"
step "migrate: out of order" dj migrate; state
rows "INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0002_b', now())" >/dev/null
rows "INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0099_gone', now()), ('gone', '0001_initial', now())" >/dev/null
check "rows without files (blog.0099_gone, app gone)"
rows "DELETE FROM django_migrations WHERE name = '0099_gone' OR app = 'gone'" >/dev/null

step "squashmigrations blog 0001 0003" dj squashmigrations --noinput blog 0001 0003_c
printf "%s\n" blog/migrations/[0-9]*.py
echo "== the squash's header"; grep -A6 '^class Migration' blog/migrations/0001_initial_squashed_0003_c.py
manifest "squashed, replaced files kept"
check "squashed, every replaced migration applied, no row for the squash"
step "migrate: records the squash" dj migrate; state
check "squash recorded"
rows "DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'" >/dev/null
check "squash recorded, one replaced row (0002) gone"
step "showmigrations --plan, squash partly applied" dj showmigrations --plan blog
rows "DELETE FROM django_migrations WHERE app = 'blog' AND name IN ('0001_initial', '0003_c')" >/dev/null
check "only the squash's own row (no replaced rows)"

DB=$(tools_db django_char); export DATABASE_URL=$DB
agree "fresh database, squashed"
step "fresh database: migrate with the squash" dj migrate; state
check "fresh database, squash applied"
DB=$(tools_db django_char); export DATABASE_URL=$DB
mv blog/migrations/0001_initial_squashed_0003_c.py "$work/squash.away"
step "fresh database: migrate blog 0001_initial (squash file away)" dj migrate blog 0001_initial; state
mv "$work/squash.away" blog/migrations/0001_initial_squashed_0003_c.py
check "squash partly applied (0001 of 0001..0003)"
step "migrate: squash partly applied" dj migrate; state
check "after migrate"
step "migrate blog 0002_b: roll back into the squash" dj migrate blog 0002_b; state
check "rolled back into the squash (its row stays)"
step "migrate: after rolling back into the squash" dj migrate; state

rm blog/migrations/0001_initial.py blog/migrations/0002_b.py blog/migrations/0003_c.py
sed -i 's/("blog", "0003_c")/("blog", "0001_initial_squashed_0003_c")/' blog/migrations/0004_fails.py
sed -i 's/("blog", "0002_b")/("blog", "0001_initial_squashed_0003_c")/' shop/migrations/0001_initial.py
manifest "replaced files deleted"
check "replaced files deleted, all applied"
rows "DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'" >/dev/null
check "replaced files deleted, 0002's row gone"
step "migrate: replaced files deleted, 0002's row gone" dj migrate; state

mig blog 0005_x '("blog", "0004_fails")' 'SELECT 1' 'SELECT 1'
mig blog 0005_y '("blog", "0004_fails")' 'SELECT 1' 'SELECT 1'
step "two leaves in blog: django-manifest.py" env -u DATABASE_URL "$python" "$manifest_py"
step "conflict: migrate --check" dj migrate --check
step "conflict: showmigrations" dj showmigrations blog
