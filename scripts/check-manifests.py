#!/usr/bin/env python3
"""Checks the Kubernetes manifests offline: renders every variant with `kubectl kustomize`,
validates them with `kubernetes-validate -k 1.34.0 --strict`, and asserts what the product
promises: api and worker are gated in both variants, and every gate container meets the Pod
Security "restricted" profile (plus read-only root, resources, termination message policy,
probes without `host`). A self-test feeds it a broken copy to prove the checks can fail.

Prints one line per check and closes with "N passed, M failed"."""
import copy
import os
import subprocess
import sys
import tempfile

import yaml

K8S_VERSION = "1.34.0"
VARIANTS = {"classic": "wait", "native-sidecar": "serve"}
GATED = ("api", "worker")


def render(variant):
    out = subprocess.run(["kubectl", "kustomize", f"k8s/overlays/{variant}"],
                         check=True, capture_output=True, text=True).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def gate_containers(pod_spec):
    for field in ("initContainers", "containers"):
        for c in pod_spec.get(field) or []:
            if "schema-gate" in c.get("image", ""):
                yield c


def restricted_problems(pod_spec, c):
    """What keeps container `c` from the restricted profile (and our extra rules)."""
    problems = []
    pod_sc = pod_spec.get("securityContext") or {}
    sc = c.get("securityContext") or {}
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        problems.append("runAsNonRoot is not true")
    if (sc.get("runAsUser", pod_sc.get("runAsUser")) or 0) == 0:
        problems.append("no non-zero runAsUser (scratch image has no /etc/passwd)")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problems.append("capabilities.drop lacks ALL")
    if (sc.get("capabilities") or {}).get("add"):
        problems.append("capabilities.add is set")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile is not RuntimeDefault")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if sc.get("privileged"):
        problems.append("privileged")
    res = c.get("resources") or {}
    if not (res.get("requests") and res.get("limits", {}).get("memory")):
        problems.append("missing resource requests or memory limit")
    if c.get("terminationMessagePolicy") != "FallbackToLogsOnError":
        problems.append("terminationMessagePolicy is not FallbackToLogsOnError")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if "host" in ((c.get(probe) or {}).get("httpGet") or {}):
            problems.append(f"{probe} sets host (forbidden from 1.34)")
    return problems


def gating_problems(docs, mode):
    problems = []
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in GATED:
        dep = deployments.get(name)
        if dep is None:
            problems.append(f"deployment/{name} missing")
            continue
        spec = dep["spec"]["template"]["spec"]
        gates = [c for c in spec.get("initContainers") or [] if "schema-gate" in c.get("image", "")]
        if len(gates) != 1:
            problems.append(f"deployment/{name}: {len(gates)} gate init containers, want 1")
            continue
        gate = gates[0]
        if (gate.get("args") or [None])[0] != mode:
            problems.append(f"deployment/{name}: gate runs {gate.get('args')}, want {mode}")
        env = {e["name"] for e in gate.get("env") or []}
        if "DATABASE_URL" not in env:
            problems.append(f"deployment/{name}: gate has no DATABASE_URL")
        if not gate.get("envFrom"):
            problems.append(f"deployment/{name}: gate does not read the shared ConfigMap")
        if mode == "serve":
            if gate.get("restartPolicy") != "Always":
                problems.append(f"deployment/{name}: native sidecar lacks restartPolicy: Always")
            for probe, path in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"),
                                ("livenessProbe", "/livez")):
                if ((gate.get(probe) or {}).get("httpGet") or {}).get("path") != path:
                    problems.append(f"deployment/{name}: {probe} is not on {path}")
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            spec = d["spec"]["template"]["spec"]
            for c in gate_containers(spec):
                problems += [f"{d['kind'].lower()}/{d['metadata']['name']} {c['name']}: {p}"
                             for p in restricted_problems(spec, c)]
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    if not namespaces or "pod-security.kubernetes.io/enforce" not in namespaces[0]["metadata"].get("labels", {}):
        problems.append("namespace lacks Pod Security labels")
    jobs = [d for d in docs if d["kind"] == "Job"]
    if not jobs or "backoffLimit" not in jobs[0]["spec"] or "ttlSecondsAfterFinished" not in jobs[0]["spec"]:
        problems.append("migrate Job lacks backoffLimit or ttlSecondsAfterFinished")
    return problems


FAKE_KUBECTL = """#!/usr/bin/env bash
# A stand-in for kubectl: renders with the real one, records every other call, and fails the
# call whose arguments match $FAKE_FAIL (exit $FAKE_CODE).
if [ "$1" = kustomize ]; then exec kubectl "$@"; fi
echo "$*" >>"$FAKE_LOG"
if [ -n "${FAKE_FAIL:-}" ] && [[ "$*" == *"$FAKE_FAIL"* ]]; then exit "${FAKE_CODE:-1}"; fi
exit 0
"""


def run_deploy(variant, fail="", code=1):
    """Runs k8s/deploy.sh against the fake kubectl; returns (exit code, output, kubectl calls)."""
    with tempfile.TemporaryDirectory() as tmp:
        fake = f"{tmp}/kubectl"
        with open(fake, "w") as f:
            f.write(FAKE_KUBECTL)
        os.chmod(fake, 0o755)
        env = {**os.environ, "KUBECTL": fake, "FAKE_LOG": f"{tmp}/log", "FAKE_FAIL": fail, "FAKE_CODE": str(code)}
        r = subprocess.run(["bash", "k8s/deploy.sh", variant], env=env, capture_output=True, text=True)
        calls = open(f"{tmp}/log").read().splitlines() if os.path.exists(f"{tmp}/log") else []
        return r.returncode, r.stdout + r.stderr, calls


def deploy_problems():
    """The rollout order, and an abort with a clear message at each failure."""
    problems = []
    code, out, calls = run_deploy("classic")
    order = ["apply -f", "delete job goose-migrate", "app.kubernetes.io/component=migrate",
             "wait --for=condition=complete job/goose-migrate", "run schema-gate-check",
             "rollout status deployment/api", "rollout status deployment/worker"]
    positions = [next((i for i, c in enumerate(calls) if step in c), -1) for step in order]
    if code != 0 or -1 in positions or positions != sorted(positions):
        problems.append(f"happy path: exit {code}, calls {calls}")
    for fail, code, says in (
        ("wait --for=condition=complete", 1, "migrations did not complete"),
        ("run schema-gate-check", 1, "not ready"),
        ("run schema-gate-check", 3, "database error"),
        ("run schema-gate-check", 4, "ahead"),
        ("rollout status deployment/api", 1, "deployment/api did not become ready"),
    ):
        rc, out, calls = run_deploy("native-sidecar", fail, code)
        rolled = any(c.startswith("apply -f") and "-l" not in c for c in calls)
        if rc == 0 or says not in out:
            problems.append(f"failing '{fail}' (exit {code}): deploy exited {rc}, said {out.strip()!r}")
        if "rollout" not in fail and rolled:
            problems.append(f"failing '{fail}': api and worker were rolled out anyway")
    rc, out, _ = run_deploy("no-such-variant")
    if rc == 0 or "unknown variant" not in out:
        problems.append("an unknown variant is not refused")
    return problems


def main():
    passed = failed = 0

    def report(ok, what, detail=""):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")

    for variant, mode in VARIANTS.items():
        text, docs = render(variant)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(text)
            f.flush()
            v = subprocess.run(["kubernetes-validate", "-k", K8S_VERSION, "--strict", f.name],
                               capture_output=True, text=True)
        report(v.returncode == 0, f"{variant}: kubernetes-validate {K8S_VERSION} --strict",
               (v.stdout + v.stderr).strip() if v.returncode else "")
        problems = gating_problems(docs, mode)
        report(not problems, f"{variant}: api and worker gated ({mode}), gate containers restricted",
               "; ".join(problems))

    problems = deploy_problems()
    report(not problems, "deploy.sh: rollout order, abort at each failure with a clear message", "; ".join(problems))

    # Self-test: each mutation must be caught, or the checks above prove nothing.
    _, docs = render("native-sidecar")
    mutations = {
        "runAsNonRoot removed": lambda p, g: (g["securityContext"].pop("runAsNonRoot"),
                                              p["securityContext"].pop("runAsNonRoot")),
        "capabilities not dropped": lambda p, g: g["securityContext"].pop("capabilities"),
        "probe with host": lambda p, g: g["readinessProbe"]["httpGet"].update(host="10.0.0.1"),
        "restartPolicy removed": lambda p, g: g.pop("restartPolicy"),
        "writable root": lambda p, g: g["securityContext"].update(readOnlyRootFilesystem=False),
        "gate removed": lambda p, g: g.update(image="busybox"),
    }
    for what, mutate in mutations.items():
        broken = copy.deepcopy(docs)
        dep = next(d for d in broken if d["kind"] == "Deployment")
        spec = dep["spec"]["template"]["spec"]
        mutate(spec, spec["initContainers"][0])
        report(bool(gating_problems(broken, "serve")), f"self-test: catches {what}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
