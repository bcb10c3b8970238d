#!/usr/bin/env bash
# Roll a release of honeydue out (or back) around the schema gate. One image tag for everything:
# the goose Job, api and worker run TAG's image, and each gate runs from its app's image, so it
# expects exactly the migrations that image ships.
#
#   k8s/deploy.sh up TAG                           TAG: a tag (v1.4.2) or a digest (@sha256:…)
#   k8s/deploy.sh rollback TAG [DOWN_TO_VERSION]
#
# Environment: VARIANT (classic | native-sidecar; default classic), NAMESPACE (honeydue),
# KUBECTL (kubectl), TIMEOUT (10m: one deadline for the whole run), APP_IMAGE (the api image's
# name, as in components/release: gitea.treytartt.com/honeydue/api), POLL_SECONDS (2).
#
# up:       1. refuse if a previous goose-migrate Job still runs (nothing is deleted);
#           2. delete a finished previous Job, in the foreground;
#           3. run `goose up` as the Job from TAG's image and wait for Complete or Failed
#              (Failed aborts at once with the Job's reason and its log's last lines);
#           4. roll api and worker out with TAG and wait for both.
# rollback: 1. record the image being replaced (the newer release);
#           2. roll api and worker back to TAG and wait (with GATE_POLICY=at-least, the default,
#              the older pods are ready on the newer schema: every file they ship is applied);
#           3. only if DOWN_TO_VERSION is given: run `goose down-to DOWN_TO_VERSION` as the Job
#              from the replaced, newer image (only it holds the down migrations) and wait.
# The Namespace is not applied here: apply k8s/namespace.yaml once by hand.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
variant=${VARIANT:-classic}
namespace=${NAMESPACE:-honeydue}
kubectl=${KUBECTL:-kubectl}
timeout=${TIMEOUT:-10m}
app_image=${APP_IMAGE:-gitea.treytartt.com/honeydue/api}
poll=${POLL_SECONDS:-2}
job=goose-migrate

die() { echo "deploy: $*" >&2; exit 1; }
step() { echo "deploy: $*"; }
usage() { die "usage: deploy.sh up TAG | deploy.sh rollback TAG [DOWN_TO_VERSION] (env VARIANT, NAMESPACE, KUBECTL, TIMEOUT)"; }
k() { "$kubectl" -n "$namespace" "$@"; }

# The whole run shares one deadline.
case $timeout in
  *h) seconds=$(( ${timeout%h} * 3600 )) ;;
  *m) seconds=$(( ${timeout%m} * 60 )) ;;
  *s) seconds=${timeout%s} ;;
  *) seconds=$timeout ;;
esac
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  die "TIMEOUT '$timeout' is not a duration like 600s, 10m or 1h"
fi
deadline=$(( $(date +%s) + seconds ))
remaining() {
  local left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || die "deadline of $timeout exceeded: $1"
  echo "$left"
}

[ -d "$here/overlays/$variant" ] || die "unknown VARIANT '$variant' (use classic or native-sidecar)"

# TAG → the app image reference: NAME:TAG or NAME@sha256:…, never :latest.
image_for() {
  local tag=$1
  if [[ $tag =~ ^@sha256:[0-9a-f]{64}$ ]]; then
    echo "$app_image$tag"
  elif [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] && [ "$tag" != latest ]; then
    echo "$app_image:$tag"
  else
    die "TAG '$tag' is not a pinned tag (v1.4.2) or digest (@sha256:<64 hex>); 'latest' is refused"
  fi
}

# Renders the overlay with every app image set to $1 into $rendered. With a second argument,
# the Job runs `goose $2` instead of `goose up`.
rendered=$(mktemp)
workdir=$(mktemp -d "$here/.render.XXXXXX")
trap 'rm -rf "$rendered" "$workdir"' EXIT
render() {
  local image=$1 goose_args=${2:-}
  local name=${image%@sha256:*} digest="" tag=""
  if [ "$name" != "$image" ]; then
    digest=${image#*@}
  else
    name=${image%:*}
    tag=${image##*:}
  fi
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources: [../overlays/$variant]"
    echo "images:"
    echo "  - name: $app_image"
    echo "    newName: $name"
    if [ -n "$digest" ]; then echo "    digest: $digest"; else echo "    newTag: \"$tag\""; fi
    if [ -n "$goose_args" ]; then
      echo "patches:"
      echo "  - target: {kind: Job, name: $job}"
      echo "    patch: |-"
      echo "      - op: replace"
      echo "        path: /spec/template/spec/containers/0/args"
      echo "        value: [\"-dir\", \"\$(GOOSE_MIGRATION_DIR)\", \"-table\", \"\$(GOOSE_TABLE)\", $goose_args]"
    fi
  } >"$workdir/kustomization.yaml"
  "$kubectl" kustomize "$workdir" >"$rendered" || die "kustomize failed for overlays/$variant"
  # Every image fully qualified (a registry host) and pinned (a tag other than latest, or a digest).
  local ref
  while read -r ref; do
    if ! [[ $ref =~ ^[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$ ]] ||
       [[ $ref == *:latest ]]; then
      die "rendered image '$ref' is not fully qualified and pinned"
    fi
  done < <(grep -oE 'image: *[^ ]+' "$rendered" | awk '{print $2}' | sort -u)
}

# The previous Job's state: none, running, complete or failed.
job_state() {
  if [ -z "$(k get job "$job" --ignore-not-found -o name)" ]; then
    echo none
    return
  fi
  local conditions
  conditions=$(k get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
  case " $conditions " in
    *" Complete "*) echo complete ;;
    *" Failed "*) echo failed ;;
    *) echo running ;;
  esac
}

# A running goose must never be killed or doubled: the Job is the singleton.
free_the_job_slot() {
  local state
  state=$(job_state)
  case $state in
    none) ;;
    running)
      die "a previous $job Job is still running; nothing was deleted. Inspect it with
  $kubectl -n $namespace describe job/$job
  $kubectl -n $namespace logs job/$job --tail=50
and run this again once it has finished (or delete it yourself if it is safe to)." ;;
    *)
      step "deleting the previous $job Job ($state)"
      k delete job "$job" --cascade=foreground --wait=true --timeout="$(remaining "deleting the previous Job")s" >/dev/null \
        || die "could not delete the previous $job Job" ;;
  esac
}

# Applies the rendered Job and waits for Complete or Failed, whichever comes first.
run_job() {
  local what=$1
  step "running $what (Job $job)"
  k apply -f "$rendered" -l app.kubernetes.io/component=migrate >/dev/null || die "could not apply the $job Job"
  while :; do
    case $(job_state) in
      complete) step "$what completed"; return ;;
      failed)
        local reason
        reason=$(k get job "$job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}' || true)
        echo "deploy: last lines of the Job's log:" >&2
        k logs "job/$job" --tail=20 >&2 || true
        die "$what failed ($reason): api and worker were NOT rolled out" ;;
    esac
    [ $(( deadline - $(date +%s) )) -gt 0 ] \
      || die "deadline of $timeout exceeded while $what still runs (the Job was left running: $kubectl -n $namespace logs job/$job)"
    sleep "$poll"
  done
}

# Applies everything but the Job and the Namespace, then waits for api and worker.
roll_out() {
  step "rolling out api and worker ($1)"
  k apply -f "$rendered" -l 'app.kubernetes.io/component!=migrate' >/dev/null || die "could not apply the manifests"
  local deployment
  for deployment in api worker; do
    k rollout status "deployment/$deployment" --timeout="$(remaining "waiting for deployment/$deployment")s" \
      || die "deployment/$deployment did not become ready ($kubectl -n $namespace describe pod -l app.kubernetes.io/name=$deployment shows the gate's verdict)"
  done
}

current_image() {
  k get deployment api --ignore-not-found -o jsonpath='{.spec.template.spec.containers[?(@.name=="api")].image}'
}

command=${1:-}
case $command in
  up)
    [ $# -eq 2 ] || usage
    image=$(image_for "$2")
    render "$image"
    replaced=$(current_image)
    step "release $image (variant $variant, namespace $namespace, replacing ${replaced:-nothing})"
    free_the_job_slot
    run_job "goose up"
    roll_out "$image"
    step "done: $image"
    ;;
  rollback)
    [ $# -eq 2 ] || [ $# -eq 3 ] || usage
    image=$(image_for "$2")
    down_to=${3:-}
    if [ -n "$down_to" ] && ! [[ $down_to =~ ^[0-9]+$ ]]; then
      die "DOWN_TO_VERSION '$down_to' is not a version number"
    fi
    replaced=$(current_image)
    [ -n "$replaced" ] || die "deployment/api not found: nothing to roll back"
    step "rollback from $replaced to $image (variant $variant, namespace $namespace)"
    # Refuse before touching the apps if goose is busy.
    [ -z "$down_to" ] || [ "$(job_state)" != running ] || free_the_job_slot
    render "$image"
    roll_out "$image"
    if [ -n "$down_to" ]; then
      render "$replaced" "\"down-to\", \"$down_to\""
      free_the_job_slot
      run_job "goose down-to $down_to (from $replaced)"
    fi
    step "done: running $image${down_to:+, schema down to $down_to}"
    ;;
  *) usage ;;
esac
