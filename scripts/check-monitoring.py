#!/usr/bin/env python3
"""The monitoring kit, checked against real components.

1. The alert rules: `promtool check rules` and `promtool test rules` (the unit tests next to the
   rules), and the PrometheusRule / VMRule in step with their one source.
2. A real scrape: a few `schema-gate serve` processes against a real PostgreSQL, scraped every
   second by Debian's `prometheus` (static targets labelled as the PodMonitor would label them:
   namespace, pod, app_kubernetes_io_name). Through Prometheus's query API: every metric the
   alerts and the dashboard use exists with those labels; `schema_gate_ready` is 0, then 1 once
   the row lands, then 0 after a rollback; the expectation and build info carry their labels.
3. Every `schema_gate_*` name written anywhere in the repository is one the gate exports.

With --png PATH it plays a longer scenario (a rollout, a rollback, a revoked grant) and draws
the dashboard's panels from Prometheus's answers with matplotlib: the picture in the README.

Prints one line per check and closes with "N passed, M failed"."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from checklib import eventually, get, report, summary  # noqa: E402
from bench import Postgres, free_port  # noqa: E402

MONITORING = ROOT / "k8s/components/monitoring"
RULES = MONITORING / "rules"
DASHBOARD = MONITORING / "dashboard.json"


def binary():
    if os.environ.get("SCHEMA_GATE_BIN"):
        return os.environ["SCHEMA_GATE_BIN"]
    subprocess.run(["cargo", "build", "--quiet", "--locked"], cwd=ROOT, check=True)
    return str(ROOT / "target/debug/schema-gate")
class Prometheus:
    def __init__(self, work, targets):
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES / "schema-gate.rules.yml")],
            "scrape_configs": [{"job_name": "schema-gate", "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": labels} for port, labels in targets]}],
        }
        (work / "prometheus.yml").write_text(json.dumps(config))
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(work / "prometheus.log", "w"))

    def ready(self):
        return get(f"http://127.0.0.1:{self.port}/-/ready")[0] == 200

    def query(self, expr, at=None):
        params = {"query": expr}
        if at:
            params["time"] = str(at)
        status, body = get(f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params))
        return json.loads(body)["data"]["result"] if status == 200 else []

    def query_range(self, expr, start, end, step):
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        status, body = get(f"http://127.0.0.1:{self.port}/api/v1/query_range?" + urllib.parse.urlencode(params))
        return json.loads(body)["data"]["result"] if status == 200 else []

    def value(self, expr):
        result = self.query(expr)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def rule_checks():
    r = subprocess.run(["promtool", "check", "rules", "schema-gate.rules.yml"], cwd=RULES, capture_output=True, text=True)
    report(r.returncode == 0, "promtool check rules", r.stdout + r.stderr)
    r = subprocess.run(["promtool", "test", "rules", "schema-gate.test.yml"], cwd=RULES, capture_output=True, text=True)
    report(r.returncode == 0, "promtool test rules (every alert: series that fire it, series that must not)", r.stdout + r.stderr)
    r = subprocess.run([sys.executable, str(ROOT / "scripts/render-rules.py"), "--check"], capture_output=True, text=True)
    report(r.returncode == 0, "PrometheusRule and VMRule match the rules' source", r.stdout + r.stderr)


def metric_names_used():
    """Every schema_gate_* name in the repository's text (docs, rules, dashboard, scripts)."""
    names = set()
    for path in ROOT.rglob("*"):
        if any(part in (".git", "target") or part.startswith(".render") for part in path.parts) or not path.is_file():
            continue
        if path.suffix not in (".md", ".yml", ".yaml", ".json", ".rs", ".py", ".sh", ""):
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        names.update(re.findall(r"\bschema_gate_[a-z_]*[a-z]", text))
    return names


def exported_names(exposition):
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            names.update({"counter": [name + "_total", name + "_created"],
                          "histogram": [name + "_bucket", name + "_sum", name + "_count", name + "_created"],
                          "info": [name + "_info"]}.get(kind, []))
    return names


def start_gates(gate, pg, work, specs):
    procs, targets = [], []
    for pod, app, extra in specs:
        port = free_port()
        env = {"PATH": os.environ["PATH"], "DATABASE_URL": pg.url(), "GATE_LISTEN": f"127.0.0.1:{port}",
               "GATE_INTERVAL": "500ms", "GATE_RECHECK_INTERVAL": "1s", "GATE_LOG": "warn", **extra}
        procs.append(subprocess.Popen([gate, "serve"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(work / f"{pod}.log", "w")))
        targets.append((port, {"namespace": "honeydue", "pod": pod, "app_kubernetes_io_name": app}))
    return procs, targets


def scrape_checks(gate, work, png=None):
    pg = Postgres(work)
    pg.goose_table("goose_db_version", 1)
    migrations = str(ROOT / "examples/migrations")
    specs = [("api-7c9f-x2k4q", "api", {"GATE_MIGRATIONS_DIR": migrations}),
             ("api-7c9f-m8r2z", "api", {"GATE_MIGRATIONS_DIR": migrations}),
             ("worker-5d8b-q9w1c", "worker", {"GATE_MIGRATIONS_DIR": migrations}),
             ("worker-5d8b-h3k7p", "worker", {"GATE_EXPECT_VERSION": "1"})]
    procs, targets = start_gates(gate, pg, work, specs)
    prom = Prometheus(work, targets)
    started = time.time()
    try:
        if not report(eventually(prom.ready), "prometheus is up"):
            return
        pod = 'pod="api-7c9f-x2k4q"'
        up = eventually(lambda: prom.value("sum(up{job='schema-gate'})") == len(specs) or None)
        report(up, f"all {len(specs)} gates scraped")
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 0.0 or None),
               "schema_gate_ready is 0 while version 2 is missing")
        if png:
            time.sleep(40)
        pg.sql("app", "INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, true)")
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 1.0 or None),
               "schema_gate_ready turns 1 once the row lands (scraped by Prometheus)")
        used = sorted(n for n in metric_names_used() if n.startswith("schema_gate_"))
        exposition = get(f"http://127.0.0.1:{targets[0][0]}/metrics")[1]
        exported = exported_names(exposition)
        missing = [n for n in used if n not in exported]
        report(not missing, f"every schema_gate_* name in the repository ({len(used)}) is exported", ", ".join(missing))
        dashboard = DASHBOARD.read_text() + (RULES / "schema-gate.rules.yml").read_text()
        for name in sorted(set(re.findall(r"\bschema_gate_[a-z_]*[a-z]", dashboard))):
            series = prom.query(f'{{__name__="{name}", namespace="honeydue", pod!="", app_kubernetes_io_name!=""}}')
            report(series, f"Prometheus holds {name} with namespace, pod and app_kubernetes_io_name")
        info = prom.query(f'schema_gate_expectation_info{{{pod}, expected="2", policy="at-least", table="goose_db_version"}}')
        report(info, "schema_gate_expectation_info names what the pod waits for")
        report(prom.query('schema_gate_build_info{version!=""}'), "schema_gate_build_info carries the version")
        report(prom.value(f"schema_gate_recheck_interval_seconds{{{pod}}}") == 1.0, "schema_gate_recheck_interval_seconds")
        if png:
            time.sleep(40)
            pg.sql("app", "REVOKE SELECT ON goose_db_version FROM gate")
            time.sleep(30)
            pg.sql("app", "GRANT SELECT ON goose_db_version TO gate")
            time.sleep(20)
        pg.sql("app", "DELETE FROM goose_db_version WHERE version_id = 2")
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 0.0 or None),
               "schema_gate_ready falls to 0 after a rollback")
        report(prom.value('schema_gate_ready{pod="worker-5d8b-h3k7p"}') == 1.0,
               "a pod expecting the older version stays ready (at-least)")
        disagree = 'count by (namespace, app_kubernetes_io_name) (count_values by (namespace, app_kubernetes_io_name) ("ready", schema_gate_ready)) > 1'
        report(eventually(lambda: any(s["metric"].get("app_kubernetes_io_name") == "worker" for s in prom.query(disagree)) or None),
               "the fleet-disagreement expression sees worker pods that differ")
        if png:
            time.sleep(30)
            pg.sql("app", "INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, true)")
            time.sleep(30)
            draw(prom, started, time.time(), png)
    finally:
        prom.stop()
        for p in procs:
            p.terminate()
            p.wait()
        pg.proc.terminate()
        pg.proc.wait()


def draw(prom, start, end, path):
    """The dashboard's panels, drawn from Prometheus's answers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = json.loads(DASHBOARD.read_text())["panels"]
    series_panels = [p for p in panels if p["type"] == "timeseries"]
    fig, axes = plt.subplots(3, 2, figsize=(14, 10))
    step = max(1, int((end - start) / 200))
    for ax, panel in zip(axes.flat, series_panels):
        for target in panel["targets"]:
            expr = target["expr"].replace("$namespace", ".*").replace("$__rate_interval", "15s")
            for s in prom.query_range(expr, start, end, step):
                xs, ys = [], []
                for t, v in s["values"]:
                    if xs and float(t) - start - xs[-1] > 1.5 * step:
                        xs.append(xs[-1] + step)  # a gap: the series was absent, break the line
                        ys.append(float("nan"))
                    xs.append(float(t) - start)
                    ys.append(float(v))
                label = re.sub(r"\{\{(\w+)\}\}", lambda m: s["metric"].get(m.group(1), ""), target.get("legendFormat", ""))
                ax.plot(xs, ys, label=label or expr[:30], drawstyle="steps-post")
        ax.set_title(panel["title"])
        ax.set_xlabel("seconds into the run")
        if panel["fieldConfig"]["defaults"].get("unit") == "s":
            ax.set_ylabel("seconds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("schema-gate dashboard: 4 gates (static release build) against a real PostgreSQL, scraped by Prometheus\n"
                 "(version 2 lands at ~40 s, the gate's grant is revoked for 30 s, version 2 is rolled back, then re-applied)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--png", help="play a longer scenario and draw the dashboard to this PNG")
    args = ap.parse_args()
    for tool in ("promtool", "prometheus"):
        if not shutil.which(tool):
            sys.exit(f"check-monitoring: {tool} missing: apt-get install prometheus")
    rule_checks()
    work = Path(tempfile.mkdtemp(prefix="schema-gate-monitoring-"))
    os.chmod(work, 0o755)
    try:
        scrape_checks(binary(), work, args.png)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
