#!/usr/bin/env bash
# deploy-k3s/scripts/03-deploy.sh TAG: the team's deploy step before schema-gate. Deletes any prior
# migrate Job, applies the fresh one, waits for it to complete, then rolls api and worker out. A
# failed Job aborts the deploy before any new app pod starts (but `kubectl wait` only returns on
# Complete: a failed or stuck Job waits the full 10 minutes).
set -euo pipefail
tag=${1:?usage: 03-deploy.sh TAG}
ns=honeydue
cd "$(dirname "$0")/.."
release() { sed "s|gitea.treytartt.com/honeydue/api:latest|gitea.treytartt.com/honeydue/api:$tag|" "$1"; }

kubectl -n "$ns" apply -f manifests/configmap.yaml
kubectl -n "$ns" delete job migrate --ignore-not-found --wait=true
release manifests/migrate/job.yaml | kubectl -n "$ns" apply -f -
kubectl -n "$ns" wait --for=condition=complete job/migrate --timeout=10m
for app in api worker; do
  release "manifests/$app.yaml" | kubectl -n "$ns" apply -f -
done
for app in api worker; do
  kubectl -n "$ns" rollout status "deployment/$app" --timeout=10m
done
