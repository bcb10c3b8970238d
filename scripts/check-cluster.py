#!/usr/bin/env python3
"""The Kubernetes kit against a real control plane: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler 1.34 (built from the Go module proxy by scripts/peers/kubernetes.sh) with kwok
nodes, all on loopback (scripts/kubecluster.py).

- Pod Security admission enforces "restricted" on the test namespace; every overlay (and so every
  gate component), the RBAC and the NetworkPolicy in k8s/access/ are accepted by the API server
  with server-side validation (`kubectl apply --server-side --dry-run=server`) with no warning;
- `deploy.sh namespace` never lowers a stricter Pod Security label;
- `deploy.sh up` and `rollback` against the real Job and Deployment controllers: a first deploy on
  an empty namespace (the API server's audit log shows the Job's ConfigMap written before the
  Job), APP_IMAGE, NAMESPACE, the native-sidecar variant, a failing Job (goose runs once), a stuck
  pod (ImagePullBackOff) and an unschedulable one (both fail at once, the Job deleted), two deploys
  at once (one refuses: the Lease), a killed run (no render left in k8s/, its lock named),
  TIMEOUT=08m / 1.5h, stale ConfigMaps pruned, a rollback (apps first, then down-to from the
  replaced image) and a failed down-to re-run, and a deploy as the ServiceAccount that
  k8s/access/deployer-rbac.yaml binds;
- the README's migration guide, followed literally from examples/honeydue (the team's manifests
  and 03-deploy.sh, which deploy as they are first), then every Job outcome through it.

kwok runs nothing: its Stages (scripts/kwok-stages.yaml) write each pod's status from its image's
tag (-fails, -stuck, -slow, -downfails). A missing ConfigMap does not block a kwok pod: that case
stays with the stand-in kubectl in scripts/check-manifests.py.

    python3 scripts/check-cluster.py [--tree DIR] [--only first_deploy,rollback,…]
        DIR: another checkout's k8s/, examples/ and README (e.g. the previous release), to show
        what fails there; --only runs those scenarios alone, in that order
Prints one line per check and closes with "N passed, M failed"."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checklib  # noqa: E402
from checklib import report  # noqa: E402
from kubecluster import ControlPlane  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = "honeydue"
IMAGE = "gitea.treytartt.com/honeydue/api"
SECRETS = os.path.join(REPO, "k8s", "secret.example.yaml")

parser = argparse.ArgumentParser()
parser.add_argument("--tree", default=REPO)
parser.add_argument("--only", help="comma-separated scenario names (e.g. first_deploy,rollback), in order")
opts = parser.parse_args()
TREE = os.path.abspath(opts.tree)
DEPLOY = os.path.join(TREE, "k8s", "deploy.sh")


class Run:
    def __init__(self, code, out, took):
        self.code, self.out, self.took = code, out, took

    def __repr__(self):
        return f"exit {self.code} after {self.took:.0f}s: {self.out.strip()[-1500:]}"


def deploy(cluster, *args, kubeconfig=None, script=DEPLOY, limit=300, **env):
    e = {**os.environ, "KUBECONFIG": kubeconfig or cluster.kubeconfig, "POLL_SECONDS": "0.5",
         "TIMEOUT": "120s", **{k: str(v) for k, v in env.items()}}
    started = time.monotonic()
    try:
        r = subprocess.run(["bash", script, *args], env=e, capture_output=True, text=True, timeout=limit)
        return Run(r.returncode, r.stdout + r.stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired as x:
        return Run(-1, f"hung for {limit}s: {(x.stdout or b'')!r}", time.monotonic() - started)


def get(cluster, ns, *what):
    r = cluster.kubectl("-n", ns, "get", *what, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def images(cluster, ns, kind, name):
    obj = get(cluster, ns, kind, name)
    if not obj:
        return None
    spec = obj["spec"]["template"]["spec"]
    return {c["name"]: c["image"] for c in (spec.get("initContainers") or []) + spec["containers"]}


def deployed(cluster, ns, names=("api", "worker")):
    """{deployment: set of images} (None when missing)."""
    return {n: set((images(cluster, ns, "deployment", n) or {"-": None}).values()) for n in names}


def rolled_out(cluster, ns, name):
    d = get(cluster, ns, "deployment", name) or {}
    s, want = d.get("status") or {}, (d.get("spec") or {}).get("replicas", 1)
    return (s.get("observedGeneration") == d.get("metadata", {}).get("generation")
            and s.get("updatedReplicas") == want and s.get("availableReplicas") == want
            and s.get("replicas") == want)


def writes_since(cluster, mark, **match):
    return [w for w in cluster.writes()[mark:] if all(w.get(k) == v for k, v in match.items())]


def prepare(cluster, ns, pod_security="restricted"):
    cluster.kubectl("create", "namespace", ns)
    for level in ("enforce", "warn", "audit"):
        cluster.kubectl("label", "namespace", ns, f"pod-security.kubernetes.io/{level}={pod_security}",
                        "--overwrite")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=re.sub(r"namespace: honeydue", f"namespace: {ns}",
                                                           open(SECRETS).read()))
    cluster.kubectl("-n", ns, "create", "configmap", "honeydue-config", "--from-literal=LOG_LEVEL=info")


def render(path):
    return subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, check=True).stdout


def server_side(cluster, ns, text):
    r = cluster.kubectl("-n", ns, "apply", "--server-side", "--dry-run=server", "-f", "-",
                        input=text, check=False)
    return r.returncode == 0 and "Warning" not in r.stderr, (r.stdout + r.stderr).strip()


# --- the checks -----------------------------------------------------------------------------

def admission_and_validation(cluster):
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
                  "spec": {"containers": [{"name": "c", "image": "registry.example.com/x:1"}]}}
    r = cluster.kubectl("-n", NS, "apply", "--dry-run=server", "-f", "-", input=json.dumps(privileged), check=False)
    report(r.returncode != 0 and "PodSecurity" in r.stderr,
           "Pod Security admission enforces restricted (a pod without a securityContext is refused)", r.stderr.strip())
    for variant in ("classic", "native-sidecar", "gate-image"):
        ok, out = server_side(cluster, NS, render(os.path.join(TREE, "k8s", "overlays", variant)))
        report(ok, f"overlays/{variant} (and its components) accepted server-side under restricted, no warning", out)
    access = os.path.join(TREE, "k8s", "access")
    files = sorted(os.listdir(access)) if os.path.isdir(access) else []
    report(bool(files), "k8s/access/ ships the RBAC deploy.sh needs and the NetworkPolicy for the gate's port")
    for name in files:
        ok, out = server_side(cluster, NS, open(os.path.join(access, name)).read())
        report(ok, f"k8s/access/{name} accepted server-side", out)


def network_policy():
    path = os.path.join(TREE, "k8s", "access", "gate-metrics-networkpolicy.yaml")
    if not os.path.exists(path):
        return report(False, "the NetworkPolicy admits the scraper to the gate port of gated pods", "no such file")
    import yaml
    policy = yaml.safe_load(open(path))
    pods = [d for d in yaml.safe_load_all(render(os.path.join(TREE, "k8s", "overlays", "native-sidecar")))
            if d and d["kind"] == "Deployment"]
    sel = policy["spec"]["podSelector"].get("matchLabels", {})
    ports = [p.get("port") for rule in policy["spec"].get("ingress", []) for p in rule.get("ports", [])]
    ok = pods and all(all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())
                      and any(p.get("name") in ports or p.get("containerPort") in ports
                              for c in d["spec"]["template"]["spec"]["initContainers"] for p in c.get("ports", []))
                      for d in pods)
    report(ok, "the NetworkPolicy selects every gated pod and admits its gate port", f"{sel} {ports}")


def namespace_labels(cluster):
    ns = "psa-kept"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    old = os.path.join(TREE, "k8s", "namespace.yaml")
    if os.path.exists(old):
        cluster.kubectl("apply", "-f", "-", input=open(old).read().replace("name: honeydue", f"name: {ns}"), check=False)
    else:
        deploy(cluster, "namespace", NAMESPACE=ns)
    level = get(cluster, "default", "namespace", ns)["metadata"]["labels"].get("pod-security.kubernetes.io/enforce")
    report(level == "restricted", "creating the namespace as documented keeps a stricter enforce label",
           f"enforce is now {level}")
    r = deploy(cluster, "namespace", NAMESPACE="fresh-ns", POD_SECURITY="restricted")
    labels = (get(cluster, "default", "namespace", "fresh-ns") or {}).get("metadata", {}).get("labels", {})
    report(r.code == 0 and labels.get("pod-security.kubernetes.io/enforce") == "restricted"
           and labels.get("pod-security.kubernetes.io/warn") == "restricted",
           "deploy.sh namespace creates a namespace with Pod Security labels", f"{r} {labels}")


def first_deploy(cluster):
    mark = len(cluster.writes())
    r = deploy(cluster, "up", "v1.0.0")
    want = {f"{IMAGE}:v1.0.0"}
    report(r.code == 0 and deployed(cluster, NS) == {"api": want, "worker": want}
           and all(rolled_out(cluster, NS, d) for d in ("api", "worker")),
           "first deploy.sh up on an empty namespace: Job completes, api and worker (and their gates) "
           "run the release and are rolled out by the Deployment controller", repr(r))
    order = [(w["resource"], w["name"]) for w in writes_since(cluster, mark, namespace=NS, subresource=None)
             if w["resource"] in ("configmaps", "jobs") and w["verb"] in ("create", "patch") and w["code"] in (200, 201)]
    cm = next((i for i, (res, name) in enumerate(order) if res == "configmaps" and name.startswith("schema-")), None)
    job = next((i for i, (res, _) in enumerate(order) if res == "jobs"), None)
    report(cm is not None and job is not None and cm < job,
           "the Job's envFrom ConfigMap is written before the Job (audit log order)", f"{order}")


def app_image(cluster):
    r = deploy(cluster, "up", "v2.0.0", APP_IMAGE="registry.example.com/honeydue/api")
    want = {"registry.example.com/honeydue/api:v2.0.0"}
    job = images(cluster, NS, "job", "goose-migrate") or {}
    report(r.code == 0 and deployed(cluster, NS) == {"api": want, "worker": want} and set(job.values()) == want,
           "APP_IMAGE=registry.example.com/honeydue/api up v2.0.0 runs exactly that image everywhere",
           f"{r} deployed {deployed(cluster, NS)} job {job}")
    r = deploy(cluster, "up", "v2.0.1")
    report(r.code == 0, "back to the overlay's image name", repr(r))


def failing_job(cluster):
    before = deployed(cluster, NS)
    mark = len(cluster.writes())
    r = deploy(cluster, "up", "v2.1.0-fails", TIMEOUT="150s")
    # The deploy fails before any rollout, so every pod created meanwhile is one of the Job's
    # (the audit log has no name for a generateName create).
    pods = writes_since(cluster, mark, resource="pods", namespace=NS, verb="create", code=201, subresource=None)
    report(r.code != 0 and r.took < 100 and deployed(cluster, NS) == before and "failed" in r.out,
           "a failing Job aborts at once with its reason; api and worker untouched", repr(r))
    report(len(pods) == 1, "goose runs once (backoffLimit 0 / podFailurePolicy): one pod for a failed Job",
           f"{len(pods)} pods")


def stuck_job(cluster):
    before = deployed(cluster, NS)
    r = deploy(cluster, "up", "v2.2.0-stuck", TIMEOUT="200s", limit=260)
    report(r.code != 0 and r.took < 90 and "ImagePullBackOff" in r.out and deployed(cluster, NS) == before,
           "a Job pod that cannot pull its image fails the deploy at once, naming ImagePullBackOff", repr(r))
    r = deploy(cluster, "up", "v2.3.0")
    report(r.code == 0, "the next deploy is not blocked by the stuck Job", repr(r))


def unschedulable(cluster):
    cluster.kubectl("taint", "node", "kwok-node-0", "maintenance=now:NoSchedule")
    try:
        before = deployed(cluster, NS)
        r = deploy(cluster, "up", "v2.4.0", TIMEOUT="200s", limit=260)
        report(r.code != 0 and r.took < 90 and "Unschedulable" in r.out and deployed(cluster, NS) == before,
               "an unschedulable Job pod fails the deploy at once, naming Unschedulable", repr(r))
    finally:
        cluster.kubectl("taint", "node", "kwok-node-0", "maintenance=now:NoSchedule-")


def concurrent(cluster):
    mark = len(cluster.writes())
    e = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "POLL_SECONDS": "0.5", "TIMEOUT": "120s"}
    procs = [subprocess.Popen(["bash", DEPLOY, "up", "v3.0.0-slow"], env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    jobs = writes_since(cluster, mark, resource="jobs", namespace=NS, subresource=None)
    creates = [w for w in jobs if w["verb"] in ("create", "patch") and w["code"] in (200, 201)]
    deletes = [w for w in jobs if w["verb"] == "delete"]
    report(codes[0] == 0 and codes[1] != 0 and len(creates) == 1 and len(deletes) <= 1
           and any("lock" in o for o in outs),
           "two deploys at once: one runs goose, the other refuses on the lock and touches nothing",
           f"exits {codes}, Job writes {[(w['verb'], w['code']) for w in jobs]}: {outs}")


def killed_run(cluster):
    e = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "POLL_SECONDS": "0.5", "TIMEOUT": "120s"}
    p = subprocess.Popen(["bash", DEPLOY, "up", "v3.1.0-slow"], env=e, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    seen = checklib.eventually(lambda: (images(cluster, NS, "job", "goose-migrate") or {}).get("goose", "").endswith("v3.1.0-slow"), 120)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    left = [n for n in os.listdir(os.path.join(TREE, "k8s")) if n.startswith(".render.")]
    report(seen and not left, "a killed deploy.sh leaves no render directory in k8s/", f"left {left}")
    for n in left:
        shutil.rmtree(os.path.join(TREE, "k8s", n), ignore_errors=True)
    r = deploy(cluster, "up", "v3.2.0")
    report(r.code != 0 and "delete lease" in r.out, "the next deploy names the lock the killed one left", repr(r))
    cluster.kubectl("-n", NS, "delete", "lease", "goose-migrate-deploy", "--ignore-not-found")
    checklib.eventually(lambda: "Complete" in json.dumps((get(cluster, NS, "job", "goose-migrate") or {}).get("status", {})), 60)
    r = deploy(cluster, "up", "v3.2.0")
    report(r.code == 0, "once the lock is removed (the Job finished), the deploy goes through", repr(r))


def timeouts(cluster):
    for value, limit in (("08m", 480), ("1.5h", 5400)):
        r = deploy(cluster, "up", "v3.3.0", TIMEOUT=value)
        deadline = ((get(cluster, NS, "job", "goose-migrate") or {}).get("spec") or {}).get("activeDeadlineSeconds", 10**9)
        report(r.code == 0 and deadline <= limit, f"TIMEOUT={value} is a duration (the Job's deadline {deadline} s)", repr(r))


def pruning(cluster):
    stale = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "schema-stale0000", "labels": {
                 "app.kubernetes.io/component": "config", "app.kubernetes.io/part-of": "honeydue",
                 "app.kubernetes.io/managed-by": "schema-gate-deploy"}}, "data": {"GOOSE_TABLE": "old"}}
    cluster.kubectl("-n", NS, "apply", "-f", "-", input=json.dumps(stale))
    current = {cm["metadata"]["name"] for cm in get(cluster, NS, "configmaps")["items"]}
    r = deploy(cluster, "up", "v3.4.0")
    after = {cm["metadata"]["name"] for cm in get(cluster, NS, "configmaps")["items"]}
    report(r.code == 0 and "schema-stale0000" not in after and "honeydue-config" in after
           and (current - {"schema-stale0000"}) <= after,
           "a ConfigMap of an earlier release that nothing references is pruned; the rest are kept",
           f"{r} before {sorted(current)} after {sorted(after)}")


def rollback(cluster):
    r = deploy(cluster, "up", "v4.0.0-downfails")
    report(r.code == 0, "up v4.0.0-downfails (its goose up completes)", repr(r))
    mark = len(cluster.writes())
    r = deploy(cluster, "rollback", "v3.4.0", "1")
    want = {f"{IMAGE}:v3.4.0"}
    job = images(cluster, NS, "job", "goose-migrate") or {}
    w = writes_since(cluster, mark, namespace=NS, subresource=None)
    apps = next((i for i, x in enumerate(w) if x["resource"] == "deployments" and x["verb"] == "patch" and x["name"] == "worker"), None)
    first_job = next((i for i, x in enumerate(w) if x["resource"] == "jobs" and x["verb"] in ("create", "patch")), None)
    report(r.code != 0 and deployed(cluster, NS) == {"api": want, "worker": want}
           and set(job.values()) == {f"{IMAGE}:v4.0.0-downfails"}
           and apps is not None and first_job is not None and apps < first_job,
           "rollback: apps first, then down-to as the Job from the replaced image", f"{r} job {job}")
    report("NOT rolled out" not in r.out and "already run" in r.out,
           "a failed down-to says the apps already run the older release", repr(r))
    r = deploy(cluster, "rollback", "v3.4.0", "1")
    job = images(cluster, NS, "job", "goose-migrate") or {}
    report(r.code != 0 and set(job.values()) == {f"{IMAGE}:v4.0.0-downfails"},
           "re-running the rollback runs down-to from the recorded newer image again", f"{r} job {job}")
    r = deploy(cluster, "up", "v5.0.0")
    r2 = deploy(cluster, "rollback", "v3.4.0", "1")
    spec = (get(cluster, NS, "job", "goose-migrate") or {}).get("spec", {})
    c = (spec.get("template", {}).get("spec", {}).get("containers") or [{}])[0]
    report(r.code == 0 and r2.code == 0 and c.get("image") == f"{IMAGE}:v5.0.0" and c.get("args") == ["down-to", "1"]
           and deployed(cluster, NS) == {"api": want, "worker": want},
           "rollback v3.4.0 1 from v5.0.0: down-to 1 completes from v5.0.0's image", f"{r} {r2} {c}")


def other_namespace_and_rbac(cluster):
    ns = "staging"
    prepare(cluster, ns)
    r = deploy(cluster, "up", "v1.0.0", NAMESPACE=ns)
    want = {f"{IMAGE}:v1.0.0"}
    report(r.code == 0 and deployed(cluster, ns) == {"api": want, "worker": want},
           "NAMESPACE=staging deploys into staging (the base's namespace is a default)", repr(r))
    rbac = os.path.join(TREE, "k8s", "access", "deployer-rbac.yaml")
    if not os.path.exists(rbac):
        return report(False, "deploy.sh runs as the ServiceAccount of k8s/access/deployer-rbac.yaml", "no such file")
    cluster.kubectl("-n", ns, "apply", "-f", rbac)
    kc = cluster.token_kubeconfig(ns, "schema-gate-deployer")
    r = deploy(cluster, "up", "v1.1.0", NAMESPACE=ns, kubeconfig=kc)
    r2 = deploy(cluster, "rollback", "v1.0.0", "1", NAMESPACE=ns, kubeconfig=kc)
    report(r.code == 0 and r2.code == 0 and deployed(cluster, ns) == {"api": want, "worker": want},
           "deploy.sh up and rollback run as the ServiceAccount k8s/access/deployer-rbac.yaml binds", f"{r} {r2}")


def native_sidecar(cluster):
    ns = "sidecar"
    prepare(cluster, ns)
    r = deploy(cluster, "up", "v1.0.0", NAMESPACE=ns, VARIANT="native-sidecar", TIMEOUT="5m")
    d = get(cluster, ns, "deployment", "api") or {}
    gate = next((c for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("initContainers", [])
                 if c["name"] == "schema-gate"), {})
    report(r.code == 0 and rolled_out(cluster, ns, "api") and gate.get("restartPolicy") == "Always"
           and gate.get("startupProbe", {}).get("failureThreshold") == 150
           and d["spec"].get("progressDeadlineSeconds") == 300,
           "native-sidecar: rolled out; the startupProbe budget and progress deadline come from TIMEOUT=5m",
           f"{r} {gate.get('startupProbe')} {d.get('spec', {}).get('progressDeadlineSeconds')}")


# --- the README's migration guide, from examples/honeydue ----------------------------------

def guide_blocks():
    """(files, patch, runs) from the README's migration guide: blocks after `<!-- file: PATH -->`,
    the ```diff block after `<!-- patch -->`, shell blocks after `<!-- run -->`."""
    text = open(os.path.join(TREE, "README.md")).read()
    files, patch, runs = {}, None, []
    for m in re.finditer(r"<!-- (file: (\S+)|patch|run) -->\n```\w*\n(.*?)```", text, re.S):
        if m.group(2):
            files[m.group(2)] = m.group(3)
        elif m.group(1) == "patch":
            patch = m.group(3)
        else:
            runs.append(m.group(3))
    return files, patch, runs


def adoption(cluster):
    team = tempfile.mkdtemp(prefix="honeydue-")
    try:
        adopt(cluster, team)
    finally:
        shutil.rmtree(team, ignore_errors=True)


def adopt(cluster, team):
    start = os.path.join(TREE, "examples", "honeydue")
    if not os.path.isdir(start):
        return report(False, "examples/honeydue: the team's starting point", "missing")
    shutil.copytree(start, team, dirs_exist_ok=True)
    # The team's namespace as it is: labelled restricted, with the app's Secret.
    cluster.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("label", "namespace", NS, "pod-security.kubernetes.io/enforce=restricted")
    cluster.kubectl("-n", NS, "create", "secret", "generic", "honeydue-secrets", "--from-literal=DB_PASSWORD=x")
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "POLL_SECONDS": "0.5", "TIMEOUT": "120s"}
    r = subprocess.run(["bash", "deploy-k3s/scripts/03-deploy.sh", "v1.0.0"], cwd=team, env=env,
                       capture_output=True, text=True, timeout=300)
    report(r.returncode == 0 and deployed(cluster, NS) == {"api": {f"{IMAGE}:v1.0.0"}, "worker": {f"{IMAGE}:v1.0.0"}},
           "examples/honeydue: the team's own 03-deploy.sh deploys as it stands", r.stdout + r.stderr)

    files, patch, runs = guide_blocks()
    report(files and patch and runs, "the README's migration guide has its files, its patch and its commands",
           f"{list(files)} patch={bool(patch)} runs={len(runs)}")
    if not (files and patch and runs):
        return
    shutil.copytree(os.path.join(TREE, "k8s"), os.path.join(team, "deploy-k3s", "schema-gate"),
                    ignore=shutil.ignore_patterns(".render.*"))
    for path, body in files.items():
        os.makedirs(os.path.dirname(os.path.join(team, path)), exist_ok=True)
        with open(os.path.join(team, path), "w") as f:
            f.write(body)
        if body.startswith("#!"):
            os.chmod(os.path.join(team, path), 0o755)
    p = subprocess.run(["patch", "-p1", "--forward"], cwd=team, input=patch, capture_output=True, text=True)
    report(p.returncode == 0, "the guide's patch applies to examples/honeydue", p.stdout + p.stderr)
    for block in runs:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=team, env=env, capture_output=True, text=True, timeout=300)
        report(r.returncode == 0, f"guide command runs: {block.strip().splitlines()[0]}", r.stdout + r.stderr)
    cluster.kubectl("create", "namespace", "adopted")
    cluster.kubectl("label", "namespace", "adopted", "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/warn=restricted")
    ok, out = server_side(cluster, "adopted", render(os.path.join(team, "deploy-k3s")).replace("namespace: honeydue", "namespace: adopted"))
    report(ok, "the adopted kustomization is accepted server-side under restricted, no warning", out)

    def team_deploy(tag):
        started = time.monotonic()
        r = subprocess.run(["bash", "deploy-k3s/scripts/03-deploy.sh", tag], cwd=team, env=env,
                           capture_output=True, text=True, timeout=300)
        return Run(r.returncode, r.stdout + r.stderr, time.monotonic() - started)

    r = team_deploy("v1.1.0")
    api = images(cluster, NS, "deployment", "api") or {}
    report(r.code == 0 and api.get("schema-gate") == f"{IMAGE}:v1.1.0" and set(api.values()) == {f"{IMAGE}:v1.1.0"}
           and rolled_out(cluster, NS, "api") and rolled_out(cluster, NS, "worker"),
           "adopted: 03-deploy.sh v1.1.0 migrates, then rolls api and worker out, each gated by its own image", f"{r} {api}")
    before = deployed(cluster, NS)
    r = team_deploy("v1.2.0-fails")
    report(r.code != 0 and r.took < 100 and deployed(cluster, NS) == before, "adopted: a failing Job aborts at once", repr(r))
    r = team_deploy("v1.2.0-stuck")
    report(r.code != 0 and r.took < 100 and "ImagePullBackOff" in r.out and deployed(cluster, NS) == before,
           "adopted: a stuck Job pod fails at once", repr(r))
    r = team_deploy("v1.3.0-downfails")
    report(r.code == 0, "adopted: up v1.3.0-downfails", repr(r))
    # The guide's rollback line, as written, with this test's tag and version.
    readme = open(os.path.join(TREE, "README.md")).read()
    rb = re.search(r"^(OVERLAY=deploy-k3s .*deploy\.sh rollback) \S+ \S+$", readme, re.M)
    rollback_cmd = ["bash", "-c", (rb.group(1) if rb else "false") + " v1.1.0 1"]
    r = subprocess.run(rollback_cmd, cwd=team, env=env, capture_output=True, text=True, timeout=300)
    job = images(cluster, NS, "job", "migrate") or {}
    report(r.returncode != 0 and set(job.values()) == {f"{IMAGE}:v1.3.0-downfails"}
           and deployed(cluster, NS)["api"] == {f"{IMAGE}:v1.1.0"},
           "adopted: rollback v1.1.0 1 rolls the apps back, then down-to fails from the newer image", r.stdout + r.stderr)
    r = team_deploy("v1.4.0")
    r2 = subprocess.run(rollback_cmd, cwd=team, env=env, capture_output=True, text=True, timeout=300)
    job = get(cluster, NS, "job", "migrate") or {}
    c = (job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
    report(r.code == 0 and r2.returncode == 0 and c.get("image") == f"{IMAGE}:v1.4.0" and c.get("args") == ["down-to", "1"]
           and deployed(cluster, NS)["api"] == {f"{IMAGE}:v1.1.0"},
           "adopted: rollback v1.1.0 1 from v1.4.0 completes (apps, then goose down-to)", f"{r} {r2.stdout}{r2.stderr}")
    report(rb is not None, "the guide documents the rollback command", "no `OVERLAY=deploy-k3s … rollback` line in the README")


def main():
    stages = open(os.path.join(REPO, "scripts", "kwok-stages.yaml")).read()
    started = time.monotonic()
    with ControlPlane(stages=stages, audit=True) as cluster:
        print(f"control plane up in {time.monotonic() - started:.0f} s", flush=True)
        prepare(cluster, NS)
        checks = (admission_and_validation, namespace_labels, first_deploy, app_image, failing_job,
                  stuck_job, unschedulable, concurrent, killed_run, timeouts, pruning, rollback,
                  other_namespace_and_rbac, native_sidecar, adoption)
        if opts.only:
            by_name = {c.__name__: c for c in checks}
            checks = [by_name[n] for n in opts.only.split(",")]
        for check in checks:
            try:
                check(cluster)
            except Exception as e:  # one broken scenario must not hide the others
                report(False, f"{check.__name__} raised", f"{type(e).__name__}: {e}")
        if not opts.only:
            network_policy()
    print(f"cluster checks took {time.monotonic() - started:.0f} s", flush=True)
    return checklib.summary()


if __name__ == "__main__":
    sys.exit(main())
