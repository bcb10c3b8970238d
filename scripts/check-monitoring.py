#!/usr/bin/env python3
"""The monitoring kit, checked against real components.

1. The alert rules: `promtool check rules` and `promtool test rules` (the unit tests next to the
   rules), and the PrometheusRule / VMRule in step with their one source.
2. The kustomize Components (monitoring-victoriametrics, monitoring-prometheus,
   monitoring-dashboard), rendered inside each overlay that runs the sidecar and in a wrapper
   that moves everything to another namespace: every object they add lands in the gated pods'
   namespace (an operator scopes a scrape object without namespaceSelector to its own
   namespace, so one in `default` scrapes nothing); no Component ships both operators' kinds
   (the VictoriaMetrics operator converts PodMonitors and PrometheusRules into VM objects of the
   same names); the VMPodScrape, the PodMonitor and the plain scrape_configs select the same
   port and label and give the same job; the migrate Job the alerts look for is the kit's.
3. A real scrape: `schema-gate serve` processes against a real PostgreSQL whose version table the
   real goose writes, scraped every second by Debian's `prometheus` with the shipped plain
   scrape_configs (discovery replaced by a file of loopback targets: scripts/livegates.py).
   Through Prometheus's query API: every metric the alerts and the dashboard use exists with
   job, namespace, pod and app_kubernetes_io_name; `schema_gate_ready` is 0, then 1 once goose
   applies the newest migration, then 0 after `goose down`; the expectation and build info
   carry their labels.
4. Every `schema_gate_*` name written anywhere in the repository is one the gate exports.

The deployment's own stack (VictoriaMetrics, vmagent, vmalert) is scripts/check-victoriametrics.py;
the operators' CRDs, scripts/check-monitoring-crds.py.

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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
from checklib import eventually, get, report, summary  # noqa: E402
from bench import Postgres, free_port  # noqa: E402
import livegates  # noqa: E402
from livegates import NEW, OLD, Database, Gate  # noqa: E402

COMPONENTS = ROOT / "k8s/components"
RULES = COMPONENTS / "monitoring/rules"
DASHBOARD = COMPONENTS / "monitoring-dashboard/dashboard.json"
SIDECAR_OVERLAYS = ["native-sidecar"]
OPERATOR_GROUPS = ("monitoring.coreos.com", "operator.victoriametrics.com")


class Prometheus:
    def __init__(self, work, targets):
        self.port = free_port()
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(RULES / "schema-gate.rules.yml")],
                  **livegates.scrape_config(targets)}
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
        # The database code names SQL columns with the same prefix (the resolved table's, …),
        # never metrics; writing one of those names here would make this script count it.
        if path.is_relative_to(ROOT / "src/postgres"):
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


def components():
    """Every kustomize Component of the monitoring kit."""
    return sorted(p.parent for p in COMPONENTS.glob("monitoring*/kustomization.yaml")
                  if yaml.safe_load(p.read_text()).get("kind") == "Component")


def render(work, resources, comps, namespace=None):
    """Renders a throwaway kustomization that adds `comps` to `resources`."""
    tmp = Path(tempfile.mkdtemp(prefix="kz-", dir=work))
    rel = lambda p: os.path.relpath(p, tmp)  # noqa: E731 (kustomize takes relative paths only)
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
           "resources": [rel(r) for r in resources], "components": [rel(c) for c in comps]}
    if namespace:
        doc["namespace"] = namespace
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    r = subprocess.run(["kubectl", "kustomize", str(tmp)], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d], ""


def added_by(docs, comp):
    """The rendered objects a Component adds: its resources and generated ConfigMaps."""
    kust = yaml.safe_load((comp / "kustomization.yaml").read_text())
    names = set()
    for res in kust.get("resources", []):
        for d in yaml.safe_load_all((comp / res).read_text()):
            if d:
                names.add((d["kind"], d["metadata"]["name"]))
    for gen in kust.get("configMapGenerator", []):
        names.add(("ConfigMap", gen["name"]))
    return [d for d in docs if (d["kind"], d["metadata"]["name"]) in names]


def component_checks(work):
    comps = components()
    report(comps, f"monitoring Components: {', '.join(c.name for c in comps)}")
    for comp in comps:
        kinds = set()
        for overlay in SIDECAR_OVERLAYS:
            for outer in (None, "staging"):
                docs, err = render(work, [ROOT / "k8s/overlays" / overlay], [comp], outer)
                if not report(docs, f"{comp.name} renders inside overlays/{overlay}" + (f" under namespace {outer}" if outer else ""), err):
                    continue
                pods_ns = {d["metadata"].get("namespace") for d in docs if d["kind"] == "Deployment"}
                mine = added_by(docs, comp)
                where = {(d["kind"], d["metadata"].get("namespace")) for d in mine}
                report(mine and len(pods_ns) == 1 and all(ns in pods_ns for _, ns in where),
                       f"{comp.name} in overlays/{overlay}{' under ' + outer if outer else ''}: every object it adds is in the "
                       f"gated pods' namespace {sorted(pods_ns)}", f"{sorted(where, key=str)}")
                kinds |= {d["apiVersion"].split("/")[0] for d in mine}
        both = [g for g in OPERATOR_GROUPS if g in kinds]
        report(len(both) <= 1, f"{comp.name} ships one operator's kinds only ({', '.join(both) or 'none'})")
    docs, _ = render(work, [ROOT / "k8s/overlays/native-sidecar"],
                     [COMPONENTS / "monitoring-victoriametrics", COMPONENTS / "monitoring-prometheus"])
    scrapes = [d for d in docs or [] if d["kind"] in ("VMPodScrape", "PodMonitor")]
    plain = yaml.safe_load((COMPONENTS / "monitoring/vmagent/scrape-configs.yml").read_text())["scrape_configs"]
    keep = next((r for r in plain[0]["relabel_configs"] if r.get("action") == "keep"), {})
    selects = set()
    for d in scrapes:
        ep = d["spec"]["podMetricsEndpoints"][0]
        relabels = ep.get("relabelConfigs") or ep.get("relabelings") or []
        job = next((r.get("replacement") for r in relabels if r.get("targetLabel") == "job"), None)
        selects.add((json.dumps(d["spec"]["selector"]["matchLabels"]), ep["port"], job, tuple(d["spec"]["podTargetLabels"])))
    plain_select = (json.dumps({"schema-gate/gated": "true"}), "gate", plain[0]["job_name"], ("app.kubernetes.io/name",))
    report(len(scrapes) == 2 and selects == {plain_select}
           and keep.get("source_labels") == ["__meta_kubernetes_pod_label_schema_gate_gated", "__meta_kubernetes_pod_container_port_name"]
           and keep.get("regex") == "true;gate",
           "VMPodScrape, PodMonitor and the plain scrape_configs select port `gate` of pods labelled schema-gate/gated=true, "
           "as job schema-gate", f"{selects} / {plain_select} / {keep}")
    base = [d for d in yaml.safe_load_all(subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s/base")],
                                                         capture_output=True, text=True).stdout) if d]
    jobs = {d["metadata"]["name"] for d in base if d["kind"] == "Job"}
    named = set(re.findall(r'job_name="([^"]+)"', (RULES / "schema-gate.rules.yml").read_text()))
    report(named and named <= jobs, f"the alerts' migrate Job ({', '.join(sorted(named))}) is the kit's ({', '.join(sorted(jobs))})")


def scrape_checks(gate, work, png=None):
    pg = Postgres(work)
    migrations = livegates.migrations_dir(work)
    db = Database(pg, "app", migrations)
    db.goose("up-to", str(OLD))
    mig = {"GATE_MIGRATIONS_DIR": str(migrations)}
    gates = [Gate(gate, work, "api-7c9f-x2k4q", "api", db.url(), **mig),
             Gate(gate, work, "api-7c9f-m8r2z", "api", db.url(), **mig),
             Gate(gate, work, "worker-5d8b-q9w1c", "worker", db.url(), **mig),
             Gate(gate, work, "worker-5d8b-h3k7p", "worker", db.url(), GATE_EXPECT_VERSION=OLD)]
    targets = work / "targets.json"
    livegates.write_targets(targets, gates)
    prom = Prometheus(work, targets)
    started = time.time()
    try:
        if not report(eventually(prom.ready), "prometheus is up"):
            return
        pod = 'pod="api-7c9f-x2k4q"'
        up = eventually(lambda: prom.value("count(up{job='schema-gate'} == 1)") == len(gates) or None)
        report(up and prom.value("count(up)") == len(gates),
               f"the shipped scrape_configs keep the {len(gates)} gates' `gate` ports and drop the decoys",
               json.dumps(prom.query("up")))
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 0.0 or None),
               f"schema_gate_ready is 0 while {NEW} is not applied")
        if png:
            time.sleep(40)
        db.goose("up")
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 1.0 or None),
               "schema_gate_ready turns 1 once goose applies it (scraped by Prometheus)")
        used = sorted(n for n in metric_names_used() if n.startswith("schema_gate_"))
        exposition = get(f"http://127.0.0.1:{gates[0].port}/metrics")[1]
        exported = exported_names(exposition)
        missing = [n for n in used if n not in exported]
        report(not missing, f"every schema_gate_* name in the repository ({len(used)}) is exported", ", ".join(missing))
        dashboard = DASHBOARD.read_text() + (RULES / "schema-gate.rules.yml").read_text()
        for name in sorted(set(re.findall(r"\bschema_gate_[a-z_]*[a-z]", dashboard))):
            series = prom.query(f'{{__name__="{name}", job="schema-gate", namespace="honeydue", pod!="", app_kubernetes_io_name!=""}}')
            report(series, f"Prometheus holds {name} with job, namespace, pod and app_kubernetes_io_name")
        info = prom.query(f'schema_gate_expectation_info{{{pod}, expected="{NEW}", policy="at-least", table="goose_db_version"}}')
        report(info, "schema_gate_expectation_info names what the pod waits for")
        report(prom.query('schema_gate_build_info{version!=""}'), "schema_gate_build_info carries the version")
        report(prom.value(f"schema_gate_recheck_interval_seconds{{{pod}}}") == 1.0, "schema_gate_recheck_interval_seconds")
        if png:
            time.sleep(40)
            pg.sql("app", "REVOKE SELECT ON goose_db_version FROM gate")
            time.sleep(30)
            pg.sql("app", "GRANT SELECT ON goose_db_version TO gate")
            time.sleep(20)
        db.goose("down")
        report(eventually(lambda: prom.value(f"schema_gate_ready{{{pod}}}") == 0.0 or None),
               "schema_gate_ready falls to 0 after goose down")
        # Never 0 during the whole run, even in a scrape that landed mid-rollback.
        report(eventually(lambda: prom.value('min_over_time(schema_gate_ready{pod="worker-5d8b-h3k7p"}[10m])') == 1.0 or None),
               "a pod expecting the older version stays ready throughout (at-least)",
               json.dumps(prom.query('schema_gate_ready{pod="worker-5d8b-h3k7p"}[10m]')))
        if png:
            time.sleep(30)
            db.goose("up")
            time.sleep(30)
            draw(prom, started, time.time(), png)
    finally:
        prom.stop()
        for g in gates:
            g.stop()
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
                 f"(goose applies {NEW} at ~40 s, the gate's grant is revoked for 30 s, goose down rolls it back, then up again)",
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
        component_checks(work)
        scrape_checks(livegates.gate_binary(), work, args.png)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
