#!/usr/bin/env python3
"""Builds the real images without a Docker engine and runs them against a real PostgreSQL.

1. The gate image: `podman build --isolation chroot --build-context build=DIR .`, where DIR holds
   the static binary (scripts/check-static.sh builds it) and a CA bundle in place of the
   Dockerfile's compile stage `build`. It must stay under 5 MiB.
2. A stand-in app image, built the way the README tells teams to: the one
   `COPY --from=<gate image> /schema-gate /usr/local/bin/schema-gate` line, plus what the
   deployment's app image carries for its migrate Job: the real goose CLI (the pinned v3.22.1,
   static, from scripts/peers/goose.sh) at /usr/local/bin/goose and the migrations directory
   (examples/migrations) at /app/migrations.
3. Each image is converted to an OCI bundle (skopeo, umoci) and run with runc (`podman run` is
   refused on this machine) as the image's own numeric user, with a read-only root and the host's
   network:
   - the gate image runs `check` (1, then 0 once goose applies migration 2), `wait` (blocks,
     then 0) and `serve` (/readyz 503, then 200), the rows written by the real goose on the host;
   - the app image runs the classic overlay's init container *exactly as rendered* (command,
     ConfigMap and env, the gate's DSN as a file readable through fsGroup with mode 0440), which
     must block while the schema is missing; then the rendered migrate Job's container, exactly
     as rendered too (`goose -dir $(GOOSE_MIGRATION_DIR) -table $(GOOSE_TABLE) up`, expanded as
     the kubelet expands it, the ConfigMap, GOOSE_DBSTRING from the Secret, the pod's user),
     applies the image's migrations, and the init container must then exit 0.

4. Publishing: scripts/publish-image.sh pushes the linux/amd64 + linux/arm64 list (from the
   static binaries scripts/check-static.sh and scripts/check-arm64.sh build) to a real registry on
   loopback (Debian's docker-registry, the CNCF distribution server, plain HTTP, TLS_VERIFY=false).
   No registry of base images is reachable here, so the Dockerfile's base is a stand-in (Debian's
   CA bundle plus a marker line) pushed to that registry and pinned by the digest skopeo reads
   back from it. Checked: the Dockerfile pins its base only through BASE_DIGEST and the repository
   writes no digest anywhere; publish-image.sh refuses an unpinned or malformed base digest, an
   untagged release and a binary of another version; then, from a clone tagged vVERSION, it
   publishes, signs with a throwaway cosign key and attaches a CycloneDX SBOM (cargo-cyclonedx)
   as a signed attestation. Read back: the list holds both platforms; each, pulled by digest,
   has its user, entrypoint, labels and the base's CA bundle (the marker; not the host's); an app
   image built with `COPY --from=REGISTRY/schema-gate:VERSION@sha256:…` carries exactly the
   amd64 binary, and a wrong digest fails its build; `cosign verify` and `verify-attestation`
   accept the key and refuse another; the SBOM lists the gate's crates.

Prints one line per check and closes with "N passed, M failed". Needs root (runc, chroot builds).
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from checklib import (DEADLINE, DEPLOYED_GOOSE, eventually, goose, goose_binary, http_status,  # noqa: E402
                      noop_migrations, peer, report, summary)
from bench import PASSWORD, Postgres, free_port  # noqa: E402

import yaml  # noqa: E402

STATIC = ROOT / "target/x86_64-unknown-linux-musl/release/schema-gate"
MIGRATOR_PASSWORD = "migrator-Secret-pw"
STATIC_ARM64 = ROOT / "target/aarch64-unknown-linux-musl/release/schema-gate"
GATE_IMAGE = "localhost/schema-gate:ci"
APP_IMAGE = "localhost/honeydue-api:ci"
IMAGE_BUDGET = 5 * 1024 * 1024
BASE_IMAGE = "localhost/schema-gate-ci-base:ci"
BASE_MARKER = "# schema-gate CI stand-in base image"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def build_context(work):
    """The directory that replaces the Dockerfile's `build` stage: the binary only (the CA bundle
    comes from the base image)."""
    ctx = work / "build-context"
    ctx.mkdir(parents=True)
    shutil.copy(STATIC, ctx / "schema-gate")
    return ctx


def stand_in_base(work):
    """The Dockerfile's base image, which no reachable registry serves: Debian's CA bundle (this
    machine's ca-certificates) plus a marker line, so that an image's bundle can be traced to it."""
    ctx = work / "base"
    (ctx / "etc/ssl/certs").mkdir(parents=True)
    bundle = Path("/etc/ssl/certs/ca-certificates.crt").read_text() + BASE_MARKER + "\n"
    (ctx / "etc/ssl/certs/ca-certificates.crt").write_text(bundle)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY etc /etc\n")
    podman_build("-t", BASE_IMAGE, str(ctx))
    return BASE_IMAGE


def podman_build(*args):
    return subprocess.run(["podman", "build", "--isolation", "chroot", "--quiet", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def build_images(work):
    podman_build("--build-context", f"build={build_context(work)}", "--build-arg", f"BASE_IMAGE={stand_in_base(work)}",
                 "-t", GATE_IMAGE, str(ROOT))
    size = int(sh(["podman", "image", "inspect", "--format", "{{.Size}}", GATE_IMAGE]))
    report(size < IMAGE_BUDGET, f"gate image {GATE_IMAGE}: {size / 1048576:.2f} MiB (budget 5 MiB)")
    app = work / "app"
    shutil.copytree(ROOT / "examples/migrations", app / "migrations")
    shutil.copy(goose_binary(), app / "goose")
    (app / "Dockerfile").write_text(
        f"FROM {GATE_IMAGE} AS gate\n"
        "FROM scratch\n"
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
        "# The one line the README asks an app's Dockerfile to add:\n"
        "COPY --from=gate /schema-gate /usr/local/bin/schema-gate\n"
        "COPY --from=gate /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        f"# What the api image carries for its migrate Job: goose {DEPLOYED_GOOSE} (static) and the migrations.\n"
        "COPY goose /usr/local/bin/goose\n"
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

    def __init__(self, bundle, args, env, mounts=(), groups=(), user=(None, None)):
        config = json.loads((bundle / "config.json").read_text())
        process = config["process"]
        if user[0] is not None:   # a pod's runAsUser / runAsGroup
            process["user"]["uid"], process["user"]["gid"] = user[0], user[1] if user[1] is not None else user[0]
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
def gate_image_runs(pg, work):
    bundle = unpack(GATE_IMAGE, work, "gate")
    user = json.loads((bundle / "config.json").read_text())["process"]["user"]
    report(user.get("uid") == 65532 and user.get("gid") == 65532, f"gate image runs as 65532:65532 ({user})")
    migrations = noop_migrations(work / "noop-migrations", [1, 2])
    goose(pg, migrations, "up-to", "1", table="gate_image")
    pg.sql("app", "GRANT SELECT ON gate_image TO gate")
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
    goose(pg, migrations, "up", table="gate_image")
    code = waiter.wait()
    report(code == 0, "gate image: wait exits 0 once the row lands", f"exit {code}: {waiter.output()}")
    report(eventually(lambda: http_status(port, "/readyz") == 200) is not None,
           "gate image: serve turns /readyz 200", server.output())
    server.stop()
    c = Container(bundle, ["/schema-gate", "check"], env)
    code = c.wait()
    report(code == 0, "gate image: check exits 0", f"exit {code}: {c.output()}")


def rendered_init_container():
    """The classic overlay's api init container and the `schema` ConfigMap, as rendered, and the
    migrate Job's pod spec."""
    docs = [d for d in yaml.safe_load_all(sh(["kubectl", "kustomize", str(ROOT / "k8s/overlays/classic")])) if d]
    config = next(d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("schema"))
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "api")
    spec = api["spec"]["template"]["spec"]
    gate = next(c for c in spec["initContainers"] if c["name"] == "schema-gate")
    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "goose-migrate")
    return gate, config, spec, job["spec"]["template"]["spec"]


def kubelet_expand(text, env):
    """`$(VAR)` in a container's command and args, as the kubelet expands it (`$$` escapes;
    an unknown name stays as written)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def container_env(container, config, secrets):
    """A container's environment as the kubelet builds it: envFrom (the ConfigMap), then env
    (values, and secretKeyRef from `secrets`)."""
    env = {}
    if container.get("envFrom"):
        env.update(config)
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "secretKeyRef" in (e.get("valueFrom") or {}):
            env[e["name"]] = secrets[e["valueFrom"]["secretKeyRef"]["key"]]
    return env


def run_migrate_job(pg, bundle, config, job_pod):
    """The rendered migrate Job's container under runc: command, args, ConfigMap, the Secret's
    GOOSE_DBSTRING (a migrator role on the direct host), the pod's user. Returns (exit, output)."""
    job = job_pod["containers"][0]
    env = container_env(job, config, {"GOOSE_DBSTRING": (
        f"host=127.0.0.1 port={pg.port} user=migrator password={MIGRATOR_PASSWORD} dbname=app sslmode=disable")})
    args = [kubelet_expand(a, env) for a in job["command"] + (job.get("args") or [])]
    pod_user = job_pod.get("securityContext") or {}
    c = Container(bundle, args, env, user=(pod_user.get("runAsUser"), pod_user.get("runAsGroup")))
    return c.wait(), c.output(), args


def app_image_runs_the_init_container(pg, work):
    bundle = unpack(APP_IMAGE, work, "app")
    job_bundle = unpack(APP_IMAGE, work, "app-job")
    gate, config, pod, job_pod = rendered_init_container()
    env = container_env(gate, config, {})
    table = env.get("GOOSE_TABLE", "goose_db_version")
    pg.sql("app", f"DROP TABLE IF EXISTS {table}")
    # goose's role, as k8s/secret.example.yaml's GOOSE_DBSTRING names one: it owns what it creates,
    # and what it creates in public is readable by the gate.
    pg.sql("app", f"CREATE ROLE migrator LOGIN PASSWORD '{MIGRATOR_PASSWORD}'; "
                  "GRANT CREATE ON SCHEMA public TO migrator; "
                  "ALTER DEFAULT PRIVILEGES FOR ROLE migrator IN SCHEMA public GRANT SELECT ON TABLES TO gate")
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
                          "while the schema is missing", c.output())
    report("pending" in c.output() and str(newest) in c.output(),
           "app image: the expectation is the image's own migrations directory", c.output())
    code, output, args = run_migrate_job(pg, job_bundle, config, job_pod)
    report(code == 0 and f"successfully migrated database to version: {newest}" in output,
           f"app image: the rendered migrate Job ({' '.join(args)}) applies the image's migrations "
           f"with the real goose {DEPLOYED_GOOSE}", f"exit {code}: {output}")
    rows = pg.sql("app", f"SELECT string_agg(version_id::text, ',' ORDER BY id) FROM {table}")
    report(rows == "0," + ",".join(str(int(n.split("_", 1)[0])) for n in sorted(os.listdir(ROOT / "examples/migrations"))),
           f"app image: goose wrote its own rows ({rows})")
    code = c.wait()
    report(code == 0, "app image: the init container exits 0 once the Job has applied the last migration",
           f"exit {code}: {c.output()}")
    report(PASSWORD not in c.output() and MIGRATOR_PASSWORD not in output,
           "app image: no password appears in the gate's or goose's output")


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# cosign would reach for sigstore's public services (its TUF root, Rekor): every HTTP(S) request
# not to loopback goes to a proxy on loopback that nothing serves, so it fails at once there.
LOOPBACK_ONLY = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
                 "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "no_proxy": "127.0.0.1,localhost"}


def pinning_checks():
    """The base image is pinned through BASE_DIGEST only, and no digest is written by hand."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    report(re.search(r"^ARG BASE_DIGEST=$", dockerfile, re.M)
           and re.search(r"^FROM --platform=\$BUILDPLATFORM \$\{BASE_IMAGE\}\$\{BASE_DIGEST:\+@\}\$\{BASE_DIGEST\} AS base$", dockerfile, re.M)
           and re.search(r"^COPY --from=base /etc/ssl/certs/ca-certificates.crt ", dockerfile, re.M)
           and "skopeo inspect --raw docker://" in dockerfile,
           "Dockerfile: the base is pinned by BASE_DIGEST (empty by default, with the skopeo command that reads it), "
           "and the CA bundle comes from it")
    files = [ROOT / "Dockerfile", ROOT / "README.md", *sorted((ROOT / "k8s").rglob("*.yaml")), *sorted((ROOT / "docs").rglob("*.md"))]
    written = [f"{p.relative_to(ROOT)}: {m}" for p in files for m in DIGEST.findall(p.read_text())]
    report(not written, "no digest is written in the Dockerfile, README, docs or manifests (only ones read from a registry are used)",
           "; ".join(written))


def registry_digest(ref):
    """The digest of `ref`'s manifest (list), as its registry serves it."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref], check=True, capture_output=True).stdout
    return subprocess.run(["skopeo", "manifest-digest", "/dev/stdin"], input=raw, check=True, capture_output=True,
                          text=False).stdout.decode().strip()


def pull_files(ref, work, name, *paths):
    """Files of the image `ref` (docker://…), unpacked with skopeo and umoci: {path: bytes}."""
    oci, bundle = work / f"{name}-oci", work / f"{name}-bundle"
    sh(["skopeo", "copy", "--quiet", "--src-tls-verify=false", ref, f"oci:{oci}:x"])
    sh(["umoci", "unpack", "--image", f"{oci}:x", str(bundle)])
    return {p: (bundle / "rootfs" / p.lstrip("/")).read_bytes() for p in paths if (bundle / "rootfs" / p.lstrip("/")).exists()}


def publish(clone, env, *args):
    return subprocess.run([str(clone / "scripts/publish-image.sh"), *args], cwd=clone,
                          env={**os.environ, **LOOPBACK_ONLY, **env}, capture_output=True, text=True)


def publishing(work):
    pinning_checks()
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
        published(work, f"127.0.0.1:{port}")
    finally:
        registry.terminate()
        registry.wait()


def published(work, reg):
    # The stand-in base, pushed and pinned by the digest its registry reports.
    base = f"{reg}/ci/debian-ca:bookworm"
    sh(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"containers-storage:{BASE_IMAGE}", f"docker://{base}"])
    base_digest = registry_digest(f"docker://{base}")
    # The release: a clone of this commit, so that tagging it touches nothing here.
    clone = work / "release"
    sh(["git", "clone", "--quiet", "--local", "--no-hardlinks", str(ROOT), str(clone)])
    version = sh([str(STATIC), "--version"]).split()[-1]
    source = "https://example.test/schema-gate.git"
    cosign = peer("cosign")[0]
    keys = work / "keys"
    keys.mkdir()
    password = {"COSIGN_PASSWORD": "ci-throwaway"}
    for name in ("signer", "other"):
        (keys / name).mkdir()
        subprocess.run([cosign, "generate-key-pair"], cwd=keys / name, env={**os.environ, **LOOPBACK_ONLY, **password},
                       check=True, capture_output=True)
    env = {"TLS_VERIFY": "false", "SOURCE": source, "AMD64_BIN": str(STATIC),
           "ARM64_BIN": str(STATIC_ARM64), "BASE_IMAGE": base, "BASE_DIGEST": base_digest,
           "COSIGN_KEY": str(keys / "signer/cosign.key"), "COSIGN": cosign, **password}
    refusals = {
        "an unpinned base (no BASE_DIGEST)": ({**env, "BASE_DIGEST": ""}, "skopeo inspect --raw"),
        "a malformed base digest": ({**env, "BASE_DIGEST": "sha256:1234"}, "does not pin the base image"),
        "a base digest inside BASE_IMAGE": ({**env, "BASE_IMAGE": f"{base}@{base_digest}"}, "must be a name"),
        "an untagged release": (env, f"HEAD is not tagged v{version}"),
    }
    for what, (e, says) in refusals.items():
        r = publish(clone, e, reg, version)
        report(r.returncode != 0 and says in r.stderr, f"publish-image.sh refuses {what}", r.stdout + r.stderr)
    sh(["git", "-C", str(clone), "tag", "-a", f"v{version}", "-m", f"schema-gate {version}"])
    r = publish(clone, env, reg, f"{version}.1")
    report(r.returncode != 0 and "not tagged" in r.stderr, "publish-image.sh refuses a version other than the tag's", r.stderr)
    r = publish(clone, env, reg, version)
    if not report(r.returncode == 0, f"publish-image.sh publishes tagged v{version}, signed, with its SBOM", r.stdout + r.stderr):
        return
    printed = re.search(rf"pushed {re.escape(reg)}/schema-gate:{re.escape(version)}@(sha256:[0-9a-f]{{64}})$", r.stdout.strip())
    ref = f"docker://{reg}/schema-gate"
    digest = registry_digest(f"{ref}:{version}")
    report(printed and printed.group(1) == digest, f"it prints the list's digest as the registry serves it ({digest[:19]}…)", r.stdout)
    raw = json.loads(sh(["skopeo", "inspect", "--raw", "--tls-verify=false", f"{ref}@{digest}"]))
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]): m["digest"] for m in raw.get("manifests", [])}
    report(set(platforms) == {("linux", "amd64"), ("linux", "arm64")}, "the list holds linux/amd64 and linux/arm64", json.dumps(raw))
    revision = sh(["git", "rev-parse", "HEAD"], cwd=ROOT).strip()
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()
    for (_, arch), one in platforms.items():
        config = json.loads(sh(["skopeo", "inspect", "--config", "--tls-verify=false", f"{ref}@{one}"]))
        c = config.get("config", {})
        labels = c.get("Labels") or {}
        report(config.get("architecture") == arch and c.get("User") == "65532:65532"
               and c.get("Entrypoint") == ["/schema-gate"]
               and labels.get("org.opencontainers.image.version") == version
               and labels.get("org.opencontainers.image.source") == source
               and labels.get("org.opencontainers.image.revision") == revision,
               f"pulled by digest, linux/{arch}: user, entrypoint, version, source and revision labels", json.dumps(config))
        bundle = pull_files(f"{ref}@{one}", work, f"pub-{arch}", "/etc/ssl/certs/ca-certificates.crt").get(
            "/etc/ssl/certs/ca-certificates.crt", b"")
        report(BASE_MARKER.encode() in bundle and bundle != host_bundle,
               f"linux/{arch}: the CA bundle is the pinned base's, not the publishing host's")
    app_by_digest(work, reg, version, digest)
    signatures(cosign, keys, f"{reg}/schema-gate", digest, platforms)


def app_by_digest(work, reg, version, digest):
    """An app image that copies the gate by digest, as the README tells teams to."""
    app = work / "app-by-digest"
    app.mkdir()
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    for what, d in (("right", digest), ("wrong", wrong)):
        (app / "Dockerfile").write_text(f"FROM scratch\nCOPY --from={reg}/schema-gate:{version}@{d} /schema-gate /usr/local/bin/schema-gate\n")
        r = subprocess.run(["podman", "build", "--isolation", "chroot", "--quiet", "--tls-verify=false",
                            "-t", f"localhost/app-by-digest-{what}:ci", str(app)], capture_output=True, text=True)
        if what == "wrong":
            report(r.returncode != 0, "an app image copying the gate by a wrong digest fails to build", r.stdout)
            continue
        if not report(r.returncode == 0, f"an app image builds with COPY --from={reg}/schema-gate:{version}@sha256:…", r.stderr):
            continue
        oci = work / "app-by-digest-oci"
        sh(["skopeo", "copy", "--quiet", f"containers-storage:localhost/app-by-digest-{what}:ci", f"oci:{oci}:x"])
        sh(["umoci", "unpack", "--image", f"{oci}:x", str(work / "app-by-digest-bundle")])
        copied = (work / "app-by-digest-bundle/rootfs/usr/local/bin/schema-gate").read_bytes()
        report(copied == STATIC.read_bytes(), "it carries exactly the published amd64 binary")
        subprocess.run(["podman", "rmi", "-f", f"localhost/app-by-digest-{what}:ci"], capture_output=True)
    # The gate image the builds pulled from the registry.
    subprocess.run(["podman", "rmi", "-f", f"{reg}/schema-gate@{digest}"], capture_output=True)


def signatures(cosign, keys, repo, digest, platforms):
    flags = ["--insecure-ignore-tlog=true", "--offline=true", "--allow-http-registry", "--allow-insecure-registry"]
    run = lambda *args: subprocess.run([cosign, *args], capture_output=True, text=True,  # noqa: E731
                                       env={**os.environ, **LOOPBACK_ONLY})
    pub = str(keys / "signer/cosign.pub")
    for what, ref in [("the list", f"{repo}@{digest}")] + [(f"linux/{a}", f"{repo}@{d}") for (_, a), d in sorted(platforms.items())]:
        r = run("verify", "--key", pub, *flags, ref)
        report(r.returncode == 0, f"cosign verify: {what} is signed by the release key", r.stderr)
    r = run("verify", "--key", str(keys / "other/cosign.pub"), *flags, f"{repo}@{digest}")
    report(r.returncode != 0, "cosign verify refuses another key", r.stderr)
    for (_, arch), one in sorted(platforms.items()):
        r = run("verify-attestation", "--type", "cyclonedx", "--key", pub, *flags, f"{repo}@{one}")
        if not report(r.returncode == 0, f"cosign verify-attestation: linux/{arch} carries a signed CycloneDX SBOM", r.stderr):
            continue
        statement = json.loads(base64.b64decode(json.loads(r.stdout.splitlines()[0])["payload"]))
        names = {c.get("name") for c in statement["predicate"].get("components", [])}
        want = {"tokio", "tokio-postgres", "hyper"}
        report(want <= names and "windows-sys" not in names,
               f"linux/{arch}: the SBOM lists the binary's crates ({len(names)}, among them {', '.join(sorted(want))}; "
               "none for other targets)", ", ".join(sorted(n for n in names if n)))


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
