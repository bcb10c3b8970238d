"""Live gates for the monitoring checks (check-monitoring.py, check-victoriametrics.py): the
real schema-gate binary running `serve` against a real PostgreSQL, with the version table
written by the real goose CLI (checklib.goose: scripts/peers/goose.sh's pinned build) from a
small migrations directory, and the shipped plain scrape configuration
(k8s/components/monitoring/vmagent/scrape-configs.yml) pointed at them.

Discovery is the one stand-in: there is no cluster here, so the shipped job's
`kubernetes_sd_configs` is swapped for a `file_sd_configs` file listing each gate on loopback
with the `__meta_kubernetes_*` labels that Kubernetes pod discovery gives a native sidecar's
`gate` port, plus decoys it must drop (the app's own port, a pod without the gated label, a
finished pod). The shipped relabeling then runs unchanged in the real scraper."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
from bench import PASSWORD, free_port  # noqa: E402
import checklib  # noqa: E402

SCRAPE_CONFIGS = ROOT / "k8s/components/monitoring/vmagent/scrape-configs.yml"
OLD, NEW = 20240301120000, 20240305090000
MIGRATIONS = {
    f"{OLD}_create_items.sql": "-- +goose Up\nCREATE TABLE items (id integer PRIMARY KEY);\n"
                               "-- +goose Down\nDROP TABLE items;\n",
    f"{NEW}_add_items_name.sql": "-- +goose Up\nALTER TABLE items ADD COLUMN name text;\n"
                                 "-- +goose Down\nALTER TABLE items DROP COLUMN name;\n",
}


def gate_binary():
    """SCHEMA_GATE_BIN, else the debug build of this tree."""
    if os.environ.get("SCHEMA_GATE_BIN"):
        return os.environ["SCHEMA_GATE_BIN"]
    subprocess.run(["cargo", "build", "--quiet", "--locked"], cwd=ROOT, check=True)
    return str(ROOT / "target/debug/schema-gate")


def migrations_dir(work):
    """Two goose migrations with production-like timestamp versions (OLD, NEW)."""
    path = Path(work) / "migrations"
    path.mkdir(exist_ok=True)
    for name, text in MIGRATIONS.items():
        (path / name).write_text(text)
    os.chmod(path, 0o755)
    return path


class Database:
    """One database of `pg` (bench.Postgres), migrated by goose as the superuser over the unix
    socket; the gate's role may only SELECT the version table."""

    def __init__(self, pg, name, migrations):
        self.pg, self.name, self.migrations = pg, name, migrations
        if name != "app":
            pg.sql("postgres", f"CREATE DATABASE {name}")

    def goose(self, *args):
        checklib.goose(self.pg, self.migrations, *args, db=self.name)
        self.pg.sql(self.name, "GRANT SELECT ON goose_db_version TO gate")

    def url(self, port=None):
        return f"postgres://gate:{PASSWORD}@127.0.0.1:{port or self.pg.port}/{self.name}"


class Gate:
    """One `schema-gate serve` on a free loopback port, as the sidecar of pod `pod` of app `app`."""

    def __init__(self, binary, work, pod, app, url, **env):
        self.binary, self.work, self.pod, self.app, self.url = binary, Path(work), pod, app, url
        self.port = free_port()
        self.env = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "GATE_LISTEN": f"127.0.0.1:{self.port}",
                    "GATE_INTERVAL": "200ms", "GATE_RECHECK_INTERVAL": "1s", "GATE_LOG": "warn",
                    **{k: str(v) for k, v in env.items()}}
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=open(self.work / f"{self.pod}.log", "a"))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def discovered(gates, namespace="honeydue"):
    """What Kubernetes pod discovery would list for these gates' pods: each native sidecar's
    `gate` port, plus the decoys the shipped relabeling must drop."""
    groups = []
    for gate in gates:
        pod = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": gate.pod,
               "__meta_kubernetes_pod_phase": "Running",
               "__meta_kubernetes_pod_label_schema_gate_gated": "true",
               "__meta_kubernetes_pod_labelpresent_schema_gate_gated": "true",
               "__meta_kubernetes_pod_label_app_kubernetes_io_name": gate.app}
        groups.append({"targets": [f"127.0.0.1:{gate.port}"], "labels": {
            **pod, "__meta_kubernetes_pod_container_name": "schema-gate",
            "__meta_kubernetes_pod_container_init": "true",
            "__meta_kubernetes_pod_container_port_name": "gate",
            "__meta_kubernetes_pod_container_port_number": str(gate.port)}})
        # The app container's own port (the prometheus.io/port one): never the gate's job.
        groups.append({"targets": [f"127.0.0.2:{gate.port}"], "labels": {
            **pod, "__meta_kubernetes_pod_container_name": gate.app,
            "__meta_kubernetes_pod_container_init": "false",
            "__meta_kubernetes_pod_container_port_name": "http",
            "__meta_kubernetes_pod_container_port_number": str(gate.port)}})
    if gates:
        some = gates[0]
        # A pod with a port named gate but without the gated label, and a finished pod.
        groups.append({"targets": [f"127.0.0.3:{some.port}"], "labels": {
            "__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": "unrelated-0",
            "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_container_port_name": "gate"}})
        groups.append({"targets": [f"127.0.0.4:{some.port}"], "labels": {
            "__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": "finished-0",
            "__meta_kubernetes_pod_phase": "Succeeded",
            "__meta_kubernetes_pod_label_schema_gate_gated": "true",
            "__meta_kubernetes_pod_container_port_name": "gate"}})
    return groups


def write_targets(path, gates):
    """(Re)writes the discovery file atomically: the scraper re-reads it."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(discovered(gates)))
    tmp.rename(path)


def scrape_config(targets_file, interval="1s"):
    """The shipped `scrape_configs`, discovery swapped for `targets_file`, the interval shortened."""
    shipped = yaml.safe_load(SCRAPE_CONFIGS.read_text())
    jobs = copy.deepcopy(shipped["scrape_configs"])
    for job in jobs:
        assert "kubernetes_sd_configs" in job, f"{job['job_name']}: expected Kubernetes pod discovery"
        del job["kubernetes_sd_configs"]
        job["file_sd_configs"] = [{"files": [str(targets_file)]}]
        job["scrape_interval"] = interval
        job["scrape_timeout"] = interval
    return {"scrape_configs": jobs}
