#!/usr/bin/env bash
# The CustomResourceDefinitions of the two monitoring operators the kit ships objects for, from
# their Go modules on the Go module proxy (pinned, hash-checked): prometheus-operator's
# example/prometheus-operator-crd (PodMonitor, PrometheusRule, ...) and the VictoriaMetrics
# operator's config/crd (VMPodScrape, VMRule, ...).
#
#   scripts/peers/operator-crds.sh     prints two paths, one a line: the directory of
#                                      prometheus-operator's CRD files, the VM operator's crd.yaml
#
# Copied under ${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/operator-crds/VERSIONS/ (into a
# temporary directory renamed into place: scripts/peers/lib.sh); `go mod download` keeps the modules in Go's module
# cache. The VictoriaMetrics operator's versions are not in the Go checksum database, so its
# module's hash is pinned here (the h1: line go.sum would hold) and checked instead.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

PROMETHEUS_OPERATOR=v0.85.0
VM_OPERATOR=v0.56.0
VM_OPERATOR_SUM=h1:By2/1CgjPm9/X9Dy070o961QgPPyvLQme10ZzXfpm7o=
dir=$(peer_dir operator-crds "prometheus-operator-$PROMETHEUS_OPERATOR-vm-operator-$VM_OPERATOR")

# `go mod download -json MODULE@VERSION` → "Dir" and "Sum" of the module, one a line.
download() {
  go mod download -json "$1" | python3 -c 'import json, sys; d = json.load(sys.stdin)
if d.get("Error"): sys.exit("operator-crds.sh: " + d["Error"])
print(d["Dir"]); print(d["Sum"])'
}

ready() { [ -f "$1/vm-operator/crd.yaml" ] && [ -d "$1/prometheus-operator" ]; }

build() {
  local tmp=$1 po vm
  peer_need go Go
  mapfile -t po < <(cd "$tmp" && download "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR")
  mapfile -t vm < <(cd "$tmp" && GONOSUMDB=github.com/VictoriaMetrics/operator \
    download "github.com/VictoriaMetrics/operator@$VM_OPERATOR")
  if [ ${#po[@]} -ne 2 ] || [ ${#vm[@]} -ne 2 ]; then
    peer_log "go mod download failed"
    exit 1
  fi
  if [ "${vm[1]}" != "$VM_OPERATOR_SUM" ]; then
    peer_log "VictoriaMetrics operator $VM_OPERATOR hash ${vm[1]}, pinned $VM_OPERATOR_SUM"
    exit 1
  fi
  mkdir "$tmp/prometheus-operator" "$tmp/vm-operator"
  cp "${po[0]}"/example/prometheus-operator-crd/*.yaml "$tmp/prometheus-operator/"
  cp "${vm[0]}/config/crd/overlay/crd.yaml" "$tmp/vm-operator/crd.yaml"
  chmod -R u+w "$tmp"
}

peer_install "$dir" ready build
peer_paths "$dir" prometheus-operator vm-operator/crd.yaml
