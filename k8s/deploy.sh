#!/usr/bin/env bash
# shellcheck disable=SC2016 # go-templates' $variables are not the shell's
# Rolls a release out (or back) around the schema gate. One image for everything: the migrate Job,
# the Deployments and each gate run the release's image, so a gate expects exactly the
# migrations that image ships.
#
#   k8s/deploy.sh up TAG                          TAG: a tag (v1.4.2) or a digest (@sha256:…)
#   k8s/deploy.sh rollback TAG [DOWN_TO_VERSION]
#   k8s/deploy.sh namespace                       create NAMESPACE with Pod Security labels,
#                                                 never lowering one that is already set
#
# Environment:
#   OVERLAY     the kustomization to render (default: this directory's overlays/$VARIANT)
#   VARIANT     classic | native-sidecar | gate-image (default classic)
#   NAMESPACE   set on every rendered object (default honeydue)
#   APP_IMAGE   the release image's name, without tag (default: the name the overlay gives the
#               migrate Job's image); every container image of that name gets TAG
#   MIGRATE_CONTAINER  the Job's goose container (default: its only container)
#   TIMEOUT     one deadline for the whole run (default 10m; 600, 90s, 8m, 1.5h, 1h30m)
#   KUBECTL (kubectl), POLL_SECONDS (2), POD_SECURITY (namespace: the enforce level, baseline)
#
# Nothing is named here: the render says which Job migrates (exactly one Job) and which
# Deployments roll out (all of them). The Job's goose container keeps the goose command in `args`
# (`args: [up]`, flags in `command`): a rollback replaces it with `[down-to, VERSION]`.
#
# up:       0. take the deploy lock (a Lease named after the Job): one deploy at a time;
#           1. refuse if the previous Job still runs (nothing is deleted);
#           2. delete a finished previous Job, in the foreground;
#           3. apply what the Job references (its ConfigMaps, Secrets, ServiceAccount), then the
#              Job from TAG's image; wait for Complete or Failed, failing at once on a pod that
#              cannot start (image pull, missing ConfigMap or Secret, unschedulable);
#           4. apply the rest, roll every Deployment out and wait, failing at once likewise;
#           5. delete ConfigMaps this script applied before that nothing references any more.
# rollback: 1. record the image being replaced (the newer release) on the first Deployment;
#           2. roll the Deployments back to TAG and wait (GATE_POLICY=at-least, the default,
#              keeps the older pods ready on the newer schema: every file they ship is applied);
#           3. only with DOWN_TO_VERSION: run `goose down-to VERSION` as the Job from the replaced
#              image (only it holds the down migrations); a re-run after a failed down-to runs it
#              from that recorded image again.
# Deadlines derive from TIMEOUT: the Job's activeDeadlineSeconds (what is left of it), the
# Deployments' progressDeadlineSeconds, the init gate's GATE_TIMEOUT and the sidecar's
# startupProbe budget.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
variant=${VARIANT:-classic}
overlay=${OVERLAY:-$here/overlays/$variant}
namespace=${NAMESPACE:-honeydue}
kubectl=${KUBECTL:-kubectl}
timeout=${TIMEOUT:-10m}
poll=${POLL_SECONDS:-2}
managed_by=app.kubernetes.io/managed-by=schema-gate-deploy
rollback_from=schema-gate.dev/rollback-from

die() { echo "deploy: $*" >&2; exit 1; }
step() { echo "deploy: $*"; }
usage() { die "usage: deploy.sh up TAG | deploy.sh rollback TAG [DOWN_TO_VERSION] | deploy.sh namespace (env OVERLAY, VARIANT, NAMESPACE, APP_IMAGE, KUBECTL, TIMEOUT)"; }
k() { "$kubectl" -n "$namespace" "$@"; }

# TIMEOUT → whole seconds: Go-style durations (1h30m, 1.5h, 08m, 90s) or plain seconds.
seconds=$(awk -v d="$timeout" 'BEGIN {
  if (d ~ /^[0-9]+$/) { print d + 0; exit }
  total = 0; rest = d
  if (rest !~ /^([0-9]+(\.[0-9]+)?[hms])+$/) { print "bad"; exit }
  while (match(rest, /^[0-9]+(\.[0-9]+)?[hms]/)) {
    part = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
    unit = substr(part, length(part)); n = substr(part, 1, length(part) - 1) + 0
    total += n * (unit == "h" ? 3600 : unit == "m" ? 60 : 1)
  }
  print (total == int(total)) ? total : int(total) + 1
}')
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  die "TIMEOUT '$timeout' is not a duration like 600, 90s, 10m, 1.5h or 1h30m"
fi
[[ $poll =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "POLL_SECONDS '$poll' is not a number of seconds"
deadline=$(( $(date +%s) + seconds ))

# Sets $left to the seconds left before the deadline, or ends the run. Called in the main shell,
# never inside $(…), where die would end only the subshell.
left=0
budget() {
  left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || die "deadline of $timeout exceeded $1"
}

[ -f "$overlay/kustomization.yaml" ] || [ -f "$overlay/kustomization.yml" ] || [ -f "$overlay/Kustomization" ] ||
  die "no kustomization at '$overlay' (OVERLAY, or VARIANT classic | native-sidecar | gate-image)"
overlay=$(cd "$overlay" && pwd)

workdir=$(mktemp -d "${TMPDIR:-/tmp}/schema-gate-deploy.XXXXXX")
lease_held=""
cleanup() {
  [ -z "$lease_held" ] || release_lock
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A go-template over every object of a rendered file, read locally (no cluster needed).
inspect() {
  "$kubectl" annotate --local --overwrite -f "$1" schema-gate.dev/inspected=true -o "go-template=$2"
}

# TAG → the release image: NAME:TAG or NAME@sha256:…, never :latest.
image_for() {
  local name=$1 tag=$2
  if [[ $tag =~ ^@sha256:[0-9a-f]{64}$ ]]; then
    echo "$name$tag"
  elif [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] && [ "$tag" != latest ]; then
    echo "$name:$tag"
  else
    return 1
  fi
}
image_name() { local ref=${1%@sha256:*}; [[ ${ref##*/} == *:* ]] && ref=${ref%:*}; echo "$ref"; }

# What the overlay renders as it stands: the migrate Job, its container, the release image's name.
job="" container="" source_name=""
discover() {
  local plain=$workdir/plain.yaml jobs containers
  "$kubectl" kustomize "$overlay" >"$plain" || die "kustomize failed for $overlay"
  jobs=$(inspect "$plain" '{{if eq .kind "Job"}}{{.metadata.name}}{{"\n"}}{{end}}')
  [ "$(printf '%s' "$jobs" | grep -c .)" -eq 1 ] || die "$overlay must render exactly one Job (the migration), found: ${jobs:-none}"
  job=$jobs
  containers=$(inspect "$plain" '{{if eq .kind "Job"}}{{range .spec.template.spec.containers}}{{.name}} {{.image}}{{"\n"}}{{end}}{{end}}')
  container=${MIGRATE_CONTAINER:-}
  if [ -z "$container" ]; then
    [ "$(printf '%s\n' "$containers" | grep -c .)" -eq 1 ] || die "Job $job has several containers: set MIGRATE_CONTAINER"
    container=${containers%% *}
  fi
  source_name=$(printf '%s\n' "$containers" | awk -v c="$container" '$1 == c { print $2 }')
  [ -n "$source_name" ] || die "Job $job has no container '$container' (MIGRATE_CONTAINER)"
  source_name=$(image_name "$source_name")
}

# Renders $overlay with every image named $source_name set to $1, into $workdir/rendered.yaml.
# With a second argument (a version), the Job runs `goose down-to VERSION` instead.
render() {
  local image=$1 down_to=${2:-} name digest="" tag="" rel file=$workdir/rendered.yaml
  name=$(image_name "$image")
  if [[ $image == *@sha256:* ]]; then digest=${image#*@}; else tag=${image##*:}; fi
  rel=$(realpath --relative-to="$workdir/k" "$overlay")
  mkdir -p "$workdir/k"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources: [\"$rel\"]"
    echo "namespace: $namespace"
    echo "labels:"
    echo "  - pairs: {${managed_by%%=*}: ${managed_by#*=}}"
    echo "images:"
    echo "  - name: $source_name"
    echo "    newName: $name"
    if [ -n "$digest" ]; then echo "    digest: $digest"; else echo "    newTag: \"$tag\""; fi
    # The gate Components' placeholder: a gate runs from the release image.
    echo "  - name: schema-gate"
    echo "    newName: $name"
    if [ -n "$digest" ]; then echo "    digest: $digest"; else echo "    newTag: \"$tag\""; fi
    echo "patches:"
    # The Job gets what is left of the run (it must not outlive the deploy that waits for it),
    # and never retries goose (a failed migration re-run is never what anyone wants).
    echo "  - target: {kind: Job, name: $job}"
    echo "    patch: |-"
    echo "      - {op: add, path: /spec/activeDeadlineSeconds, value: $left}"
    echo "      - {op: add, path: /spec/backoffLimit, value: 0}"
    if [ -n "$down_to" ]; then
      echo "  - target: {kind: Job, name: $job}"
      echo "    patch: |-"
      echo "      kind: Job"
      echo "      metadata: {name: $job}"
      echo "      spec: {template: {spec: {containers: [{name: $container, args: [down-to, \"$down_to\"]}]}}}"
    fi
    echo "  - target: {kind: Deployment}"
    echo "    patch: |-"
    echo "      - {op: add, path: /spec/progressDeadlineSeconds, value: $seconds}"
  } >"$workdir/k/kustomization.yaml"
  "$kubectl" kustomize "$workdir/k" >"$file" || die "kustomize failed for $overlay"
  gate_deadlines "$file"
  "$kubectl" kustomize "$workdir/k" >"$file" || die "kustomize failed for $overlay"
  check_render "$file" "$image"
}

# The gates' own deadlines, from TIMEOUT: an init gate gives up (GATE_TIMEOUT) when the deploy
# does; a sidecar's startupProbe holds the app back for as long.
gate_deadlines() {
  local gates dep kind period
  gates=$(inspect "$1" '{{if eq .kind "Deployment"}}{{$d := .metadata.name}}{{range .spec.template.spec.initContainers}}{{if eq .name "schema-gate"}}{{$d}} {{or .restartPolicy "init"}} {{with .startupProbe}}{{or .periodSeconds 10}}{{end}}{{"\n"}}{{end}}{{end}}{{end}}')
  while read -r dep kind period; do
    [ -n "$dep" ] || continue
    echo "  - target: {kind: Deployment, name: $dep}"
    echo "    patch: |-"
    echo "      kind: Deployment"
    echo "      metadata: {name: $dep}"
    if [ "$kind" = Always ] && [ -n "$period" ]; then
      echo "      spec: {template: {spec: {initContainers: [{name: schema-gate, startupProbe: {failureThreshold: $(( (seconds + period - 1) / period ))}}]}}}"
    elif [ "$kind" != Always ]; then
      echo "      spec: {template: {spec: {initContainers: [{name: schema-gate, env: [{name: GATE_TIMEOUT, value: \"${seconds}s\"}]}]}}}"
    fi
  done <<<"$gates" >>"$workdir/k/kustomization.yaml"
}

# Every image fully qualified and pinned; the Job and every container of the release image's name
# (apps and gates) run exactly the image being deployed; the goose command is the Job's args.
check_render() {
  local file=$1 image=$2 tag kind name cname ref args="" deployments=0
  while read -r tag kind name cname ref; do
    case $tag in
      O) [ "$kind" != Deployment ] || deployments=$(( deployments + 1 ))
        [ "$kind" != Namespace ] || die "$overlay renders a Namespace: leave it out (deploy.sh namespace creates it once)" ;;
      A) args=${kind:-}${name:+ $name}${cname:+ $cname} ;;
      C)
        if ! [[ $ref =~ ^[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$ ]] ||
          [[ $ref == *:latest ]]; then
          die "rendered image '$ref' is not fully qualified and pinned"
        fi
        if { [ "$kind" = Job ] && [ "$cname" = "$container" ]; } ||
          [ "$(image_name "$ref")" = "$source_name" ] || [ "$(image_name "$ref")" = "$(image_name "$image")" ]; then
          [ "$ref" = "$image" ] || die "rendered ${kind,,}/$name container $cname runs '$ref', not the release '$image' (APP_IMAGE names the image to replace; the overlay renders '$source_name')"
        fi ;;
    esac
  done < <(inspect "$file" "{{\$k := .kind}}{{\$n := .metadata.name}}O {{\$k}} {{\$n}}{{\"\\n\"}}{{range .spec.template.spec.initContainers}}C {{\$k}} {{\$n}} {{.name}} {{.image}}{{\"\\n\"}}{{end}}{{range .spec.template.spec.containers}}C {{\$k}} {{\$n}} {{.name}} {{.image}}{{\"\\n\"}}{{if and (eq \$k \"Job\") (eq .name \"$container\")}}A{{range .args}} {{.}}{{end}}{{\"\\n\"}}{{end}}{{end}}")
  [ "$deployments" -gt 0 ] || die "$overlay renders no Deployment"
  case "$args" in
    up | "down-to "*) ;;
    *) die "Job $job container $container: args must be the goose command alone ([up]; flags go in command), found: [$args]" ;;
  esac
}

# The rendered objects split by role: what the Job references (needs.yaml), the Job (job.yaml),
# everything else (rest.yaml).
split_render() {
  local file=$workdir/rendered.yaml refs
  rm -f "$workdir/needs.yaml" "$workdir/job.yaml" "$workdir/rest.yaml"
  refs=$(inspect "$file" '{{define "c"}}{{range .envFrom}}{{with .configMapRef}}ConfigMap {{.name}}{{"\n"}}{{end}}{{with .secretRef}}Secret {{.name}}{{"\n"}}{{end}}{{end}}{{range .env}}{{with .valueFrom}}{{with .configMapKeyRef}}ConfigMap {{.name}}{{"\n"}}{{end}}{{with .secretKeyRef}}Secret {{.name}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}{{if eq .kind "Job"}}{{with .spec.template.spec}}{{with .serviceAccountName}}ServiceAccount {{.}}{{"\n"}}{{end}}{{range .initContainers}}{{template "c" .}}{{end}}{{range .containers}}{{template "c" .}}{{end}}{{range .volumes}}{{with .configMap}}ConfigMap {{.name}}{{"\n"}}{{end}}{{with .secret}}Secret {{.secretName}}{{"\n"}}{{end}}{{with .projected}}{{range .sources}}{{with .configMap}}ConfigMap {{.name}}{{"\n"}}{{end}}{{with .secret}}Secret {{.name}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}')
  awk -v dir="$workdir" -v refs="$refs" '
    BEGIN { n = split(refs, r, "\n"); for (i = 1; i <= n; i++) if (r[i] != "") want[r[i]] = 1 }
    function flush() {
      if (doc == "") return
      out = (kind == "Job") ? "job" : ((kind " " name) in want) ? "needs" : "rest"
      printf "%s---\n", doc >> (dir "/" out ".yaml")
      doc = ""; kind = ""; name = ""; top = ""
    }
    /^---$/ { flush(); next }
    /^[A-Za-z]/ { top = $1 }
    /^kind: / { kind = $2 }
    top == "metadata:" && /^  name: / { name = $2 }
    { doc = doc $0 "\n" }
    END { flush() }' "$file"
}

apply() { [ ! -s "$1" ] || k apply --server-side --force-conflicts -f "$1" >/dev/null; }

# --- the deploy lock: a Lease only one deploy can create ------------------------------------

lock=""
lease_manifest() {
  local now version=""
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  [ -z "${1:-}" ] || version="  resourceVersion: \"$1\""
  cat <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $lock
  namespace: $namespace
  labels: {${managed_by%%=*}: ${managed_by#*=}}
$version
spec:
  holderIdentity: "$identity"
  leaseDurationSeconds: $(( seconds + 60 ))
  acquireTime: $now
  renewTime: $now
EOF
}
identity="$(id -un 2>/dev/null || echo user)@$(hostname 2>/dev/null || echo host) pid $$ $(date -u +%Y-%m-%dT%H:%M:%SZ)"
take_lock() {
  lock=$job-deploy
  local out holder renew duration version renewed
  if out=$(lease_manifest | k create -f - 2>&1); then
    lease_held=1
    return
  fi
  [[ $out == *AlreadyExists* || $out == *"already exists"* ]] || die "could not take the deploy lock (Lease $lock): $out"
  IFS=$'\t' read -r renew duration version holder < <(k get lease "$lock" -o go-template='{{.spec.renewTime}}{{"\t"}}{{.spec.leaseDurationSeconds}}{{"\t"}}{{.metadata.resourceVersion}}{{"\t"}}{{.spec.holderIdentity}}{{"\n"}}') || true
  renewed=$(date -d "$renew" +%s 2>/dev/null || echo 0)
  if [ $(( renewed + ${duration:-0} )) -lt "$(date +%s)" ]; then
    step "taking over an expired deploy lock (Lease $lock, held by $holder)"
    if lease_manifest "$version" | k replace -f - >/dev/null 2>&1; then
      lease_held=1
      return
    fi
  fi
  die "another deploy holds the lock (Lease $lock: $holder, until $(date -u -d "@$(( renewed + ${duration:-0} ))" +%H:%M:%SZ 2>/dev/null || echo "?")); nothing was changed. If no deploy runs any more: $kubectl -n $namespace delete lease $lock"
}
release_lock() {
  lease_held=""
  local holder
  holder=$(k get lease "$lock" -o go-template='{{.spec.holderIdentity}}' 2>/dev/null) || return 0
  [ "$holder" != "$identity" ] || k delete lease "$lock" --wait=false >/dev/null 2>&1 || true
}

# --- the migrate Job ------------------------------------------------------------------------

# The previous Job's state: none, running, complete or failed.
job_state() {
  local out
  out=$(k get job "$job" --ignore-not-found -o go-template='found {{range .status.conditions}}{{if eq .status "True"}}{{.type}} {{end}}{{end}}') ||
    die "could not read job/$job"
  case " $out " in
    "  ") echo none ;;
    *" Complete "*) echo complete ;;
    *" Failed "* | *" FailureTarget "*) echo failed ;;
    *) echo running ;;
  esac
}

# Pods that cannot start, one "POD REASON: MESSAGE" a line, for a label selector. goose never ran
# in such a pod (or the app never started): the reason is final until someone acts.
blocked_pods() {
  k get pods -l "$1" -o go-template='{{range .items}}{{$p := .metadata.name}}{{if not .metadata.deletionTimestamp}}{{range .status.conditions}}{{if and (eq .type "PodScheduled") (eq .status "False")}}{{$p}} {{.reason}}: {{.message}}{{"\n"}}{{end}}{{end}}{{range .status.initContainerStatuses}}{{with .state.waiting}}{{$p}} {{.reason}}: {{.message}}{{"\n"}}{{end}}{{end}}{{range .status.containerStatuses}}{{with .state.waiting}}{{$p}} {{.reason}}: {{.message}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}' 2>/dev/null |
    grep -E '^[^ ]+ (ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|CreateContainerConfigError|CreateContainerError|RunContainerError|Unschedulable|CrashLoopBackOff):' || true
}
pods_summary() {
  k get pods -l "$1" -o go-template='{{range .items}}{{.metadata.name}} {{.status.phase}}{{range .status.initContainerStatuses}} {{.name}}={{if .state.waiting}}waiting({{.state.waiting.reason}}){{else if .state.running}}running{{else if .state.terminated}}exited({{.state.terminated.exitCode}}){{end}}{{end}}; {{end}}' 2>/dev/null || true
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
      budget "before deleting the previous Job"
      step "deleting the previous $job Job ($state)"
      k delete job "$job" --cascade=foreground --wait=true --timeout="${left}s" >/dev/null ||
        die "could not delete the previous $job Job" ;;
  esac
}

# Applies what the Job needs, then the Job, and waits for Complete or Failed.
run_job() {
  local what=$1 after=$2 blocked state last="" said=0 now reason
  budget "before $what"
  split_render
  sed -i "s/^  activeDeadlineSeconds: .*/  activeDeadlineSeconds: $left/" "$workdir/job.yaml"
  apply "$workdir/needs.yaml" || die "could not apply what Job $job references"
  step "running $what (Job $job, deadline ${left}s)"
  apply "$workdir/job.yaml" || die "could not apply the $job Job"
  while :; do
    state=$(job_state)
    case $state in
      complete) step "$what completed"; return ;;
      failed)
        reason=$(k get job "$job" -o go-template='{{range .status.conditions}}{{if and (eq .status "True") (or (eq .type "Failed") (eq .type "FailureTarget"))}}{{.reason}}: {{.message}}{{end}}{{end}}' || true)
        echo "deploy: last lines of the Job's log:" >&2
        k logs "job/$job" --tail=20 >&2 || true
        die "$what failed ($reason): $after" ;;
    esac
    blocked=$(blocked_pods "batch.kubernetes.io/job-name=$job")
    if [ -n "$blocked" ]; then
      k delete job "$job" --cascade=foreground --wait=true --timeout=60s >/dev/null 2>&1 || true
      die "$what cannot start: ${blocked//$'\n'/; } (goose never ran; the Job was deleted): $after"
    fi
    now=$(date +%s)
    if [ "$(pods_summary "batch.kubernetes.io/job-name=$job")" != "$last" ] || [ $(( now - said )) -ge 30 ]; then
      last=$(pods_summary "batch.kubernetes.io/job-name=$job")
      said=$now
      step "waiting for $what, $(( deadline - now ))s left: ${last:-no pod yet}"
    fi
    [ $(( deadline - now )) -gt 0 ] ||
      die "deadline of $timeout exceeded while $what still runs (the Job stops at its activeDeadlineSeconds: $kubectl -n $namespace logs job/$job): $after"
    sleep "$poll"
  done
}

# --- the Deployments ------------------------------------------------------------------------

deployments() { inspect "$workdir/rendered.yaml" '{{if eq .kind "Deployment"}}{{.metadata.name}}{{"\n"}}{{end}}'; }

# Applies everything but the Job, then waits for every Deployment, failing at once on pods that
# cannot start.
roll_out() {
  local what=$1 d selector status last said now blocked
  budget "before rolling out"
  step "rolling out $(deployments | tr '\n' ' ')($what)"
  split_render
  apply "$workdir/needs.yaml" || die "could not apply the manifests"
  apply "$workdir/rest.yaml" || die "could not apply the manifests"
  for d in $(deployments); do
    selector=$(k get deployment "$d" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
    selector=${selector%,}
    last="" said=0
    while :; do
      if ! status=$(k rollout status "deployment/$d" --watch=false 2>&1); then
        die "deployment/$d did not become ready: $status ($kubectl -n $namespace describe pod -l $selector shows the gate's verdict)"
      fi
      [[ $status != *"successfully rolled out"* ]] || break
      blocked=$(blocked_pods "$selector")
      [ -z "$blocked" ] || die "deployment/$d cannot start pods: ${blocked//$'\n'/; }"
      now=$(date +%s)
      if [ "$status" != "$last" ] || [ $(( now - said )) -ge 30 ]; then
        last=$status said=$now
        step "$(( deadline - now ))s left: $status $(pods_summary "$selector")"
      fi
      [ $(( deadline - now )) -gt 0 ] ||
        die "deadline of $timeout exceeded waiting for deployment/$d ($kubectl -n $namespace describe pod -l $selector shows the gate's verdict)"
      sleep "$poll"
    done
    step "deployment/$d rolled out"
  done
}

# Deletes ConfigMaps this script applied that are neither in this release nor referenced by any
# ReplicaSet or Job left in the namespace (kept: what `kubectl rollout undo` may still need).
prune_configmaps() {
  local current used cm
  split_render
  current=$(inspect "$workdir/rendered.yaml" '{{if eq .kind "ConfigMap"}}{{.metadata.name}}{{"\n"}}{{end}}')
  used=$(k get replicasets,jobs -o go-template='{{range .items}}{{with .spec.template.spec}}{{range .volumes}}{{with .configMap}}{{.name}}{{"\n"}}{{end}}{{end}}{{range .initContainers}}{{range .envFrom}}{{with .configMapRef}}{{.name}}{{"\n"}}{{end}}{{end}}{{range .env}}{{with .valueFrom}}{{with .configMapKeyRef}}{{.name}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}{{range .containers}}{{range .envFrom}}{{with .configMapRef}}{{.name}}{{"\n"}}{{end}}{{end}}{{range .env}}{{with .valueFrom}}{{with .configMapKeyRef}}{{.name}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}{{end}}{{end}}') ||
    { step "could not list ReplicaSets and Jobs: no ConfigMap pruned"; return 0; }
  for cm in $(k get configmaps -l "$managed_by" -o go-template='{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}'); do
    if ! grep -qxF "$cm" <<<"$current"$'\n'"$used"; then
      step "deleting ConfigMap $cm (no longer used)"
      k delete configmap "$cm" --ignore-not-found >/dev/null || true
    fi
  done
}

# The image the first Deployment runs now (its container that runs the release image).
current_image() {
  local d c
  d=$(deployments | head -n 1)
  c=$(inspect "$workdir/rendered.yaml" "{{if and (eq .kind \"Deployment\") (eq .metadata.name \"$d\")}}{{range .spec.template.spec.containers}}{{.name}} {{.image}}{{\"\\n\"}}{{end}}{{end}}" |
    awk -v n="$source_name" -v t="$1" '$2 == t || index($2, n) == 1 { print $1; exit }')
  k get deployment "$d" --ignore-not-found -o go-template="{{range .spec.template.spec.containers}}{{if eq .name \"$c\"}}{{.image}}{{end}}{{end}}"
}
recorded_from() {
  k get deployment "$(deployments | head -n 1)" --ignore-not-found -o go-template="{{with .metadata.annotations}}{{index . \"$rollback_from\"}}{{end}}" 2>/dev/null |
    sed 's/<no value>//'
}
record_from() {
  local d
  for d in $(deployments | head -n 1); do
    if [ -n "$1" ]; then
      k annotate deployment "$d" --overwrite "$rollback_from=$1" >/dev/null
    else
      k annotate deployment "$d" "$rollback_from-" >/dev/null 2>&1 || true
    fi
  done
}

# --- the Namespace --------------------------------------------------------------------------

ensure_namespace() {
  local enforce=${POD_SECURITY:-baseline} key value have
  if [ -z "$("$kubectl" get namespace "$namespace" --ignore-not-found -o name)" ]; then
    "$kubectl" create namespace "$namespace" >/dev/null || die "could not create namespace $namespace"
    step "created namespace $namespace"
  fi
  for pair in "enforce=$enforce" enforce-version=latest warn=restricted warn-version=latest audit=restricted audit-version=latest; do
    key=pod-security.kubernetes.io/${pair%%=*} value=${pair#*=}
    have=$("$kubectl" get namespace "$namespace" -o go-template="{{with .metadata.labels}}{{index . \"$key\"}}{{end}}" | sed 's/<no value>//')
    if [ -z "$have" ]; then
      "$kubectl" label namespace "$namespace" "$key=$value" >/dev/null || die "could not label namespace $namespace"
      step "namespace $namespace: $key=$value"
    else
      step "namespace $namespace: kept $key=$have"
    fi
  done
}

# --- main -----------------------------------------------------------------------------------

command=${1:-}
case $command in
  up)
    [ $# -eq 2 ] || usage
    discover
    image=$(image_for "$(image_name "${APP_IMAGE:-$source_name}")" "$2") ||
      die "TAG '$2' is not a pinned tag (v1.4.2) or digest (@sha256:<64 hex>); 'latest' is refused"
    budget "before rendering"
    render "$image"
    take_lock
    replaced=$(current_image "$image")
    step "release $image ($overlay, namespace $namespace, replacing ${replaced:-nothing})"
    free_the_job_slot
    run_job "goose up" "nothing else was applied; the Deployments still run ${replaced:-nothing}"
    roll_out "$image"
    record_from ""
    prune_configmaps
    step "done: $image"
    ;;
  rollback)
    [ $# -eq 2 ] || [ $# -eq 3 ] || usage
    discover
    image=$(image_for "$(image_name "${APP_IMAGE:-$source_name}")" "$2") ||
      die "TAG '$2' is not a pinned tag (v1.4.2) or digest (@sha256:<64 hex>); 'latest' is refused"
    down_to=${3:-}
    if [ -n "$down_to" ] && ! [[ $down_to =~ ^[0-9]+$ ]]; then
      die "DOWN_TO_VERSION '$down_to' is not a version number"
    fi
    budget "before rendering"
    render "$image"
    take_lock
    replaced=$(current_image "$image")
    [ -n "$replaced" ] || die "deployment/$(deployments | head -n 1) not found: nothing to roll back"
    from=$replaced
    if [ "$replaced" = "$image" ]; then
      from=$(recorded_from)
      [ -z "$down_to" ] || [ -n "$from" ] ||
        die "the Deployments already run $image and no earlier rollback recorded the newer image: nothing to run down-to from"
      step "the Deployments already run $image${from:+ (rolled back from $from)}"
    fi
    step "rollback from $from to $image ($overlay, namespace $namespace)"
    # Refuse before touching the apps if goose is busy.
    [ -z "$down_to" ] || [ "$(job_state)" != running ] || free_the_job_slot
    [ -z "$down_to" ] || record_from "$from"
    roll_out "$image"
    if [ -n "$down_to" ]; then
      render "$from" "$down_to"
      free_the_job_slot
      run_job "goose down-to $down_to (from $from)" "the Deployments already run $image, the schema was not rolled back; run this again to retry (down-to runs from $from again)"
      record_from ""
    fi
    render "$image"
    prune_configmaps
    step "done: running $image${down_to:+, schema down to $down_to}"
    ;;
  namespace)
    [ $# -eq 1 ] || usage
    ensure_namespace
    ;;
  *) usage ;;
esac
