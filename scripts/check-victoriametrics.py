#!/usr/bin/env python3
"""The deployment's own monitoring stack against live gates: VictoriaMetrics single-node,
vmagent and vmalert (built from the Go module proxy by scripts/peers/victoriametrics.sh).

1. The shipped files as the real programs read them: `vmalert -dryRun` parses the rule file
   (MetricsQL, templates) and `vmagent -dryRun` the plain scrape configuration.
2. Live: schema-gate `serve` processes against a real PostgreSQL whose version tables the real
   goose writes (up, down); vmagent scrapes them with the shipped plain `scrape_configs` (pod
   discovery replaced by a file listing the gates on loopback with the labels Kubernetes would
   give them, decoys included: see scripts/livegates.py) and writes to VictoriaMetrics; vmalert
   evaluates the shipped rules against it on a faster clock (the only change: each `for:` from
   minutes to seconds, each range to 4 s a minute), every state read from vmalert's
   /api/v1/alerts.
   Each alert that needs no kube-state-metrics fires for its cause and no other alert with it,
   then resolves: a rolled-back schema (SchemaGateHeldBack, critical, versions printed whole),
   a killed gate (SchemaGateDown), a revoked grant (SchemaGateChecksFailing), checks that hang
   (SchemaGateNoRecentSuccess), a database ahead under exact (SchemaGateDatabaseAhead), pods of
   one release on different databases (SchemaGateFleetDisagrees). The alerts that read
   kube-state-metrics (the warning HeldBack while a migrate Job runs, the classic init
   container, SchemaGateAbsent) are covered by promtool's unit tests only.

Prints one line per check and closes with "N passed, M failed"."""
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
import checklib  # noqa: E402
from checklib import eventually, get, report, summary  # noqa: E402
from bench import Postgres, free_port  # noqa: E402
import livegates  # noqa: E402
from livegates import NEW, OLD, Database, Gate  # noqa: E402

RULES = ROOT / "k8s/components/monitoring/rules/schema-gate.rules.yml"
# Alerts are waited for up to this long: the longest `for:` is 15 s and the longest range 40 s
# once scaled, on a busy host.
ALERT_DEADLINE = 180


def peer():
    return dict(zip(("victoria-metrics", "vmagent", "vmalert"), checklib.peer("victoriametrics")))


def scaled_rules(dest):
    """The shipped rules on a faster clock: every `for:` in minutes turned into as many seconds,
    every range into 4 s a minute ([5m] → [20s]), so that a window still spans several re-checks
    (every 4 s here, every 30 s by default) and scrapes (2 s here, 30 s by default)."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = re.sub(r"^(\d+)m$", r"\1s", rule["for"])
            rule["expr"] = re.sub(r"\[(\d+)m\]", lambda m: f"[{4 * int(m.group(1))}s]", rule["expr"])
    dest.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return dest


class Service:
    def __init__(self, work, name, cmd):
        self.name = name
        self.log = work / f"{name}.log"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self):
        return self.log.read_text(errors="replace")[-2000:]


class Stack:
    """VictoriaMetrics, vmagent scraping `targets`, vmalert evaluating `rules`: all on loopback."""

    def __init__(self, bins, work, targets, rules):
        self.vm, self.agent, self.alert = free_port(), free_port(), free_port()
        config = work / "scrape.yml"
        # Every 2 s, so that a scrape slowed by a busy host does not time out (and mark series
        # stale) as easily as with 1 s.
        config.write_text(yaml.safe_dump(livegates.scrape_config(targets, interval="2s")))
        vm = f"http://127.0.0.1:{self.vm}"
        self.services = [
            Service(work, "victoria-metrics", [
                bins["victoria-metrics"], f"-httpListenAddr=127.0.0.1:{self.vm}",
                f"-storageDataPath={work / 'vm-data'}", "-retentionPeriod=1d", "-loggerLevel=WARN",
                # Answer with what was just written: no 30 s visibility delay, no result cache.
                "-search.latencyOffset=1s", "-search.disableCache"]),
            Service(work, "vmagent", [
                bins["vmagent"], f"-httpListenAddr=127.0.0.1:{self.agent}", f"-promscrape.config={config}",
                "-promscrape.fileSDCheckInterval=1s", f"-remoteWrite.url={vm}/api/v1/write",
                f"-remoteWrite.tmpDataPath={work / 'vmagent-data'}", "-remoteWrite.flushInterval=500ms",
                "-loggerLevel=WARN"]),
            Service(work, "vmalert", [
                bins["vmalert"], f"-httpListenAddr=127.0.0.1:{self.alert}", f"-rule={rules}",
                f"-datasource.url={vm}", f"-remoteWrite.url={vm}", f"-remoteRead.url={vm}",
                "-notifier.blackhole", "-evaluationInterval=1s", "-rule.evalDelay=1s", "-loggerLevel=WARN"]),
        ]

    def ready(self):
        return all(get(f"http://127.0.0.1:{port}/health")[0] == 200 for port in (self.vm, self.agent, self.alert))

    def query(self, expr):
        status, body = get(f"http://127.0.0.1:{self.vm}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        return json.loads(body)["data"]["result"] if status == 200 else []

    def targets(self):
        status, body = get(f"http://127.0.0.1:{self.agent}/api/v1/targets")
        return json.loads(body)["data"]["activeTargets"] if status == 200 else []

    def alerts(self, state="firing"):
        status, body = get(f"http://127.0.0.1:{self.alert}/api/v1/alerts")
        if status != 200:
            return []
        return [a for a in json.loads(body)["data"]["alerts"] if state is None or a["state"] == state]

    def stop(self):
        for s in reversed(self.services):
            s.stop()


class Proxy:
    """A TCP forwarder on loopback in front of PostgreSQL that can turn into a black hole
    (accepts, never answers, never closes): the gate's checks then hang."""

    def __init__(self, upstream):
        self.upstream, self.hole, self.held = upstream, False, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.hole:
                self.held.append(client)
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self.hole = False
        for s in self.held:
            s.close()
        self.held = []

    def close(self):
        self.sock.close()
        self.restore()


def key(alert):
    return (alert["labels"].get("alertname"), alert["labels"].get("pod") or alert["labels"].get("app_kubernetes_io_name"))


def firing(stack):
    return {key(a): a for a in stack.alerts()}


def wait_firing(stack, expected):
    """Waits until every (alertname, pod-or-app) in `expected` fires; returns the firing set."""
    return eventually(lambda: (lambda now: now if expected <= set(now) else None)(firing(stack)), ALERT_DEADLINE)


def dry_runs(bins):
    r = subprocess.run([bins["vmalert"], "-dryRun", f"-rule={RULES}", "-loggerLevel=ERROR"], capture_output=True, text=True)
    report(r.returncode == 0, "vmalert -dryRun reads the shipped rules (MetricsQL, templates)", r.stdout + r.stderr)
    r = subprocess.run([bins["vmagent"], "-dryRun", f"-promscrape.config={livegates.SCRAPE_CONFIGS}", "-loggerLevel=ERROR"],
                       capture_output=True, text=True)
    report(r.returncode == 0, "vmagent -dryRun reads the shipped scrape_configs", r.stdout + r.stderr)


def live(bins, work):
    gate_bin = livegates.gate_binary()
    migrations = livegates.migrations_dir(work)
    pg = Postgres(work)
    dbs = {name: Database(pg, name, migrations) for name in ("rollback", "killed", "grants", "hang", "ahead", "fleet1", "fleet2")}
    for name, db in dbs.items():
        db.goose("up-to", str(OLD)) if name == "fleet2" else db.goose("up")
    proxy = Proxy(pg.port)
    # Re-checks every 4 s: SchemaGateNoRecentSuccess's "three re-check intervals" must stay clear
    # of a debug build's check time plus the scrape (every 2 s) and write delays on a busy host.
    mig = {"GATE_MIGRATIONS_DIR": str(migrations), "GATE_RECHECK_INTERVAL": "4s"}
    g = {
        "api-r1": Gate(gate_bin, work, "api-7c9f-r1", "api", dbs["rollback"].url(), **mig),
        "api-r2": Gate(gate_bin, work, "api-7c9f-r2", "api", dbs["rollback"].url(), **mig),
        "worker-old": Gate(gate_bin, work, "worker-5d8b-old", "worker", dbs["rollback"].url(), GATE_EXPECT_VERSION=OLD,
                             GATE_RECHECK_INTERVAL="4s"),
        "killed": Gate(gate_bin, work, "billing-6f2a-k1", "billing", dbs["killed"].url(), **mig),
        "grants": Gate(gate_bin, work, "mailer-4c1d-g1", "mailer", dbs["grants"].url(), **mig),
        "hang": Gate(gate_bin, work, "search-9e3b-h1", "search", dbs["hang"].url(proxy.port),
                     GATE_CONNECT_TIMEOUT="1h", GATE_QUERY_TIMEOUT="1h", **mig),
        "ahead": Gate(gate_bin, work, "reports-2b7c-x1", "reports", dbs["ahead"].url(), GATE_POLICY="exact",
                      GATE_EXPECT_VERSION=OLD, GATE_RECHECK_INTERVAL="4s"),
        "shop-1": Gate(gate_bin, work, "shop-8a1e-f1", "shop", dbs["fleet1"].url(), **mig),
        "shop-2": Gate(gate_bin, work, "shop-8a1e-f2", "shop", dbs["fleet2"].url(), **mig),
    }
    pods = {name: gate.pod for name, gate in g.items()}
    targets = work / "targets.json"
    livegates.write_targets(targets, list(g.values()))
    stack = Stack(bins, work, targets, scaled_rules(work / "rules.yml"))
    try:
        if not report(eventually(stack.ready), "VictoriaMetrics, vmagent and vmalert are up on loopback",
                      "".join(s.tail() for s in stack.services)):
            return
        live_checks(stack, g, pods, dbs, proxy)
    finally:
        stack.stop()
        for gate in g.values():
            gate.stop()
        proxy.close()
        pg.proc.terminate()
        pg.proc.wait()


def live_checks(stack, g, pods, dbs, proxy):
    gate_ports = {f"127.0.0.1:{gate.port}" for gate in g.values()}
    scraped = eventually(lambda: (lambda t: t if {x["labels"]["instance"] for x in t} == gate_ports
                                  and all(x["health"] == "up" for x in t) else None)(stack.targets()))
    report(scraped, f"vmagent keeps exactly the {len(g)} gates' `gate` ports (decoys dropped), all up",
           json.dumps([(x["labels"], x["health"]) for x in stack.targets()]))
    if scraped:
        labels = {x["labels"]["pod"]: x["labels"] for x in scraped}
        one = labels.get(pods["api-r1"], {})
        report(one.get("job") == "schema-gate" and one.get("namespace") == "honeydue" and one.get("app_kubernetes_io_name") == "api"
               and one.get("container") == "schema-gate", "targets carry job, namespace, pod, container, app_kubernetes_io_name",
               json.dumps(one))
    series = eventually(lambda: (stack.query('count(schema_gate_expectation_info{job="schema-gate"})') and
                                 stack.query(f'schema_gate_ready{{pod="{pods["api-r1"]}"}} == 1')) or None)
    report(series, "VictoriaMetrics holds the gates' series (written by vmagent)")

    # 1. From the start: one pod of release "shop" reads a database without the newest
    # migration while its peer is ready (FleetDisagrees, and not HeldBack: the schema is there
    # for its peer); under exact, a database ahead (DatabaseAhead, and not HeldBack).
    base = {("SchemaGateFleetDisagrees", "shop"), ("SchemaGateDatabaseAhead", pods["ahead"])}
    now = wait_firing(stack, base)
    report(now, "at start: SchemaGateFleetDisagrees (shop, one release on two databases) and SchemaGateDatabaseAhead fire",
           json.dumps(sorted(firing(stack))))
    if not now:
        return
    report(set(now) == base, "at start: nothing else fires (HeldBack is silent for the ahead pod and the one behind its peer)",
           json.dumps(sorted(now)))

    # 2. Causes, all at once, on separate databases.
    caused = time.monotonic()
    dbs["rollback"].goose("down")
    g["killed"].kill()
    dbs["grants"].pg.sql("grants", "REVOKE SELECT ON goose_db_version FROM gate")
    proxy.hole = True
    dbs["ahead"].goose("down")
    dbs["fleet2"].goose("up")  # the release agrees again
    expected = {("SchemaGateHeldBack", pods["api-r1"]), ("SchemaGateHeldBack", pods["api-r2"]),
                ("SchemaGateDown", pods["killed"]), ("SchemaGateChecksFailing", pods["grants"]),
                ("SchemaGateNoRecentSuccess", pods["hang"])}
    now = wait_firing(stack, expected)
    report(now, "each cause fires its alert: rollback → HeldBack (both pods), killed gate → Down, "
                "revoked grant → ChecksFailing, hung checks → NoRecentSuccess", json.dumps(sorted(firing(stack))))
    if not now:
        return
    held = now[("SchemaGateHeldBack", pods["api-r1"])]
    report(held["labels"].get("severity") == "critical", "HeldBack is critical with no migrate Job running", json.dumps(held["labels"]))
    text = held["annotations"].get("description", "")
    report(f"expects schema version {NEW} and the database has version {OLD}." in text,
           "HeldBack's description prints both versions whole (printf %.0f), read by vmalert's query", text)
    rejected = now[("SchemaGateChecksFailing", pods["grants"])]["labels"].get("result")
    report(rejected == "rejected", f"ChecksFailing names the result: {rejected}")
    resolved = eventually(lambda: not ({("SchemaGateFleetDisagrees", "shop"), ("SchemaGateDatabaseAhead", pods["ahead"])}
                                       & set(firing(stack))), ALERT_DEADLINE)
    report(resolved, "FleetDisagrees resolves once the release's databases agree; DatabaseAhead once goose down undoes the newer row")
    # That nothing else fires is a NOT: give every other alert, from the causes on, a scaled
    # 5-minute window (20 s), its `for:` (10 s) and the scrape delays.
    time.sleep(max(0.0, caused + 40 - time.monotonic()))
    extra = set(firing(stack)) - expected
    report(not extra, "one cause, one alert: no HeldBack for the killed gate, the revoked grant (fail-static) or the pod "
                      "expecting the older version; no NoRecentSuccess for the revoked grant; no ChecksFailing for the hang",
           json.dumps(sorted(extra)))

    # 3. Everything repaired: every alert resolves.
    dbs["rollback"].goose("up")
    g["killed"].start()
    dbs["grants"].pg.sql("grants", "GRANT SELECT ON goose_db_version TO gate")
    proxy.restore()
    quiet = eventually(lambda: not stack.alerts(state=None), ALERT_DEADLINE)
    report(quiet, "once repaired (goose up, gate restarted, grant restored, connections answered) every alert resolves",
           json.dumps(sorted(key(a) + (a["state"],) for a in stack.alerts(state=None))))


def main():
    bins = peer()
    dry_runs(bins)
    work = Path(tempfile.mkdtemp(prefix="schema-gate-vm-"))
    work.chmod(0o755)
    try:
        live(bins, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
