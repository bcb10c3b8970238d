#!/usr/bin/env python3
"""The monitoring Components' custom objects (VMPodScrape, VMRule, PodMonitor, PrometheusRule)
against the operators' own CRDs, taken from their Go modules by scripts/peers/operator-crds.sh
(prometheus-operator's example/prometheus-operator-crd, the VictoriaMetrics operator's
config/crd).

Each Component is rendered inside overlays/native-sidecar, as the README tells a team to add it.

- Always (offline): every object's kind is served by its CRD at its apiVersion, is namespaced,
  and carries the gated pods' namespace; its body validates against the CRD's OpenAPI v3 schema
  (a JSON-schema reading of it: unknown fields refused as `kubectl apply --validate=strict`
  does, int-or-string, nullable, enums, patterns, required fields; the CRDs' CEL rules are not
  evaluated). Self-test: a misspelt field and a wrong type are refused.
- On a real API server: the one SCHEMA_GATE_KUBECONFIG names (a throwaway one: this check creates
  and deletes things), else, where the repository has it, a throwaway control plane that
  scripts/kubecluster.py starts on loopback (SCHEMA_GATE_NO_CLUSTER=1 skips it): the CRDs are applied server-side and waited for; the namespace
  is created (Pod Security "restricted"); the rendered objects are applied with server-side,
  strict field validation, read back from the API server in the gated pods' namespace (and none
  in `default`); the same misspelt field is refused by the server; a second render under a
  wrapper kustomization with `namespace: staging` lands in staging. Everything this check
  created is deleted at the end.

Prints one line per check and closes with "N passed, M failed"."""
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from checklib import eventually, peer, report, summary  # noqa: E402

COMPONENTS = ROOT / "k8s/components"
OVERLAY = ROOT / "k8s/overlays/native-sidecar"
OPERATOR_COMPONENTS = ["monitoring-victoriametrics", "monitoring-prometheus"]
KINDS = {"VMPodScrape", "VMRule", "PodMonitor", "PrometheusRule"}


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.1 reads a bare `=` (a relabel action in the CRDs' enums) as a "value" tag: a string."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def crds():
    out = peer("operator-crds")
    files = [Path(out[0]) / f"monitoring.coreos.com_{n}.yaml" for n in ("podmonitors", "prometheusrules")] + [Path(out[1])]
    found = {}
    for f in files:
        for d in yaml.load_all(f.read_text(), Loader=Loader):
            if d and d.get("kind") == "CustomResourceDefinition":
                found[(d["spec"]["group"], d["spec"]["names"]["kind"])] = (d, f)
    return found


def render(work, comp, namespace=None):
    tmp = Path(tempfile.mkdtemp(prefix="kz-", dir=work))
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
           "resources": [os.path.relpath(OVERLAY, tmp)], "components": [os.path.relpath(COMPONENTS / comp, tmp)]}
    if namespace:
        doc["namespace"] = namespace
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    out = subprocess.run(["kubectl", "kustomize", str(tmp)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def json_schema(node, strict=True):
    """A CRD's structural schema as a JSON schema (Draft 7): unknown fields refused unless the
    schema preserves them, int-or-string and nullable honoured, Kubernetes extensions dropped."""
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k.startswith("x-kubernetes-") or k in ("nullable", "format", "description", "example"):
            continue
        if k == "properties":
            out[k] = {name: json_schema(sub, strict) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = json_schema(v, strict) if isinstance(v, dict) else v
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [json_schema(s, strict) for s in v]
        else:
            out[k] = v
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if strict and "properties" in out and "additionalProperties" not in out \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def validate(obj, crd):
    group, version = obj["apiVersion"].split("/")
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    if version not in served:
        return f"{obj['kind']} {version} is not served (served: {sorted(served)})"
    schema = json_schema(served[version]["schema"]["openAPIV3Schema"])
    # metadata is the API server's (ObjectMeta), not the CRD's: checked apart.
    schema.get("properties", {}).pop("metadata", None)
    body = {k: v for k, v in obj.items() if k != "metadata"}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    return "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])


def offline(work, defs):
    for comp in OPERATOR_COMPONENTS:
        docs = render(work, comp)
        pods_ns = {d["metadata"]["namespace"] for d in docs if d["kind"] == "Deployment"}
        objs = [d for d in docs if d["kind"] in KINDS]
        report(objs, f"{comp}: renders {', '.join(sorted(d['kind'] for d in objs))}")
        for obj in objs:
            group = obj["apiVersion"].split("/")[0]
            crd, source = defs.get((group, obj["kind"]), (None, None))
            if not report(crd, f"{comp}: the operator's CRD defines {group}/{obj['kind']}"):
                continue
            report(crd["spec"]["scope"] == "Namespaced" and obj["metadata"].get("namespace") in pods_ns,
                   f"{obj['kind']} is namespaced and sits in the gated pods' namespace {sorted(pods_ns)}",
                   f"scope {crd['spec']['scope']}, namespace {obj['metadata'].get('namespace')}")
            problems = validate(obj, crd)
            report(not problems, f"{obj['kind']} {obj['metadata']['name']} validates against {source.parent.name}/{source.name}", problems)
    # Self-test: the validator refuses what the API server's strict validation refuses.
    scrape = next(d for d in render(work, "monitoring-victoriametrics") if d["kind"] == "VMPodScrape")
    crd = defs[("operator.victoriametrics.com", "VMPodScrape")][0]
    misspelt = copy.deepcopy(scrape)
    misspelt["spec"]["podMetricEndpoints"] = misspelt["spec"].pop("podMetricsEndpoints")
    wrong_type = copy.deepcopy(scrape)
    wrong_type["spec"]["podMetricsEndpoints"][0]["port"] = 8099
    report(validate(misspelt, crd) and validate(wrong_type, crd),
           "self-test: a misspelt field (podMetricEndpoints) and a number for the port name are refused")
    return misspelt


class Cluster:
    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig

    def kubectl(self, *args, stdin=None):
        return subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True)


def against_api_server(work, defs, kubeconfig, misspelt):
    k = Cluster(kubeconfig)
    r = eventually(lambda: (lambda r: r if r.returncode == 0 else None)(k.kubectl("get", "--raw", "/readyz")), 120)
    if not report(r, f"API server ready ({kubeconfig})", k.kubectl("get", "--raw", "/readyz").stderr):
        return
    needed = [defs[(g, kind)][0] for (g, kind) in defs if kind in KINDS]
    r = k.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=schema-gate-ci", "-f", "-",
                  stdin="\n---\n".join(yaml.safe_dump(c) for c in needed))
    report(r.returncode == 0, f"the operators' CRDs apply server-side ({len(needed)})", r.stderr)
    names = [f"crd/{c['metadata']['name']}" for c in needed]
    r = k.kubectl("wait", "--for=condition=Established", "--timeout=120s", *names)
    report(r.returncode == 0, "the CRDs are established", r.stderr)
    created = []
    try:
        for comp in OPERATOR_COMPONENTS:
            for outer in (None, "staging"):
                docs = render(work, comp, outer)
                ns = next(d["metadata"]["namespace"] for d in docs if d["kind"] == "Deployment")
                if ns not in created and k.kubectl("get", "namespace", ns).returncode != 0:
                    k.kubectl("create", "namespace", ns)
                    k.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
                    created.append(ns)
                objs = [d for d in docs if d["kind"] in KINDS]
                r = k.kubectl("apply", "--server-side", "--validate=strict", "--field-manager=schema-gate-ci", "-f", "-",
                              stdin="\n---\n".join(yaml.safe_dump(o) for o in objs))
                report(r.returncode == 0, f"{comp}{' under namespace ' + outer if outer else ''}: the API server accepts "
                                          f"{', '.join(o['kind'] for o in objs)} (server-side, strict)", r.stderr)
                for o in objs:
                    got = k.kubectl("get", o["kind"].lower(), o["metadata"]["name"], "-n", ns, "-o", "json")
                    report(got.returncode == 0 and json.loads(got.stdout)["metadata"]["namespace"] == ns,
                           f"{o['kind']} read back from namespace {ns}", got.stderr)
        listed = k.kubectl("get", ",".join(sorted(kind.lower() for kind in KINDS)), "-n", "default", "-o", "name")
        report(listed.returncode == 0 and not listed.stdout.strip(), "nothing of the kit landed in `default`", listed.stdout)
        r = k.kubectl("apply", "--server-side", "--validate=strict", "--field-manager=schema-gate-ci", "--dry-run=server",
                      "-f", "-", stdin=yaml.safe_dump(misspelt))
        report(r.returncode != 0, "the API server refuses the misspelt field too (strict validation)", r.stdout)
    finally:
        for comp in OPERATOR_COMPONENTS:
            for outer in (None, "staging"):
                for o in (d for d in render(work, comp, outer) if d["kind"] in KINDS):
                    k.kubectl("delete", o["kind"].lower(), o["metadata"]["name"], "-n", o["metadata"]["namespace"],
                              "--ignore-not-found", "--wait=false")
        for ns in created:
            k.kubectl("delete", "namespace", ns, "--wait=false")


def main():
    defs = crds()
    work = Path(tempfile.mkdtemp(prefix="schema-gate-crds-"))
    misspelt = offline(work, defs)
    kubeconfig = os.environ.get("SCHEMA_GATE_KUBECONFIG")
    if kubeconfig:
        against_api_server(work, defs, kubeconfig, misspelt)
    elif (ROOT / "scripts/kubecluster.py").exists() and os.environ.get("SCHEMA_GATE_NO_CLUSTER") != "1":
        try:
            from kubecluster import ControlPlane
            cluster = ControlPlane()
        except Exception as e:  # noqa: BLE001 (the control plane's own error, reported as a failure)
            report(False, "start a throwaway control plane (scripts/kubecluster.py)", repr(e))
        else:
            with cluster:
                against_api_server(work, defs, cluster.kubeconfig, misspelt)
    else:
        print("skip the API server part: no SCHEMA_GATE_KUBECONFIG and no scripts/kubecluster.py "
              "(the offline schema checks above ran)")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
