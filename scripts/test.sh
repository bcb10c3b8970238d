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
#   4. the static musl release binary: linked statically, within 4 MiB, and passing the check and
#      wait integration tests itself;
#   5. the same for linux/arm64: cross-built as the Dockerfile does, tested under qemu;
#   6. the real images: built with podman from those binaries, run under runc against a real
#      PostgreSQL (the gate image, and a stand-in app image running the rendered init
#      container), and published as a multi-arch list to a registry on loopback.
# For a quick loop while coding, plain `cargo test` is step 1 alone.
#
#   ./scripts/test.sh            (as root it installs what is missing: apt-get, pip, rustup)
#   ./scripts/test.sh --full     the same, with long seeded random runs for the migration tools
#                                (TOOLS_DIFF_STEPS=400 each; TOOLS_DIFF_SEED replays a run)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
for tool in openssl:openssl setpriv:util-linux shellcheck:shellcheck musl-gcc:musl-tools \
            readelf:binutils file:file kubectl:kubectl podman:podman skopeo:skopeo umoci:umoci \
            runc:runc docker-registry:docker-registry promtool:prometheus; do
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

# --- Migration tools (issue 18): the real CLIs the tools' differential tests drive
# (tests/tools_*.rs), each installed as its users install it, pinned and cached under
# ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate} by scripts/peers/<tool>.sh (a second run takes
# milliseconds); the tests find them through SCHEMA_GATE_<TOOL>. `--full` (also read from $mode
# when the suite's own option parsing set it) lengthens their seeded random runs.
tools_steps=${TOOLS_DIFF_STEPS:-}
if [ "${mode:-}" = full ]; then
  tools_steps=${TOOLS_DIFF_STEPS:-400}
elif [ "${1:-}" = --full ]; then
  tools_steps=${TOOLS_DIFF_STEPS:-400}
  shift
fi
[ -n "$tools_steps" ] && export TOOLS_DIFF_STEPS=$tools_steps
echo "== peers: golang-migrate, Flyway, Alembic, dbmate (pinned, cached)"
tools_started=$SECONDS
command -v go >/dev/null 2>&1 || { echo "test.sh: go missing (Go 1.26 or newer)" >&2; exit 1; }
for tool in java:default-jdk-headless mvn:maven npm:npm; do
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
echo "ok: migration tools ready in $((SECONDS - tools_started))s${TOOLS_DIFF_STEPS:+ (TOOLS_DIFF_STEPS=$TOOLS_DIFF_STEPS)}"
# --- end of the migration tools' block

echo "== cargo test"
cargo test --locked "$@"
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
