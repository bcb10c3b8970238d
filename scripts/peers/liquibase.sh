#!/usr/bin/env bash
# Liquibase 4.33.0 (the last open-source line) from Maven Central: liquibase-core, which holds
# the real command line (liquibase.integration.commandline.LiquibaseCommandLine), picocli and the
# PostgreSQL JDBC driver, resolved by Maven (scripts/peers/liquibase/pom.xml). Cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/liquibase/<version>/; Maven's repository keeps
# the jars. Prints the path of a `liquibase` wrapper (`liquibase --url=jdbc:… status`); beside it,
# `liquibase-session` runs many command lines of that same CLI in one JVM (one a line on stdin,
# arguments tab-separated, each answer ending `== exit N`: scripts/peers/liquibase/
# LiquibaseSession.java, compiled with javac), for the differential test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=4.33.0
pom="$here/liquibase/pom.xml"
grep -q "<liquibase.version>$version<" "$pom"
dir=$(peer_dir liquibase "$version")
# The driver's source is part of the key: a changed driver is rebuilt.
stamp=$(cat "$pom" "$here/liquibase/LiquibaseSession.java" | sha256sum | cut -c1-16)

ready() {
  [ -x "$1/bin/liquibase" ] && [ -x "$1/bin/liquibase-session" ] \
    && [ "$(cat "$1/stamp" 2>/dev/null)" = "$stamp" ]
}

build() {
  peer_log "resolving Liquibase $version from Maven Central"
  peer_maven "$pom" "$1/lib"
  mkdir -p "$1/bin" "$1/classes"
  # shellcheck disable=SC2016 # expanded when the wrapper runs
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec java -cp "$d/lib/*" liquibase.integration.commandline.LiquibaseCommandLine --show-banner=false "$@"\n' \
    > "$1/bin/liquibase"
  javac -d "$1/classes" -cp "$1/lib/*" "$here/liquibase/LiquibaseSession.java"
  # shellcheck disable=SC2016 # expanded when the wrapper runs
  printf '#!/bin/sh\nd="$(cd "$(dirname "$0")/.." && pwd)"\nexec java -cp "$d/classes:$d/lib/*" LiquibaseSession "$@"\n' \
    > "$1/bin/liquibase-session"
  chmod +x "$1/bin/liquibase" "$1/bin/liquibase-session"
  "$1/bin/liquibase" --version >/dev/null 2>&1
  echo "$stamp" > "$1/stamp"
}

peer_install "$dir" ready build
peer_paths "$dir" bin/liquibase
