#!/usr/bin/env bash
# The test suite: unit tests of the pure core plus integration tests that run the real binary
# against private PostgreSQL clusters and PgBouncers (transaction mode) the tests start themselves.
#
#   ./scripts/test.sh            (as root it installs what is missing with apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test.sh: missing ${need[*]}: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# The reference Prometheus text-format parser, for the /metrics test.
python3 -c 'import prometheus_client' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check prometheus-client

cargo test --locked "$@"
