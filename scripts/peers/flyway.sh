#!/usr/bin/env bash
# Flyway 13.12.0 as Java applications get it: flyway-core, flyway-database-postgresql and the
# PostgreSQL JDBC driver resolved by Maven from Maven Central (scripts/peers/flyway/pom.xml),
# driven by a few lines of Java (scripts/peers/flyway/FlywayCli.java) compiled with javac.
# (The Flyway command-line tarball is a separate download outside the registries.)
# 13.12.0, not 13.12.1: the registry notes say to take 13.12.0 beside the Maven plugin.
# Cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/flyway/<version>/; Maven's own
# repository (~/.m2) keeps the jars it downloaded. Prints the path of the `flyway` wrapper
# (`flyway migrate|info|validate|baseline|repair -url=… -user=… -locations=filesystem:DIR`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

version=13.12.0
dir=$(peer_dir flyway "$version")
# The source is part of the key: a changed driver is rebuilt.
stamp=$(cat "$here/flyway/pom.xml" "$here/flyway/FlywayCli.java" | sha256sum | cut -c1-16)

ready() { [ -x "$1/bin/flyway" ] && [ "$(cat "$1/stamp" 2>/dev/null)" = "$stamp" ]; }

build() {
  local tmp=$1
  peer_log "resolving Flyway $version from Maven Central and compiling its driver"
  grep -q "<flyway.version>$version<" "$here/flyway/pom.xml"
  peer_maven "$here/flyway/pom.xml" "$tmp/lib"
  mkdir -p "$tmp/classes" "$tmp/bin"
  javac -d "$tmp/classes" -cp "$tmp/lib/*" "$here/flyway/FlywayCli.java"
  cat > "$tmp/bin/flyway" <<WRAP
#!/bin/sh
d="\$(dirname "\$0")/.."
exec java -XX:TieredStopAtLevel=1 -Xshare:auto -cp "\$d/classes:\$d/lib/*" FlywayCli "\$@"
WRAP
  chmod +x "$tmp/bin/flyway"
  echo "$stamp" > "$tmp/stamp"
}

peer_install "$dir" ready build
peer_paths "$dir" bin/flyway
