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
    job_dir = None
    if jobs:
        goose = jobs[0]["spec"]["template"]["spec"]["containers"][0]
        args = [expand(a, env_of(goose, config)) for a in goose.get("args") or []]
        job_dir = args[args.index("-dir") + 1] if "-dir" in args else None
        if "backoffLimit" not in jobs[0]["spec"] or "ttlSecondsAfterFinished" not in jobs[0]["spec"]:
            problems.append("migrate Job lacks backoffLimit or ttlSecondsAfterFinished")
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

FAKE_KUBECTL = r'''#!/usr/bin/env python3
"""A stand-in kubectl: renders with the real one, plays the goose Job and the Deployments from
$FAKE_* settings, and records every call (plus the image and args of each Job applied)."""
import json, os, subprocess, sys
args = sys.argv[1:]
if args and args[0] == "kustomize":
    os.execvp("kubectl", ["kubectl"] + args)
state_file = os.environ["FAKE_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else {"job": os.environ.get("FAKE_PREVIOUS", "none")}
line = " ".join(args)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(line + "\n")
    if "apply" in args and "app.kubernetes.io/component=migrate" in args:
        import yaml
        docs = [d for d in yaml.safe_load_all(open(args[args.index("-f") + 1])) if d]
        job = next(d for d in docs if d["kind"] == "Job")
        c = job["spec"]["template"]["spec"]["containers"][0]
        log.write("JOB " + json.dumps({"image": c["image"], "args": c["args"]}) + "\n")
        state["job"] = os.environ.get("FAKE_JOB", "complete")
def done(code=0, out=""):
    json.dump(state, open(state_file, "w"))
    if out:
        print(out)
    sys.exit(code)
if "get" in args and "job" in args:
    if "name" in args:
        done(0, "" if state["job"] == "none" else "job.batch/goose-migrate")
    if "Failed" in line and "reason" in line:
        done(0, "BackoffLimitExceeded: Job has reached the specified backoff limit")
    done(0, {"complete": "Complete ", "failed": "Failed ", "running": "", "none": ""}[state["job"]])
if "delete" in args and "job" in args:
    state["job"] = "none"
    done()
if "logs" in args:
    done(0, "goose: ERROR 00002_add_index.sql: relation \"users\" does not exist (FAKE LOG TAIL)")
if "get" in args and "deployment" in args:
    done(0, os.environ.get("FAKE_CURRENT", ""))
if "rollout" in args and os.environ.get("FAKE_ROLLOUT_FAIL") and os.environ["FAKE_ROLLOUT_FAIL"] in line:
    done(1)
done()
'''

DIGEST = "@sha256:" + "ab" * 32


def run_deploy(args, **scenario):
    """Runs k8s/deploy.sh ARGS against the stand-in; returns (exit code, output, calls, jobs, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        fake = f"{tmp}/kubectl"
        with open(fake, "w") as f:
            f.write(FAKE_KUBECTL)
        os.chmod(fake, 0o755)
        env = {**os.environ, "KUBECTL": fake, "FAKE_LOG": f"{tmp}/log", "FAKE_STATE": f"{tmp}/state",
               "POLL_SECONDS": "0.2", "FAKE_CURRENT": "gitea.treytartt.com/honeydue/api:v2.0.0"}
        env.update({k: str(v) for k, v in scenario.items()})
        started = time.monotonic()
        try:
            r = subprocess.run(["bash", "k8s/deploy.sh", *args], env=env, capture_output=True, text=True, timeout=60)
            code, out = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            code, out = -1, f"deploy.sh hung for {e.timeout} s"
        took = time.monotonic() - started
        lines = open(f"{tmp}/log").read().splitlines() if os.path.exists(f"{tmp}/log") else []
        calls = [l for l in lines if not l.startswith("JOB ")]
        jobs = [json.loads(l[4:]) for l in lines if l.startswith("JOB ")]
        return code, out, calls, jobs, took


def position(calls, *words):
    return next((i for i, c in enumerate(calls) if all(w in c for w in words)), -1)


def rolled_out(calls):
    return position(calls, "apply", "component!=migrate") >= 0


def deploy_problems():
    problems = []

    def expect(ok, what):
        if not ok:
            problems.append(what)

    # Job completes: delete the finished one in the foreground, run goose up from TAG, then apps.
    code, out, calls, jobs, _ = run_deploy(["up", "v1.4.2"], FAKE_PREVIOUS="complete", FAKE_JOB="complete")
    order = [position(calls, "delete", "job", "--cascade=foreground", "--wait=true"),
             position(calls, "apply", "component=migrate"),
             position(calls, "apply", "component!=migrate"),
             position(calls, "rollout status deployment/api"),
             position(calls, "rollout status deployment/worker")]
    expect(code == 0 and -1 not in order and order == sorted(order), f"up: exit {code}, order {order}: {out}")
    expect(jobs == [{"image": "gitea.treytartt.com/honeydue/api:v1.4.2",
                     "args": ["-dir", "$(GOOSE_MIGRATION_DIR)", "-table", "$(GOOSE_TABLE)", "up"]}],
           f"up: the Job ran {jobs}")
    expect(not any("namespace" in c.lower() and "apply" in c for c in calls), "up: re-applied the Namespace")
    code, out, _, jobs, _ = run_deploy(["up", DIGEST], FAKE_JOB="complete")
    expect(code == 0 and jobs and jobs[0]["image"].endswith(DIGEST), f"up by digest: exit {code}, jobs {jobs}: {out}")

    # Job fails: abort at once with the reason and the log tail; no rollout.
    code, out, calls, _, took = run_deploy(["up", "v1.4.2"], FAKE_JOB="failed", TIMEOUT="10m")
    expect(code != 0 and took < 30 and "BackoffLimitExceeded" in out and "FAKE LOG TAIL" in out
           and not rolled_out(calls), f"failed Job: exit {code} after {took:.1f}s: {out}")

    # A previous Job still running: refuse, delete nothing, say how to inspect it.
    code, out, calls, _, _ = run_deploy(["up", "v1.4.2"], FAKE_PREVIOUS="running")
    expect(code != 0 and "still running" in out and "logs job/goose-migrate" in out
           and position(calls, "delete") == -1 and position(calls, "apply") == -1,
           f"running Job: exit {code}, calls {calls}: {out}")

    # The Job never finishes: the one deadline ends the run; no rollout.
    code, out, calls, _, took = run_deploy(["up", "v1.4.2"], FAKE_JOB="running", TIMEOUT="3s")
    expect(code != 0 and "deadline" in out and not rolled_out(calls) and took < 30,
           f"deadline: exit {code} after {took:.1f}s: {out}")

    # The rollout fails.
    code, out, _, _, _ = run_deploy(["up", "v1.4.2"], FAKE_ROLLOUT_FAIL="deployment/api")
    expect(code != 0 and "deployment/api did not become ready" in out, f"rollout failure: exit {code}: {out}")

    # Rollback: apps first, then goose down-to from the replaced (newer) image.
    code, out, calls, jobs, _ = run_deploy(["rollback", "v1.4.2", "3"], FAKE_PREVIOUS="complete")
    apps, worker, job = (position(calls, "apply", "component!=migrate"),
                         position(calls, "rollout status deployment/worker"),
                         position(calls, "apply", "component=migrate"))
    expect(code == 0 and -1 not in (apps, worker, job) and apps < worker < job,
           f"rollback order: exit {code}, calls {calls}: {out}")
    expect(len(jobs) == 1 and jobs[0]["image"] == "gitea.treytartt.com/honeydue/api:v2.0.0"
           and jobs[0]["args"][-2:] == ["down-to", "3"], f"rollback Job: {jobs}")
    code, out, calls, jobs, _ = run_deploy(["rollback", "v1.4.2"])
    expect(code == 0 and not jobs and rolled_out(calls), f"rollback without down-to: exit {code}, jobs {jobs}: {out}")
    code, out, calls, _, _ = run_deploy(["rollback", "v1.4.2", "3"], FAKE_PREVIOUS="running")
    expect(code != 0 and not rolled_out(calls), f"rollback while goose runs: exit {code}: {out}")

    # Refusals.
    for args, says, scenario in ((["up", "latest"], "latest", {}), (["up"], "usage", {}),
                                 (["up", "v1"], "unknown VARIANT", {"VARIANT": "nope"}),
                                 (["rollback", "v1", "x"], "DOWN_TO_VERSION", {})):
        code, out, calls, _, _ = run_deploy(args, **scenario)
        expect(code != 0 and says in out and not rolled_out(calls), f"{args} {scenario}: exit {code}: {out}")
    return problems


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

    problems = deploy_problems()
    report(not problems, "deploy.sh: every Job outcome, deadline, rollout failure, rollback order", " | ".join(problems))

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
