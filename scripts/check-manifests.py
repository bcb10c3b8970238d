#!/usr/bin/env python3
"""Checks the Kubernetes manifests and k8s/deploy.sh offline.

For every overlay, rendered with `kubectl kustomize`:
- `kubernetes-validate -k 1.34.0 --strict`;
- every image fully qualified (a registry host) and pinned (a tag other than latest, or a digest);
- api and worker gated (wait or serve); each gate runs its Deployment's app image with the
  migrations directory the goose Job migrates from (the fallback overlay: the gate image, and a
  GATE_EXPECT_VERSION equal to the newest file of MIGRATIONS_DIR, default examples/migrations);
- the gate's DSN comes from its own Secret, mounted as a file readable through fsGroup with mode
  0440; the app's DSN never reaches the gate, the gate's never reaches the app;
- each gate container meets Pod Security "restricted" (plus read-only root, resources,
  termination message policy, probes without `host`); no Namespace in what deploy.sh applies.
A self-test mutates a rendered copy for each check and expects it caught.

deploy.sh runs against a stand-in kubectl (renders with the real one, plays the cluster from a
scenario, records every call): Job completes; Job fails; previous Job still running; deadline
exceeded; rollout fails; rollback order and image.

Prints one line per check and closes with "N passed, M failed"."""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

K8S_VERSION = "1.34.0"
VARIANTS = {"classic": "wait", "native-sidecar": "serve", "gate-image": "wait"}
FROM_APP_IMAGE = ("classic", "native-sidecar")
GATED = ("api", "worker")
GATE_SECRET = "schema-gate-db"
APP_SECRET = "honeydue-db"
MIGRATIONS_DIR = os.environ.get("MIGRATIONS_DIR", "examples/migrations")
PINNED = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$")


def render(variant):
    out = subprocess.run(["kubectl", "kustomize", f"k8s/overlays/{variant}"],
                         check=True, capture_output=True, text=True).stdout
    return out, [d for d in yaml.safe_load_all(out) if d]


def pod_specs(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield d, d["spec"]["template"]["spec"]


def all_containers(spec):
    return (spec.get("initContainers") or []) + (spec.get("containers") or [])


def the_gate(spec):
    gates = [c for c in spec.get("initContainers") or [] if c.get("name") == "schema-gate"]
    return gates[0] if len(gates) == 1 else None


def config_values(docs):
    values = {}
    for d in docs:
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("schema"):
            values.update(d.get("data") or {})
    return values


def env_of(container, config):
    """The container's environment as Kubernetes builds it: envFrom ConfigMaps, then env."""
    env = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(config)
    for e in container.get("env") or []:
        env[e["name"]] = e.get("value", "<from " + json.dumps(e.get("valueFrom")) + ">")
    return env


def expand(arg, env):
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


def newest_migration(directory):
    versions = []
    for name in os.listdir(directory):
        if name.endswith(".sql") and "_" in name:
            versions.append(int(name.split("_", 1)[0]))
    return max(versions)


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


def image_problems(docs):
    problems = []
    for d, spec in pod_specs(docs):
        for c in all_containers(spec):
            image = c.get("image", "")
            if not PINNED.match(image) or image.endswith(":latest"):
                problems.append(f"{d['kind'].lower()}/{d['metadata']['name']} {c['name']}: image {image!r} is not fully qualified and pinned")
    return problems


def dsn_problems(name, spec, gate, apps):
    """The gate reads its own Secret from a file; the app's DSN and the gate's never cross."""
    problems = []
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    file = next((e.get("value") for e in gate.get("env") or [] if e["name"] == "DATABASE_URL_FILE"), None)
    mount = next((m for m in gate.get("volumeMounts") or []
                  if file and file.startswith(m["mountPath"].rstrip("/") + "/")), None)
    secret = (volumes.get(mount["name"], {}) if mount else {}).get("secret") or {}
    if not file or secret.get("secretName") != GATE_SECRET:
        problems.append(f"deployment/{name}: the gate's DSN is not DATABASE_URL_FILE in a mounted {GATE_SECRET} Secret")
    elif secret.get("defaultMode") != 0o440 or not mount.get("readOnly"):
        problems.append(f"deployment/{name}: the gate's Secret is not mounted read-only with mode 0440")
    gate_user = (gate.get("securityContext") or {}).get("runAsGroup")
    if (spec.get("securityContext") or {}).get("fsGroup") != gate_user:
        problems.append(f"deployment/{name}: pod fsGroup is not the gate's group (Secret files are owned by root)")
    text = json.dumps({k: gate.get(k) for k in ("env", "envFrom")})
    if APP_SECRET in text or any(e["name"] == "DATABASE_URL" for e in gate.get("env") or []):
        problems.append(f"deployment/{name}: the app's DSN reaches the gate")
    gate_volume = mount["name"] if mount else None
    for app in apps:
        if GATE_SECRET in json.dumps(app) or any(m["name"] == gate_volume for m in app.get("volumeMounts") or []):
            problems.append(f"deployment/{name}: the gate's DSN reaches container {app['name']}")
    return problems


def gating_problems(docs, variant, mode):
    problems = []
    config = config_values(docs)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    jobs = [d for d in docs if d["kind"] == "Job"]
    job_dir = job_tool = None
    if jobs:
        goose = jobs[0]["spec"]["template"]["spec"]["containers"][0]
        args = [expand(a, env_of(goose, config)) for a in (goose.get("command") or []) + (goose.get("args") or [])]
        job_dir = args[args.index("-dir") + 1] if "-dir" in args else None
        job_tool = os.path.basename(args[0]) if args else None
        if "backoffLimit" not in jobs[0]["spec"] or "ttlSecondsAfterFinished" not in jobs[0]["spec"]:
            problems.append("migrate Job lacks backoffLimit or ttlSecondsAfterFinished")
        if goose.get("args") != ["up"]:
            problems.append(f"migrate Job: args {goose.get('args')} are not the goose command alone ([up]; deploy.sh swaps it for down-to)")
    else:
        problems.append("no migrate Job")
    for name in GATED:
        dep = deployments.get(name)
        if dep is None:
            problems.append(f"deployment/{name} missing")
            continue
        spec = dep["spec"]["template"]["spec"]
        gate = the_gate(spec)
        if gate is None:
            problems.append(f"deployment/{name}: want exactly one schema-gate init container")
            continue
        apps = spec.get("containers") or []
        if (gate.get("command") or [None])[-1] != mode:
            problems.append(f"deployment/{name}: gate runs {gate.get('command')}, want {mode}")
        env = env_of(gate, config)
        gate_dir = env.get("GATE_MIGRATIONS_DIR") or env.get("GOOSE_MIGRATION_DIR")
        # The tool is one setting (GATE_TOOL in the schema ConfigMap), and it is the tool the
        # migrate Job runs: a gate reading another tool's table judges rows nobody writes.
        if "GATE_TOOL" not in env:
            problems.append(f"deployment/{name}: the gate's GATE_TOOL is not set (the schema ConfigMap)")
        elif jobs and env["GATE_TOOL"] != job_tool:
            problems.append(f"deployment/{name}: the gate reads {env['GATE_TOOL']}'s table, the migrate Job runs {job_tool}")
        if variant in FROM_APP_IMAGE:
            if not apps or gate.get("image") != apps[0].get("image"):
                problems.append(f"deployment/{name}: gate image {gate.get('image')} is not the app's")
            if gate.get("command", [""])[0] != "/usr/local/bin/schema-gate":
                problems.append(f"deployment/{name}: gate does not run the binary the app image carries")
            if not gate_dir or gate_dir != job_dir:
                problems.append(f"deployment/{name}: gate expects {gate_dir!r}, the Job migrates {job_dir!r}")
            if env.get("GATE_EXPECT_VERSION"):
                problems.append(f"deployment/{name}: gate has a hand-kept GATE_EXPECT_VERSION")
        else:
            if "/schema-gate:" not in gate.get("image", "") and "/schema-gate@" not in gate.get("image", ""):
                problems.append(f"deployment/{name}: fallback gate does not run the gate image")
            want = str(newest_migration(MIGRATIONS_DIR))
            if env.get("GATE_EXPECT_VERSION") != want:
                problems.append(f"deployment/{name}: GATE_EXPECT_VERSION is {env.get('GATE_EXPECT_VERSION')!r}, "
                                f"the newest migration in {MIGRATIONS_DIR} is {want}")
            if gate_dir:
                problems.append(f"deployment/{name}: fallback gate expects a directory its image lacks")
        problems += dsn_problems(name, spec, gate, apps)
        if mode == "serve":
            if gate.get("restartPolicy") != "Always":
                problems.append(f"deployment/{name}: native sidecar lacks restartPolicy: Always")
            for probe, path in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"),
                                ("livenessProbe", "/livez")):
                if ((gate.get(probe) or {}).get("httpGet") or {}).get("path") != path:
                    problems.append(f"deployment/{name}: {probe} is not on {path}")
            if not any(p.get("name") == "gate" for p in gate.get("ports") or []):
                problems.append(f"deployment/{name}: the gate's port is not named gate")
        problems += [f"deployment/{name} schema-gate: {p}" for p in restricted_problems(spec, gate)]
    if any(d["kind"] == "Namespace" for d in docs):
        problems.append("the overlay renders the Namespace (deploy.sh would re-apply it)")
    return problems


def all_problems(docs, variant):
    return image_problems(docs) + gating_problems(docs, variant, VARIANTS[variant])


# --- deploy.sh against a stand-in cluster -----------------------------------------------------
#
# Only for what a real control plane with kwok cannot show (scripts/check-cluster.py runs every
# other deploy.sh scenario against the real API server and controllers): a container that cannot
# start because a ConfigMap or Secret it references does not exist yet. The stand-in models the
# namespace's ConfigMaps and Secrets (what has been applied, plus the Secrets created out of band)
# and the image of every container applied, and records every call.

FAKE_KUBECTL = r"""#!/usr/bin/env python3
import json, os, re, subprocess, sys, time
args = sys.argv[1:]
line = " ".join(args)
if args and (args[0] == "kustomize" or "--local" in args):
    out = subprocess.run(["kubectl"] + args, capture_output=True, text=True)
    text = out.stdout
    if args[0] == "kustomize" and os.environ.get("FAKE_RENAME_WORKER"):
        # Something renamed the worker's image before deploy.sh's own transformer could see it.
        text = re.sub(r"(image: )\S+(\n(?:.*\n){0,3}?\s+name: worker\n)", r"\1gitea.treytartt.com/honeydue/api:v1.0.0\2", text)
    sys.stdout.write(text); sys.stderr.write(out.stderr); sys.exit(out.returncode)
import yaml
if args[:1] == ["-n"]:
    args = args[2:]
state_file = os.environ["FAKE_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else {
    "job": os.environ.get("FAKE_PREVIOUS", "none"), "objects": [], "lease": None,
    "secrets": os.environ.get("FAKE_SECRETS", "honeydue-db schema-gate-db").split()}
log = open(os.environ["FAKE_LOG"], "a")
log.write("CALL " + line + "\n")
def done(code=0, out=""):
    json.dump(state, open(state_file, "w"))
    if out:
        sys.stdout.write(out)
    sys.exit(code)
def refs(pod):
    found = []
    for c in (pod.get("initContainers") or []) + pod.get("containers", []):
        for e in c.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in e: found.append((kind, e[key]["name"]))
        for e in c.get("env") or []:
            v = e.get("valueFrom") or {}
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in v: found.append((kind, v[key]["name"]))
    return found
def missing(pod):
    have = set(tuple(o) for o in state["objects"]) | {("Secret", n) for n in state["secrets"]}
    return [r for r in refs(pod) if r not in have]
def selected(doc, selector):
    labels = doc.get("metadata", {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=")
            if labels.get(k) == v: return False
        else:
            k, v = term.split("=")
            if labels.get(k) != v: return False
    return True
if os.environ.get("FAKE_SLOW_GET") and args[:1] == ["get"] and "job" in args:
    time.sleep(float(os.environ["FAKE_SLOW_GET"]))
if "apply" in args:
    sel = args[args.index("-l") + 1] if "-l" in args else None
    docs = [d for d in yaml.safe_load_all(open(args[args.index("-f") + 1])) if d and selected(d, sel)]
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if [kind, name] not in state["objects"]:
            state["objects"].append([kind, name])
        pod = d.get("spec", {}).get("template", {}).get("spec")
        if pod:
            log.write("APPLIED " + json.dumps({"kind": kind, "name": name, "images": sorted(
                c["image"] for c in (pod.get("initContainers") or []) + pod["containers"])}) + "\n")
        if kind == "Job":
            c = pod["containers"][0]
            log.write("JOB " + json.dumps({"image": c["image"], "args": (c.get("command") or [])[1:] + (c.get("args") or [])}) + "\n")
            state["job_pod"] = pod
            state["job"] = os.environ.get("FAKE_JOB", "complete")
    done()
# The Job runs only once its pod can start: every ConfigMap and Secret it references exists.
job = state["job"]
if job not in ("none",) and state.get("job_pod") and missing(state["job_pod"]):
    job = "blocked"
if args[:1] == ["get"] and "job" in args and "lease" not in args:
    if "name" in args:
        done(0, "" if job == "none" else "job.batch/goose-migrate")
    if "reason" in line:
        done(0, "BackoffLimitExceeded: Job has reached the specified backoff limit")
    conditions = {"complete": "Complete ", "failed": "Failed "}.get(job, "")
    if "go-template" in line:
        done(0, "" if job == "none" else "found " + conditions)
    done(0, conditions)
if args[:1] == ["get"] and "pods" in args:
    if job == "blocked" and "job-name" in line:
        kind, name = missing(state["job_pod"])[0]
        done(0, f"goose-migrate-x7k2p CreateContainerConfigError: {kind.lower()} \"{name}\" not found\n")
    done(0, "")
if args[:1] == ["delete"] and "job" in args:
    state["job"] = "none"; state.pop("job_pod", None)
    done()
if "logs" in args:
    done(0, "goose: ERROR 00002_add_index.sql: relation \"users\" does not exist (FAKE LOG TAIL)\n")
if args[:3] == ["create", "-f", "-"]:
    if state["lease"]:
        done(1, "Error from server (AlreadyExists): leases.coordination.k8s.io already exists\n")
    state["lease"] = yaml.load(sys.stdin.read(), Loader=yaml.BaseLoader)
    done()
if "lease" in args:
    if args[:1] == ["get"]:
        spec = (state["lease"] or {}).get("spec", {})
        if "renewTime" in line:
            done(0, "\t".join([spec.get("renewTime", ""), spec.get("leaseDurationSeconds", ""), "1", spec.get("holderIdentity", "")]) + "\n")
        done(0, spec.get("holderIdentity", ""))
    if args[:1] == ["delete"]:
        state["lease"] = None
        done()
if args[:1] == ["get"] and ("deployment" in args or "deployments" in args):
    if "selector" in line:
        done(0, "app.kubernetes.io/name=api,")
    if "annotations" in line:
        done(0, "")
    done(0, os.environ.get("FAKE_CURRENT", ""))
if args[:1] == ["get"] and "configmaps" in args:
    done(0, "".join(n + "\n" for k, n in state["objects"] if k == "ConfigMap"))
if "rollout" in args:
    if os.environ.get("FAKE_ROLLOUT_FAIL") and os.environ["FAKE_ROLLOUT_FAIL"] in line:
        done(1, "error: deployment exceeded its progress deadline\n")
    done(0, "deployment successfully rolled out\n")
done()
"""

DIGEST = "@sha256:" + "ab" * 32
TREE = "."


def run_deploy(args, limit=90, **scenario):
    """Runs k8s/deploy.sh ARGS against the stand-in; returns (exit code, output, events, seconds):
    events are ("CALL", argv line), ("JOB", {image, args}) and ("APPLIED", {kind, name, images})."""
    with tempfile.TemporaryDirectory() as tmp:
        fake = f"{tmp}/kubectl"
        with open(fake, "w") as f:
            f.write(FAKE_KUBECTL)
        os.chmod(fake, 0o755)
        env = {**os.environ, "KUBECTL": fake, "FAKE_LOG": f"{tmp}/log", "FAKE_STATE": f"{tmp}/state",
               "POLL_SECONDS": "0.2", "FAKE_CURRENT": "gitea.treytartt.com/honeydue/api:v2.0.0", "TMPDIR": tmp}
        env.update({k: str(v) for k, v in scenario.items()})
        started = time.monotonic()
        try:
            r = subprocess.run(["bash", f"{TREE}/k8s/deploy.sh", *args], env=env, capture_output=True, text=True, timeout=limit)
            code, out = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            code, out = -1, f"deploy.sh hung for {e.timeout} s"
        took = time.monotonic() - started
        events = []
        for l in (open(f"{tmp}/log").read().splitlines() if os.path.exists(f"{tmp}/log") else []):
            kind, _, rest = l.partition(" ")
            events.append((kind, rest if kind == "CALL" else json.loads(rest)))
        return code, out, events, took


def calls(events):
    return [e for k, e in events if k == "CALL"]


def jobs(events):
    return [e for k, e in events if k == "JOB"]


def applied(events):
    return [e for k, e in events if k == "APPLIED"]


def position(cs, *words):
    return next((i for i, c in enumerate(cs) if all(w in c for w in words)), -1)


def rolled_out(events):
    return any(a["kind"] == "Deployment" for a in applied(events))


def deploy_problems():
    """[(check, problem or None)], one entry per scenario."""
    results = []

    def expect(what, ok, detail):
        results.append((what, None if ok else detail))

    # Blocker 1: a first deploy on an empty namespace. The Job's envFrom ConfigMap must exist
    # before the Job, or its pod never starts.
    code, out, ev, took = run_deploy(["up", "v1.4.2"], TIMEOUT="20s")
    expect("up on an empty namespace: the Job's ConfigMap is applied first, goose runs, then the apps",
           code == 0 and jobs(ev) and rolled_out(ev), f"exit {code} after {took:.0f}s: {out}")
    # A Secret the Job references that nobody created: fail at once, naming the reason.
    code, out, ev, took = run_deploy(["up", "v1.4.2"], TIMEOUT="60s", FAKE_SECRETS="schema-gate-db")
    expect("a Job that references a missing Secret fails at once with CreateContainerConfigError",
           code != 0 and took < 30 and "CreateContainerConfigError" in out and not rolled_out(ev),
           f"exit {code} after {took:.0f}s: {out}")

    # Major 2: the image that is deployed is the one every container runs.
    code, out, ev, _ = run_deploy(["up", "v2.0.0"], APP_IMAGE="registry.example.com/honeydue/api")
    imgs = {i for a in applied(ev) for i in a["images"]}
    expect("APP_IMAGE=registry.example.com/honeydue/api up v2.0.0: every app, gate and Job image is exactly it",
           code == 0 and imgs == {"registry.example.com/honeydue/api:v2.0.0"}, f"exit {code}, images {imgs}: {out}")
    code, out, ev, _ = run_deploy(["up", "v2.0.0"], FAKE_RENAME_WORKER="1")
    expect("a render where one container escaped the release image is refused before anything is applied",
           code != 0 and "worker" in out and not applied(ev), f"exit {code}: {out}")

    # Job completes: the finished Job deleted in the foreground, goose up from TAG, then the apps.
    code, out, ev, _ = run_deploy(["up", "v1.4.2"], FAKE_PREVIOUS="complete", FAKE_JOB="complete")
    cs = calls(ev)
    order = [position(cs, "delete", "job", "--cascade=foreground", "--wait=true"),
             position(cs, "apply"), position(cs, "rollout status deployment/api"),
             position(cs, "rollout status deployment/worker")]
    expect("up: delete the finished Job, run goose up from TAG, roll api and worker out",
           code == 0 and -1 not in order and order == sorted(order) and
           [j["image"] for j in jobs(ev)] == ["gitea.treytartt.com/honeydue/api:v1.4.2"] and jobs(ev)[0]["args"][-1] == "up",
           f"exit {code}, order {order}, jobs {jobs(ev)}: {out}")
    code, out, ev, _ = run_deploy(["up", DIGEST], FAKE_JOB="complete")
    expect("up by digest", code == 0 and jobs(ev) and jobs(ev)[0]["image"].endswith(DIGEST), f"exit {code}: {out}")

    # Job fails: abort at once with the reason and the log tail; no rollout.
    code, out, ev, took = run_deploy(["up", "v1.4.2"], FAKE_JOB="failed", TIMEOUT="10m")
    expect("a failed Job aborts at once with its reason and log tail; no rollout",
           code != 0 and took < 30 and "BackoffLimitExceeded" in out and "FAKE LOG TAIL" in out and not rolled_out(ev),
           f"exit {code} after {took:.1f}s: {out}")
    # A previous Job still running: refuse, delete nothing, say how to inspect it.
    code, out, ev, _ = run_deploy(["up", "v1.4.2"], FAKE_PREVIOUS="running")
    expect("a previous Job still running: refused, nothing deleted or applied",
           code != 0 and "still running" in out and "logs job/goose-migrate" in out
           and position(calls(ev), "delete", "job") == -1 and not jobs(ev), f"exit {code}, calls {calls(ev)}: {out}")
    # The Job never finishes: the one deadline ends the run; no rollout.
    code, out, ev, took = run_deploy(["up", "v1.4.2"], FAKE_JOB="running", TIMEOUT="3s")
    expect("the deadline ends a Job that never finishes; no rollout",
           code != 0 and "deadline" in out and not rolled_out(ev) and took < 30, f"exit {code} after {took:.1f}s: {out}")
    # remaining() inside $(…): the deadline passes while the previous Job is read; the run must
    # stop there, not go on with `--timeout=s`.
    code, out, ev, _ = run_deploy(["up", "v1.4.2"], FAKE_PREVIOUS="complete", FAKE_SLOW_GET="2.5", TIMEOUT="2s")
    expect("a deadline passed while computing a sub-timeout stops the run (no delete, no Job)",
           code != 0 and "deadline" in out and position(calls(ev), "delete", "job") == -1 and not jobs(ev),
           f"exit {code}, calls {calls(ev)}: {out}")
    # TIMEOUT as durations people write.
    for value in ("08m", "1.5h", "1h30m", "90"):
        code, out, _, _ = run_deploy(["up", "v1.4.2"], TIMEOUT=value)
        expect(f"TIMEOUT={value} is accepted", code == 0, f"exit {code}: {out}")
    code, out, ev, _ = run_deploy(["up", "v1.4.2"], TIMEOUT="ten")
    expect("TIMEOUT=ten is refused naming TIMEOUT", code != 0 and "TIMEOUT" in out and not jobs(ev), f"exit {code}: {out}")
    # The rollout fails.
    code, out, _, _ = run_deploy(["up", "v1.4.2"], FAKE_ROLLOUT_FAIL="deployment/api")
    expect("a failed rollout is reported", code != 0 and "deployment/api did not become ready" in out, f"exit {code}: {out}")

    # Rollback: apps first, then goose down-to from the replaced (newer) image.
    code, out, ev, _ = run_deploy(["rollback", "v1.4.2", "3"], FAKE_PREVIOUS="complete")
    cs = calls(ev)
    worker, job = position(cs, "rollout status deployment/worker"), next(
        (i for i, c in enumerate(cs) if "apply" in c and i > position(cs, "rollout status deployment/worker")), -1)
    expect("rollback: apps first, then down-to as the Job from the replaced image",
           code == 0 and -1 not in (worker, job) and len(jobs(ev)) == 1
           and jobs(ev)[0]["image"] == "gitea.treytartt.com/honeydue/api:v2.0.0" and jobs(ev)[0]["args"][-2:] == ["down-to", "3"],
           f"exit {code}, jobs {jobs(ev)}: {out}")
    code, out, ev, _ = run_deploy(["rollback", "v1.4.2"])
    expect("rollback without down-to runs no Job", code == 0 and not jobs(ev) and rolled_out(ev), f"exit {code}: {out}")
    code, out, ev, _ = run_deploy(["rollback", "v1.4.2", "3"], FAKE_PREVIOUS="running")
    expect("rollback while goose runs is refused before the apps", code != 0 and not rolled_out(ev), f"exit {code}: {out}")

    # Refusals.
    for args, says, scenario in ((["up", "latest"], "latest", {}), (["up"], "usage", {}),
                                 (["up", "v1"], "VARIANT", {"VARIANT": "nope"}),
                                 (["rollback", "v1", "x"], "DOWN_TO_VERSION", {})):
        code, out, ev, _ = run_deploy(args, **scenario)
        expect(f"refuses {' '.join(args)} {scenario or ''}".strip(), code != 0 and says in out and not rolled_out(ev),
               f"exit {code}: {out}")
    return results


# --- what the manifests promise beyond Pod Security ---------------------------------------------

DEFAULT_TIMEOUT = 600  # deploy.sh's default TIMEOUT (10m): every deadline in the manifests matches it


def seconds(value):
    m = re.fullmatch(r"(\d+)([smh]?)", str(value))
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)] if m else None


def retry_problems(docs):
    """goose must run once: a re-run of a failed migration is never what anyone wants."""
    problems = []
    for d in docs:
        if d["kind"] == "Job":
            spec = d["spec"]
            rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
            fails_at_once = any(r.get("action") == "FailJob" and (r.get("onExitCodes") or {}).get("operator") == "NotIn"
                                and (r.get("onExitCodes") or {}).get("values") == [0] for r in rules)
            if spec.get("backoffLimit", 6) != 0 and not fails_at_once:
                problems.append(f"job/{d['metadata']['name']}: backoffLimit {spec.get('backoffLimit', 6)} re-runs goose")
    return problems


def deadline_problems(docs):
    """The Job's, the Deployments' and the gates' deadlines are one: deploy.sh's TIMEOUT."""
    problems = []
    for d in docs:
        name = f"{d['kind'].lower()}/{d['metadata']['name']}"
        if d["kind"] == "Job" and d["spec"].get("activeDeadlineSeconds") != DEFAULT_TIMEOUT:
            problems.append(f"{name}: activeDeadlineSeconds {d['spec'].get('activeDeadlineSeconds')}")
        if d["kind"] != "Deployment":
            continue
        if d["spec"].get("progressDeadlineSeconds") != DEFAULT_TIMEOUT:
            problems.append(f"{name}: progressDeadlineSeconds {d['spec'].get('progressDeadlineSeconds')}")
        gate = the_gate(d["spec"]["template"]["spec"]) or {}
        env = {e["name"]: e.get("value") for e in gate.get("env") or []}
        if gate.get("restartPolicy") == "Always":
            probe = gate.get("startupProbe") or {}
            budget = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
            if budget != DEFAULT_TIMEOUT:
                problems.append(f"{name}: the sidecar's startupProbe holds the app back {budget} s")
            ready = gate.get("readinessProbe") or {}
            if ready.get("failureThreshold", 3) < 3:
                problems.append(f"{name}: readinessProbe failureThreshold {ready.get('failureThreshold')}: one slow probe drops the pod")
        elif gate and seconds(env.get("GATE_TIMEOUT")) != DEFAULT_TIMEOUT:
            problems.append(f"{name}: GATE_TIMEOUT {env.get('GATE_TIMEOUT')}")
    return problems


def secret_name_problems(docs):
    """Every Secret the pods use, and every Secret named in k8s/ and the README, is one that
    secret.example.yaml shows how to create."""
    shipped = {d["metadata"]["name"] for d in yaml.safe_load_all(open("k8s/secret.example.yaml")) if d}
    problems = []
    used = set()
    for d, spec in pod_specs(docs):
        used |= {v["secret"]["secretName"] for v in spec.get("volumes") or [] if "secret" in v}
        for c in all_containers(spec):
            used |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env") or []
                     if "secretKeyRef" in (e.get("valueFrom") or {})}
    problems += [f"pods use Secret {n}, which secret.example.yaml does not create" for n in sorted(used - shipped)]
    texts = ["README.md"] + [os.path.join(root, f) for root, _, files in os.walk("k8s") for f in files
                             if f.endswith((".yaml", ".yml", ".sh")) and ".render." not in root]
    for path in texts:
        for name in set(re.findall(r"\b(?:honeydue-db[\w-]*|schema-gate-db[\w-]*)\b", open(path).read())):
            if name not in shipped:
                problems.append(f"{path} names Secret {name}, which secret.example.yaml does not create")
    return problems


def doc_problems():
    """What the README says about mounting credentials agrees with the manifests."""
    problems = []
    readme = open("README.md").read()
    if re.search(r"with\s+`defaultMode: 0?400`", readme):
        problems.append("README advises defaultMode 0400, but with fsGroup the kubelet adds group read (0440), "
                        "and without it the root-owned file is unreadable by the gate's user")
    for needle, why in (("rotat", "how to rotate the gate's DSN Secret (a restart)"),
                        ("deployer-rbac.yaml", "the RBAC deploy.sh needs"),
                        ("gate-metrics-networkpolicy.yaml", "the NetworkPolicy for the scraper"),
                        ("fail-static", "fail-static and a restarted sidecar")):
        if needle not in readme.lower():
            problems.append(f"README does not document {why}")
    return problems


def tool_setting_problems():
    """The README's overlay for another migration tool (its block under "Your tool") renders, and
    every gated Deployment's gate then reads that tool's table and directory: the tool is one
    setting of the kit, not a patch per container."""
    readme = open("README.md").read()
    block = re.search(r"```yaml\n(# k8s/overlays/dbmate/kustomization\.yaml.*?)```", readme, re.S)
    if not block:
        return ["README has no overlay block for another tool (# k8s/overlays/dbmate/kustomization.yaml)"]
    text = block.group(1)
    want = dict(re.findall(r"^\s+- (GATE_\w+)=(\S+)$", text, re.M))
    if want.get("GATE_TOOL") != "dbmate":
        return [f"README's overlay does not set GATE_TOOL=dbmate: {want}"]
    work = tempfile.mkdtemp(prefix="tool-overlay-")
    try:
        overlay = os.path.join(work, "overlays", "dbmate")
        os.makedirs(overlay)
        classic = os.path.relpath(os.path.abspath("k8s/overlays/classic"), overlay)
        with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
            f.write(text.replace("- ../classic", f"- {classic}"))
        r = subprocess.run(["kubectl", "kustomize", overlay], capture_output=True, text=True)
        if r.returncode:
            return [f"README's overlay does not render: {r.stderr.strip()}"]
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    problems = []
    config = config_values(docs)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in GATED:
        gate = the_gate(deployments[name]["spec"]["template"]["spec"]) if name in deployments else None
        if gate is None:
            problems.append(f"deployment/{name}: no gate in the rendered overlay")
            continue
        env = env_of(gate, config)
        for key, value in want.items():
            if env.get(key) != value:
                problems.append(f"deployment/{name}: {key} is {env.get(key)!r}, the overlay sets {value!r}")
    return problems


def role_sql_problems():
    """k8s/sql/schema-gate-role.sql runs, as documented, against a database with any name (here
    `app`), and the role it creates reads goose's table."""
    sys.path.insert(0, "bench")
    try:
        from bench import Postgres, pg_bin
    except Exception as e:  # no PostgreSQL here: say so rather than pass
        return [f"cannot start PostgreSQL: {e}"]
    work = tempfile.mkdtemp(prefix="role-sql-")
    os.chmod(work, 0o755)
    pg = Postgres(__import__("pathlib").Path(work))
    try:
        pg.sql("app", "CREATE TABLE public.goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, "
                      "is_applied boolean NOT NULL, tstamp timestamp DEFAULT now())")
        # The roles the file grants TEMPORARY back to exist first, as its header says.
        pg.sql("app", "CREATE ROLE honeydue_app LOGIN; CREATE ROLE migrator LOGIN")
        r = subprocess.run([pg_bin("psql"), "-h", str(pg.dir), "-p", str(pg.port), "-U", "postgres", "-d", "app",
                            "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "gate_password='role-test'",
                            "-f", "k8s/sql/schema-gate-role.sql"], capture_output=True, text=True)
        if r.returncode:
            return [f"psql -f k8s/sql/schema-gate-role.sql on database app: {r.stderr.strip()}"]
        r = subprocess.run([pg_bin("psql"), f"postgres://schema_gate:role-test@127.0.0.1:{pg.port}/app", "-XAtq",
                            "-c", "SELECT count(*) FROM public.goose_db_version"], capture_output=True, text=True)
        return [] if r.returncode == 0 else [f"schema_gate cannot read the table: {r.stderr.strip()}"]
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)



def main():
    passed = failed = 0

    def report(ok, what, detail=""):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")

    rendered = {}
    for variant, mode in VARIANTS.items():
        text, docs = render(variant)
        rendered[variant] = docs
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(text)
            f.flush()
            v = subprocess.run(["kubernetes-validate", "-k", K8S_VERSION, "--strict", f.name],
                               capture_output=True, text=True)
        report(v.returncode == 0, f"{variant}: kubernetes-validate {K8S_VERSION} --strict",
               (v.stdout + v.stderr).strip() if v.returncode else "")
        problems = image_problems(docs)
        report(not problems, f"{variant}: every image fully qualified and pinned", "; ".join(problems))
        problems = gating_problems(docs, variant, mode)
        report(not problems, f"{variant}: api and worker gated ({mode}), image, expectation, DSN, restricted",
               "; ".join(problems))

    for variant in VARIANTS:
        problems = retry_problems(rendered[variant]) + deadline_problems(rendered[variant])
        report(not problems, f"{variant}: goose runs once; every deadline is deploy.sh's TIMEOUT (10m); sidecar readiness tolerates a slow probe",
               "; ".join(problems))
    problems = secret_name_problems(rendered["classic"] + rendered["native-sidecar"])
    report(not problems, "one name per Secret: what the pods use and the docs name is what secret.example.yaml creates", "; ".join(problems))
    problems = doc_problems()
    report(not problems, "README: credentials mounting, DSN rotation, RBAC, NetworkPolicy, sidecar restarts documented", "; ".join(problems))
    problems = tool_setting_problems()
    report(not problems, "README: the overlay for another migration tool sets GATE_TOOL, GATE_TABLE, GATE_MIGRATIONS_DIR for every gate", "; ".join(problems))
    problems = role_sql_problems()
    report(not problems, "k8s/sql/schema-gate-role.sql grants on the database it runs in (not a hard-coded name)", "; ".join(problems))
    for what, problem in deploy_problems():
        report(problem is None, f"deploy.sh (stand-in): {what}", problem or "")

    # Self-test: each mutation must be caught, or the checks above prove nothing.
    def gate_of(docs):
        return the_gate(next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"])

    def pod_of(docs):
        return next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]

    mutations = {
        ("native-sidecar", "runAsNonRoot removed"): lambda d: (gate_of(d)["securityContext"].pop("runAsNonRoot"),
                                                              pod_of(d)["securityContext"].pop("runAsNonRoot")),
        ("native-sidecar", "capabilities not dropped"): lambda d: gate_of(d)["securityContext"].pop("capabilities"),
        ("native-sidecar", "probe with host"): lambda d: gate_of(d)["readinessProbe"]["httpGet"].update(host="10.0.0.1"),
        ("native-sidecar", "restartPolicy removed"): lambda d: gate_of(d).pop("restartPolicy"),
        ("native-sidecar", "writable root"): lambda d: gate_of(d)["securityContext"].update(readOnlyRootFilesystem=False),
        ("classic", "gate removed"): lambda d: gate_of(d).update(name="other"),
        ("classic", "gate image not the app's"): lambda d: gate_of(d).update(image="gitea.treytartt.com/honeydue/schema-gate:0.1.0"),
        ("classic", "an unpinned image"): lambda d: gate_of(d).update(image="gitea.treytartt.com/honeydue/api:latest"),
        ("classic", "a bare image"): lambda d: gate_of(d).update(image="schema-gate"),
        ("classic", "another migrations directory"): lambda d: gate_of(d)["env"].append({"name": "GATE_MIGRATIONS_DIR", "value": "/migrations"}),
        ("classic", "DSN from the app's Secret"): lambda d: gate_of(d)["env"].append(
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": APP_SECRET, "key": "DATABASE_URL"}}}),
        ("classic", "gate Secret world-readable"): lambda d: pod_of(d)["volumes"][0]["secret"].update(defaultMode=0o444),
        ("classic", "no fsGroup"): lambda d: pod_of(d)["securityContext"].pop("fsGroup"),
        ("classic", "gate Secret mounted in the app"): lambda d: pod_of(d)["containers"][0].setdefault("volumeMounts", []).append(
            {"name": "schema-gate-db", "mountPath": "/x"}),
        ("gate-image", "stale GATE_EXPECT_VERSION"): lambda d: next(
            e for e in gate_of(d)["env"] if e["name"] == "GATE_EXPECT_VERSION").update(value="1"),
        ("classic", "a gate reading another tool's table than the Job's"): lambda d: gate_of(d)["env"].append(
            {"name": "GATE_TOOL", "value": "flyway"}),
        ("classic", "GATE_TOOL left out of the ConfigMap"): lambda d: next(
            x for x in d if x["kind"] == "ConfigMap" and x["metadata"]["name"].startswith("schema"))["data"].pop("GATE_TOOL"),
        ("classic", "Namespace rendered"): lambda d: d.append({"kind": "Namespace", "metadata": {"name": "honeydue"}}),
    }
    for (variant, what), mutate in mutations.items():
        broken = copy.deepcopy(rendered[variant])
        mutate(broken)
        report(bool(all_problems(broken, variant)), f"self-test: catches {what} ({variant})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
