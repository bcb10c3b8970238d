#!/usr/bin/env python3
"""The expectation file (GATE_EXPECT_FILE) of a Django project, written without a database.

Run it at image build time with the project's own Python and settings, from the project
directory (where manage.py is):

    DJANGO_SETTINGS_MODULE=mysite.settings python django-manifest.py > expected-migrations

It loads the migrations the way `manage.py migrate` does, but with no connection
(`MigrationLoader(None, ignore_no_migrations=True)`: `showmigrations` would need the
database), and prints one line per migration of the graph, `app.name`, sorted. A squashed
migration is followed, on its line, by what it replaces (`app.name: app.a app.b …`): the graph
then holds the squash instead of the migrations it replaces, as it does for a database where
none of them is applied, and schema-gate counts the squash applied exactly when Django does
(every migration it replaces has a row). Conflicting leaves (two leaf migrations in one
app) fail the build, as `manage.py migrate` refuses them.
"""
import os
import sys

sys.path.insert(0, os.getcwd())

import django  # noqa: E402

django.setup()

from django.db.migrations.loader import MigrationLoader  # noqa: E402

loader = MigrationLoader(None, ignore_no_migrations=True)
conflicts = loader.detect_conflicts()
if conflicts:
    # `manage.py migrate` refuses these too: the build is not deployable as it is.
    names = "; ".join(f"{', '.join(n)} in {app}" for app, n in sorted(conflicts.items()))
    sys.exit(f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({names})")
print("# schema-gate expectation: Django migrations, app.name (a squash: what it replaces)")
for app, name in sorted(loader.graph.nodes):
    migration = loader.graph.nodes[app, name]
    line = f"{app}.{name}"
    if migration.replaces:
        line += ": " + " ".join(f"{a}.{n}" for a, n in migration.replaces)
    print(line)
