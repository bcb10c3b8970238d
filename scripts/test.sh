#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. cargo test: unit tests of the pure core, and integration tests that run the real binary
#      against private PostgreSQL clusters and PgBouncers (transaction mode) they start themselves,
#      among them the migration tools' differentials against their real CLIs (golang-migrate,
#      Flyway, Alembic, dbmate: installed first, pinned and cached);
#   2. the Kubernetes manifests and deploy.sh: rendered, validated for 1.34, gate containers
#      checked, deploy.sh driven through a stand-in for what kwok cannot show; then a real
#      control plane on loopback (built from the Go module proxy and cached), every overlay
#      applied server-side under Pod Security "restricted", deploy.sh through every Job outcome
#      against the real Job and Deployment controllers, and the README's migration guide from
#      examples/honeydue; the monitoring kit: promtool's rule checks and unit tests, the
#      Components' namespaces, a real Prometheus scraping real gates, the deployment's
#      VictoriaMetrics stack (vmagent, vmalert) firing and resolving each alert against live
#      gates, and the custom objects against the operators' CRDs on the real API server;
#   3. shellcheck on every script;
#   4. the static musl release binary: linked statically, within 2.5 MiB, and passing the check and
#      wait integration tests itself;
#   5. the same for linux/arm64: cross-built as the Dockerfile does, tested under qemu;
#   6. the real images: built with podman from those binaries, run under runc against a real
#      PostgreSQL (the gate image, and a stand-in app image running the rendered init
#      container), and published as a multi-arch list to a registry on loopback.
# Before step 1 it installs the real peers the tests run, pinned and cached outside the clone
# (scripts/peers/goose.sh: goose v3.22.1, v3.27.3, v3.30.0; scripts/peers/postgres.sh:
# PostgreSQL 13 to 18), so step 1 includes the differential against every goose (its corpus and
# a short seeded random run), and after it comes the PostgreSQL matrix: the check, wait, serve,
# status and goose differential suites (its corpus with goose v3.22.1) and the smoke set
# (SCRAM, md5, TLS, direct and through PgBouncer) against 13 and 18, the smoke set against 14,
# 15, 16 and 17 (npm's builds; Debian's 15 runs everything in step 1).
# For a quick loop while coding, plain `cargo test` is step 1 alone.
#
#   ./scripts/test.sh               (as root it installs what is missing: apt-get, pip, rustup)
#   ./scripts/test.sh --pg-matrix   only the matrix, with the heavy suites against every major
#   ./scripts/test.sh --full        everything, a long random differential (GOOSE_DIFF_STEPS=1500
#                                   per goose version), the heavy suites against every major, and
#                                   long seeded random runs for the migration tools
#                                   (TOOLS_DIFF_STEPS=400 each; TOOLS_DIFF_SEED replays a run)
# Other arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=ci
case "${1:-}" in
  --full) mode=full; shift ;;
  --pg-matrix) mode=matrix; shift ;;
esac

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
for tool in openssl:openssl setpriv:util-linux shellcheck:shellcheck musl-gcc:musl-tools \
            readelf:binutils file:file kubectl:kubectl podman:podman skopeo:skopeo umoci:umoci \
            runc:runc docker-registry:docker-registry promtool:prometheus npm:npm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
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
# The reference Prometheus text parser (for /metrics), the Kubernetes schema validator, PyYAML.
python3 -c 'import prometheus_client, kubernetes_validate, yaml, jsonschema' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check prometheus-client kubernetes-validate pyyaml jsonschema

echo "== peers: goose CLIs and PostgreSQL 13-18 (pinned, cached under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate})"
[ -d /usr/local/go/bin ] && PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || { echo "test.sh: Go is needed to build goose (go install)" >&2; exit 1; }
started=$SECONDS
goose_bins=$(scripts/peers/goose.sh)
SCHEMA_GATE_GOOSE_CACHE=$(dirname "$(dirname "$(head -n 1 <<<"$goose_bins")")")
export SCHEMA_GATE_GOOSE_CACHE
pg_out=$(scripts/peers/postgres.sh)
mapfile -t pg_bins <<<"$pg_out"
[ ${#pg_bins[@]} -eq 6 ] || { echo "test.sh: expected six PostgreSQL majors, got: $pg_out" >&2; exit 1; }
echo "ok: goose and PostgreSQL ready in $((SECONDS - started))s"
printf '  %s\n' "$goose_bins" "${pg_bins[@]}"

# The PostgreSQL matrix: `heavy` majors run the check, wait, serve, status, smoke and goose
# differential suites (the differential's corpus, no random run, with the goose versions in
# $2), the others the smoke set; each directly and through PgBouncer.
pg_matrix() {
  local heavy=" $1 " goose_versions=$2 bin major suites
  shift 2
  for bin in "${pg_bins[@]}"; do
    major=$(basename "$(dirname "$bin")"); major=${major%%.*}
    if [[ $heavy == *" $major "* ]]; then
      suites=(--test check --test wait --test serve --test status --test pg_smoke --test goose_differential)
    else
      suites=(--test pg_smoke)
    fi
    echo "== PostgreSQL $major ($bin): ${suites[*]//--test /}"
    started=$SECONDS
    # The million-row tests measure the gate's memory, not the server: the default run has them.
    SCHEMA_GATE_PG_BIN=$bin GOOSE_DIFF_STEPS=0 SCHEMA_GATE_GOOSE_VERSIONS=$goose_versions \
      cargo test --locked --no-fail-fast "${suites[@]}" "$@" -- --skip a_million_rows
    echo "ok: PostgreSQL $major in $((SECONDS - started))s"
  done
}
summary=target/tmp/goose-differential.txt
mkdir -p target/tmp && : >"$summary"

if [ "$mode" = matrix ]; then
  pg_matrix "13 14 15 16 17 18" "" "$@"
  echo "== goose differential"; cat "$summary"
  exit 0
fi

# --- Migration tools (issue 18): the real CLIs the tools' differential tests drive
# (tests/tools_*.rs), each installed as its users install it, pinned and cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate} by scripts/peers/<tool>.sh (a second run takes
# milliseconds); the tests find them through SCHEMA_GATE_<TOOL>. `--full` lengthens their seeded
# random runs.
[ "$mode" = full ] && export TOOLS_DIFF_STEPS=${TOOLS_DIFF_STEPS:-400}
echo "== peers: golang-migrate, Flyway, Alembic, dbmate (pinned, cached)"
started=$SECONDS
for tool in java:default-jdk-headless mvn:maven; do
  command -v "${tool%%:*}" >/dev/null 2>&1 && continue
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool##*:}" >/dev/null
  else
    echo "test.sh: missing ${tool##*:}: sudo apt-get install ${tool##*:}" >&2; exit 1
  fi
done
python3 -c 'import ensurepip' 2>/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
SCHEMA_GATE_GOLANG_MIGRATE=$(scripts/peers/golang-migrate.sh)
SCHEMA_GATE_FLYWAY=$(scripts/peers/flyway.sh)
SCHEMA_GATE_ALEMBIC=$(scripts/peers/alembic.sh)
SCHEMA_GATE_DBMATE=$(scripts/peers/dbmate.sh)
export SCHEMA_GATE_GOLANG_MIGRATE SCHEMA_GATE_FLYWAY SCHEMA_GATE_ALEMBIC SCHEMA_GATE_DBMATE
echo "ok: migration tools ready in $((SECONDS - started))s${TOOLS_DIFF_STEPS:+ (TOOLS_DIFF_STEPS=$TOOLS_DIFF_STEPS)}"
# Issue 19's tools: their tests run the same scripts (tests/support/tools.rs `peer`, answered
# from the cache these fill); installed here so that a cold install is timed on its own line and
# not inside the parallel tests. Rails is Debian's Active Record 6.1: as root, rails.sh
# apt-get installs it (~35 s cold, 1-4 s warm).
echo "== peers: Django, Rails, Prisma, sqlx-cli, knex, Liquibase (pinned, cached)"
started=$SECONDS
for peer in django rails prisma sqlx knex liquibase; do
  scripts/peers/$peer.sh >/dev/null
done
echo "ok: issue 19's tools ready in $((SECONDS - started))s"
# --- end of the migration tools' block

echo "== cargo test"
started=$SECONDS
if [ "$mode" = full ]; then
  GOOSE_DIFF_STEPS=${GOOSE_DIFF_STEPS:-1500} cargo test --locked "$@"
else
  cargo test --locked "$@"
fi
echo "ok: cargo test in $((SECONDS - started))s"
# CI: the deployment's goose against 13 and 18 (every goose ran against 15 in cargo test above).
if [ "$mode" = full ]; then pg_matrix "13 14 15 16 17 18" "" "$@"; else pg_matrix "13 18" v3.22.1 "$@"; fi
echo "== goose differential"
cat "$summary"
echo "== Kubernetes manifests and deploy.sh"
python3 scripts/check-manifests.py
echo "== Kubernetes: a real control plane (etcd, kube-apiserver, controllers 1.34, kwok) and deploy.sh"
command -v patch >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patch >/dev/null; }
./scripts/peers/kubernetes.sh >/dev/null   # built once (several minutes), then cached
python3 scripts/check-cluster.py
shellcheck scripts/peers/kubernetes.sh examples/honeydue/deploy-k3s/scripts/*.sh
# Monitoring: VictoriaMetrics (victoria-metrics, vmagent, vmalert), goose, cosign and
# cargo-cyclonedx are built into the cache by their scripts/peers/ scripts on first use (Go 1.26).
command -v go >/dev/null 2>&1 || { echo "test.sh: go missing (Go 1.26 or newer)" >&2; exit 1; }
echo "== monitoring: alert rules (promtool), the Components, a real Prometheus scrape"
python3 scripts/check-monitoring.py
echo "== monitoring: the deployment's stack (VictoriaMetrics, vmagent, vmalert) against live gates"
python3 scripts/check-victoriametrics.py
echo "== monitoring: the Components' objects against the operators' CRDs"
python3 scripts/check-monitoring-crds.py
echo "== shellcheck: the migration tools' peer scripts and drivers (docs/tools/)"
shellcheck -x scripts/peers/*.sh scripts/tools/*.sh
echo "== shellcheck"
shellcheck scripts/*.sh scripts/peers/*.sh k8s/*.sh .ci/run
echo "ok: shellcheck"
echo "== static binary"
./scripts/check-static.sh
echo "== arm64 static binary"
./scripts/check-arm64.sh
echo "== images: podman build, runc, publish to a registry on loopback"
python3 scripts/check-image.py
