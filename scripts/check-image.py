#!/usr/bin/env python3
"""Builds the real images without a Docker engine and runs them against a real PostgreSQL.

1. The gate image: `podman build --isolation chroot --build-context build=DIR .`, where DIR holds
   the static binary (scripts/check-static.sh builds it) and a CA bundle in place of the
   Dockerfile's compile stage `build`. It must stay under 5 MiB.
2. A stand-in app image, built the way the README tells teams to: the one
   `COPY --from=<gate image> /schema-gate /usr/local/bin/schema-gate` line, plus a migrations
   directory (examples/migrations) where the goose Job would find it.
3. Each image is converted to an OCI bundle (skopeo, umoci) and run with runc (`podman run` is
   refused on this machine) as the image's own numeric user, with a read-only root and the host's
   network:
   - the gate image runs `check` (1, then 0 once the row lands), `wait` (blocks, then 0) and
     `serve` (/readyz 503, then 200);
   - the app image runs the classic overlay's init container *exactly as rendered* (command,
     ConfigMap and env, the gate's DSN as a file readable through fsGroup with mode 0440), and
     must block until the last migration's row lands, then exit 0.

4. Publishing: scripts/publish-image.sh pushes the linux/amd64 + linux/arm64 list (from the
   static binaries scripts/check-static.sh and scripts/check-arm64.sh build) to a real registry on
   loopback (Debian's docker-registry, the CNCF distribution server, plain HTTP, TLS_VERIFY=false);
   the list is read back with skopeo, and each platform's image pulled by digest: user, entrypoint,
   version, source and revision labels.

Prints one line per check and closes with "N passed, M failed". Needs root (runc, chroot builds).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from checklib import DEADLINE, eventually, http_status, report, summary  # noqa: E402
from bench import PASSWORD, Postgres, free_port  # noqa: E402

import yaml  # noqa: E402

STATIC = ROOT / "target/x86_64-unknown-linux-musl/release/schema-gate"
STATIC_ARM64 = ROOT / "target/aarch64-unknown-linux-musl/release/schema-gate"
GATE_IMAGE = "localhost/schema-gate:ci"
APP_IMAGE = "localhost/honeydue-api:ci"
IMAGE_BUDGET = 5 * 1024 * 1024


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def build_context(work):
    """The directory that replaces the Dockerfile's `build` stage."""
    ctx = work / "build-context"
    (ctx / "etc/ssl/certs").mkdir(parents=True)
    shutil.copy(STATIC, ctx / "schema-gate")
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", ctx / "etc/ssl/certs/ca-certificates.crt")
    return ctx


def podman_build(*args):
    return subprocess.run(["podman", "build", "--isolation", "chroot", "--quiet", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def build_images(work):
    podman_build("--build-context", f"build={build_context(work)}", "-t", GATE_IMAGE, str(ROOT))
    size = int(sh(["podman", "image", "inspect", "--format", "{{.Size}}", GATE_IMAGE]))
    report(size < IMAGE_BUDGET, f"gate image {GATE_IMAGE}: {size / 1048576:.2f} MiB (budget 5 MiB)")
    app = work / "app"
    shutil.copytree(ROOT / "examples/migrations", app / "migrations")
    (app / "Dockerfile").write_text(
        f"FROM {GATE_IMAGE} AS gate\n"
        "FROM scratch\n"
        "# The one line the README asks an app's Dockerfile to add:\n"
        "COPY --from=gate /schema-gate /usr/local/bin/schema-gate\n"
        "COPY --from=gate /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        "COPY migrations /app/migrations\n"
        "USER 65532:65532\n")
    podman_build("-t", APP_IMAGE, str(app))


def unpack(image, work, name):
    oci = work / f"{name}-oci"
    sh(["skopeo", "copy", "--quiet", f"containers-storage:{image}", f"oci:{oci}:ci"])
    bundle = work / f"{name}-bundle"
    sh(["umoci", "unpack", "--image", f"{oci}:ci", str(bundle)])
    return bundle


class Container:
    """One runc container from an unpacked bundle: host network, read-only root, the image's
    user, plus `env`, bind `mounts` [(host, container)] and `groups` (as a pod's fsGroup adds)."""

    count = 0

    def __init__(self, bundle, args, env, mounts=(), groups=()):
        config = json.loads((bundle / "config.json").read_text())
        process = config["process"]
        self.user = dict(process["user"])
        process["terminal"] = False
        process["args"] = args
        process["env"] = [e for e in process["env"] if e.startswith(("PATH=", "SSL_CERT_FILE="))] + \
            [f"{k}={v}" for k, v in env.items()]
        process["user"]["additionalGids"] = list(groups)
        config["root"]["readonly"] = True
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
        for host, inside in mounts:
            config["mounts"].append({"destination": inside, "type": "bind", "source": str(host),
                                     "options": ["rbind", "ro"]})
        (bundle / "config.json").write_text(json.dumps(config))
        Container.count += 1
        self.id = f"schema-gate-ci-{os.getpid()}-{Container.count}"
        self.log = tempfile.NamedTemporaryFile(prefix="runc-", suffix=".log")
        self.proc = subprocess.Popen(["runc", "run", "--bundle", str(bundle), self.id],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def wait(self, limit=DEADLINE):
        try:
            return self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        subprocess.run(["runc", "kill", self.id, "KILL"], capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["runc", "delete", "--force", self.id], capture_output=True)
def fresh_table(pg, name):
    pg.sql("app", f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id integer PRIMARY KEY GENERATED BY DEFAULT "
                  "AS IDENTITY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now()); "
                  f"INSERT INTO {name} (version_id, is_applied) VALUES (0, true), (1, true); GRANT SELECT ON {name} TO gate")


def gate_image_runs(pg, work):
    bundle = unpack(GATE_IMAGE, work, "gate")
    user = json.loads((bundle / "config.json").read_text())["process"]["user"]
    report(user.get("uid") == 65532 and user.get("gid") == 65532, f"gate image runs as 65532:65532 ({user})")
    fresh_table(pg, "gate_image")
    env = {"DATABASE_URL": pg.url(), "GOOSE_TABLE": "gate_image", "GATE_EXPECT_VERSION": "2"}
    c = Container(bundle, ["/schema-gate", "check"], env)
    code = c.wait()
    report(code == 1, "gate image: check exits 1 while version 2 is missing", f"exit {code}: {c.output()}")
    waiter = Container(bundle, ["/schema-gate", "wait"], {**env, "GATE_INTERVAL": "200ms"})
    blocked = eventually(lambda: "not ready" in waiter.output() and waiter.running())
    report(bool(blocked), "gate image: wait blocks on a stale schema", waiter.output())
    port = free_port()
    server = Container(bundle, ["/schema-gate", "serve"], {**env, "GATE_INTERVAL": "200ms",
                                                             "GATE_LISTEN": f"127.0.0.1:{port}"})
    report(eventually(lambda: http_status(port, "/readyz") == 503) is not None,
           "gate image: serve answers /readyz 503 on a stale schema", server.output())
    pg.sql("app", "INSERT INTO gate_image (version_id, is_applied) VALUES (2, true)")
    code = waiter.wait()
    report(code == 0, "gate image: wait exits 0 once the row lands", f"exit {code}: {waiter.output()}")
    report(eventually(lambda: http_status(port, "/readyz") == 200) is not None,
           "gate image: serve turns /readyz 200", server.output())
    server.stop()
    c = Container(bundle, ["/schema-gate", "check"], env)
    code = c.wait()
    report(code == 0, "gate image: check exits 0", f"exit {code}: {c.output()}")


def rendered_init_container():
    """The classic overlay's api init container and the `schema` ConfigMap, as rendered."""
    docs = [d for d in yaml.safe_load_all(sh(["kubectl", "kustomize", str(ROOT / "k8s/overlays/classic")])) if d]
    config = next(d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("schema"))
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "api")
    spec = api["spec"]["template"]["spec"]
    gate = next(c for c in spec["initContainers"] if c["name"] == "schema-gate")
    return gate, config, spec


def app_image_runs_the_init_container(pg, work):
    bundle = unpack(APP_IMAGE, work, "app")
    gate, config, pod = rendered_init_container()
    env = {}
    if gate.get("envFrom"):
        env.update(config)
    env.update({e["name"]: e["value"] for e in gate.get("env") or [] if "value" in e})
    table = env.get("GOOSE_TABLE", "goose_db_version")
    pg.sql("app", f"DROP TABLE IF EXISTS {table}")
    fresh_table(pg, table)
    # The gate's Secret, as the kubelet mounts it: root-owned, mode 0440, group = the pod's fsGroup.
    secret = work / "secret"
    secret.mkdir()
    (secret / "DATABASE_URL").write_text(pg.url())
    fs_group = pod["securityContext"]["fsGroup"]
    os.chown(secret / "DATABASE_URL", 0, fs_group)
    os.chmod(secret / "DATABASE_URL", 0o440)
    mount = gate["volumeMounts"][0]["mountPath"]
    c = Container(bundle, gate["command"] + (gate.get("args") or []), {**env, "GATE_INTERVAL": "200ms"},
                  mounts=[(secret, mount)], groups=[fs_group])
    newest = max(int(n.split("_", 1)[0]) for n in os.listdir(ROOT / "examples/migrations"))
    blocked = eventually(lambda: "not ready" in c.output() and c.running())
    report(bool(blocked), f"app image: the rendered init container ({' '.join(gate['command'])}) blocks "
                          f"until migration {newest}", c.output())
    report("pending" in c.output() and str(newest) in c.output(),
           "app image: the expectation is the image's own migrations directory", c.output())
    pg.sql("app", f"INSERT INTO {table} (version_id, is_applied) VALUES ({newest}, true)")
    code = c.wait()
    report(code == 0, "app image: the init container exits 0 once the last migration's row lands",
           f"exit {code}: {c.output()}")
    report(PASSWORD not in c.output(), "app image: the password never appears in the gate's output")


def publishing(work):
    port = free_port()
    storage = work / "registry"
    storage.mkdir()
    (work / "registry.yml").write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    registry = subprocess.Popen(["docker-registry", "serve", str(work / "registry.yml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = eventually(lambda: http_status(port, "/v2/") == 200)
        if not report(up is not None, f"registry on 127.0.0.1:{port}"):
            return
        version, source = "9.9.9-ci", "https://example.test/schema-gate.git"
        r = subprocess.run(["scripts/publish-image.sh", f"127.0.0.1:{port}", version], cwd=ROOT,
                           env={**os.environ, "TLS_VERIFY": "false", "SOURCE": source},
                           capture_output=True, text=True)
        if not report(r.returncode == 0, "publish-image.sh pushes the manifest list", r.stdout + r.stderr):
            return
        ref = f"docker://127.0.0.1:{port}/schema-gate"
        raw = json.loads(sh(["skopeo", "inspect", "--raw", "--tls-verify=false", f"{ref}:{version}"]))
        platforms = {(m["platform"]["os"], m["platform"]["architecture"]): m["digest"] for m in raw.get("manifests", [])}
        report(set(platforms) == {("linux", "amd64"), ("linux", "arm64")},
               "the list holds linux/amd64 and linux/arm64", json.dumps(raw))
        revision = sh(["git", "rev-parse", "HEAD"], cwd=ROOT).strip()
        for (_, arch), digest in platforms.items():
            config = json.loads(sh(["skopeo", "inspect", "--config", "--tls-verify=false", f"{ref}@{digest}"]))
            c = config.get("config", {})
            labels = c.get("Labels") or {}
            report(config.get("architecture") == arch and c.get("User") == "65532:65532"
                   and c.get("Entrypoint") == ["/schema-gate"]
                   and labels.get("org.opencontainers.image.version") == version
                   and labels.get("org.opencontainers.image.source") == source
                   and labels.get("org.opencontainers.image.revision") == revision,
                   f"pulled by digest, linux/{arch}: user, entrypoint, version, source and revision labels",
                   json.dumps(config))
    finally:
        registry.terminate()
        registry.wait()


def main():
    if os.geteuid() != 0:
        sys.exit("check-image: needs root (runc, chroot builds)")
    if not STATIC.exists():
        sys.exit(f"check-image: {STATIC} missing: run scripts/check-static.sh first")
    work = Path(tempfile.mkdtemp(prefix="schema-gate-image-"))
    os.chmod(work, 0o755)
    pg = Postgres(work)
    try:
        build_images(work)
        gate_image_runs(pg, work)
        app_image_runs_the_init_container(pg, work)
        if STATIC_ARM64.exists():
            publishing(work)
        else:
            report(False, f"publishing: {STATIC_ARM64} missing (run scripts/check-arm64.sh first)")
    finally:
        pg.proc.terminate()
        pg.proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
