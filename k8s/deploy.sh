#!/usr/bin/env bash
# Roll out a release of honeydue with the schema gate:
#   1. delete the previous goose Job, apply the new one, wait for it to complete (10 min);
#   2. confirm with `schema-gate check` run in the cluster (its exit code drives this script);
#   3. roll out api and worker and wait for them.
# Aborts with a clear message at the first failure. The api/worker pods are gated on their own
# (init container or native sidecar), so even a skipped step 1 cannot start them on a stale schema.
#
#   k8s/deploy.sh [classic|native-sidecar]      (env: NAMESPACE, KUBECTL, TIMEOUT)
set -euo pipefail

variant=${1:-classic}
namespace=${NAMESPACE:-honeydue}
kubectl=${KUBECTL:-kubectl}
timeout=${TIMEOUT:-10m}
here=$(cd "$(dirname "$0")" && pwd)
overlay="$here/overlays/$variant"

die() { echo "deploy: $*" >&2; exit 1; }
step() { echo "deploy: $*"; }

[ -d "$overlay" ] || die "unknown variant '$variant' (use classic or native-sidecar)"
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$kubectl" kustomize "$overlay" >"$rendered" || die "kustomize failed for $overlay"
gate_image=$(grep -m 1 -oE 'image: [^ ]*schema-gate[^ ]*' "$rendered" | cut -d' ' -f2)
[ -n "$gate_image" ] || die "no schema-gate image in the rendered manifests"

step "applying namespace and configuration"
"$kubectl" apply -f "$rendered" -l app.kubernetes.io/component=config >/dev/null \
  || die "could not apply the namespace and ConfigMap"

step "deleting the previous migration Job (if any)"
"$kubectl" -n "$namespace" delete job goose-migrate --ignore-not-found --wait=true >/dev/null \
  || die "could not delete the previous goose-migrate Job"

step "running goose up (Job goose-migrate, timeout $timeout)"
"$kubectl" apply -f "$rendered" -l app.kubernetes.io/component=migrate >/dev/null \
  || die "could not apply the goose-migrate Job"
if ! "$kubectl" -n "$namespace" wait --for=condition=complete job/goose-migrate --timeout="$timeout"; then
  "$kubectl" -n "$namespace" logs job/goose-migrate --tail=30 >&2 || true
  die "migrations did not complete within $timeout: api and worker were NOT rolled out"
fi

step "confirming the schema with schema-gate check ($gate_image)"
config=$(grep -m 1 -oE 'name: schema-[a-z0-9]+' "$rendered" | cut -d' ' -f2)
overrides=$(cat <<JSON
{"apiVersion": "v1", "spec": {
  "automountServiceAccountToken": false,
  "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                      "seccompProfile": {"type": "RuntimeDefault"}},
  "containers": [{
    "name": "schema-gate-check", "image": "$gate_image", "args": ["check"],
    "envFrom": [{"configMapRef": {"name": "$config"}}],
    "env": [{"name": "DATABASE_URL",
             "valueFrom": {"secretKeyRef": {"name": "honeydue-db", "key": "DATABASE_URL"}}}],
    "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]}}
  }]}}
JSON
)
set +e
"$kubectl" -n "$namespace" run "schema-gate-check-$$" --image="$gate_image" --restart=Never \
  --rm -i --quiet --overrides="$overrides" -- check
code=$?
set -e
case $code in
  0) step "schema is ready" ;;
  1) die "schema-gate check: not ready (pending migrations or no table): NOT rolling out" ;;
  2) die "schema-gate check: configuration error (see above): NOT rolling out" ;;
  3) die "schema-gate check: database error (see above): NOT rolling out" ;;
  4) die "schema-gate check: the database is ahead of this release (GATE_POLICY=exact): NOT rolling out" ;;
  *) die "schema-gate check could not run (exit $code): NOT rolling out" ;;
esac

step "rolling out api and worker"
"$kubectl" apply -f "$rendered" >/dev/null || die "could not apply the manifests"
for deployment in api worker; do
  "$kubectl" -n "$namespace" rollout status "deployment/$deployment" --timeout="$timeout" \
    || die "deployment/$deployment did not become ready within $timeout (kubectl -n $namespace describe pod -l app.kubernetes.io/name=$deployment shows the gate's verdict)"
done
step "done"
