#!/usr/bin/env python3
"""schema-gate's benchmarks, side by side with what a user would otherwise run, on this machine.

    python3 bench/bench.py            # the full suite; writes BENCHMARKS.md
    python3 bench/bench.py --quick    # CI: a short run of the comparisons, relative checks only

Everything runs on loopback against servers this script starts and stops itself: a private
PostgreSQL cluster (and one with max_connections = 25 for the fleet), PgBouncer in transaction
mode, nginx with one worker. The gate measured is the shipped build: the static musl release
binary. Only ratios against an alternative measured in the same run are ever asserted (in
--quick); absolute numbers are reported, never enforced.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / "target/x86_64-unknown-linux-musl/release/schema-gate"
PASSWORD = "bench-password"
CHECK_SQL = ("BEGIN READ ONLY; SET LOCAL statement_timeout = '60000ms'; SET LOCAL lock_timeout = '60000ms'; "
             "SELECT version_id, id, is_applied FROM {table} ORDER BY version_id, id DESC; COMMIT")
# What goose itself runs to read its table (one row per migration), for reference.
GOOSE_SQL = "SELECT version_id, is_applied FROM {table} ORDER BY id DESC"
IS_ROOT = os.geteuid() == 0


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_ports(count, start=20000):
    """Free ports below the ephemeral range, so that the fleet's own outgoing connections (which
    take ephemeral ports) cannot grab a port between choosing it and the gate binding it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports, port = [], start
    while len(ports) < count and port < low:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                ports.append(port)
            except OSError:
                pass
        port += 1
    return ports


def pg_bin(name):
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return str(versions[-1].parent / name)


def as_postgres(cmd):
    if IS_ROOT:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig=KILL", "--"] + cmd
    return cmd


def ensure_tools():
    need = []
    for tool, pkg in (("hyperfine", "hyperfine"), ("wrk", "wrk"), ("nginx", "nginx"), ("pgbouncer", "pgbouncer"),
                      ("musl-gcc", "musl-tools"), ("time", "time")):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            need.append(pkg)
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        need.append("postgresql")
    if need:
        if not IS_ROOT:
            sys.exit(f"bench: missing {' '.join(need)}: sudo apt-get install {' '.join(need)}")
        print(f"bench: installing {' '.join(need)}", flush=True)
        sh(["apt-get", "update", "-qq"])
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need,
           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if "x86_64-unknown-linux-musl" not in sh(["rustup", "target", "list", "--installed"]):
        sh(["rustup", "target", "add", "x86_64-unknown-linux-musl"])
    print("bench: building the static release binary", flush=True)
    subprocess.run(["cargo", "build", "--quiet", "--locked", "--release", "--target", "x86_64-unknown-linux-musl"],
                   cwd=ROOT, check=True, env={**os.environ, "CC_x86_64_unknown_linux_musl": "musl-gcc"})


class Postgres:
    def __init__(self, work, max_connections=100, extra=()):
        self.dir = Path(tempfile.mkdtemp(prefix="pg-", dir=work))
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        data = self.dir / "data"
        sh(as_postgres([pg_bin("initdb"), "-A", "trust", "-U", "postgres", "--no-sync", "-D", str(data)]))
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        self.proc = subprocess.Popen(as_postgres([
            pg_bin("postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir),
            "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={max_connections}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "shared_buffers=64MB", *extra]),
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "w"))
        for _ in range(300):
            if subprocess.run([pg_bin("pg_isready"), "-q", "-h", str(self.dir), "-p", str(self.port)]).returncode == 0:
                break
            time.sleep(0.05)
        self.sql("postgres", "CREATE DATABASE app")
        self.sql("postgres", f"CREATE ROLE gate LOGIN PASSWORD '{PASSWORD}'")

    def sql(self, db, query):
        return sh([pg_bin("psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres", "-d", db,
                   "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", query]).strip()

    def goose_table(self, table, versions):
        # Written by hand, not by goose: the benchmarks measure how the gate reads tables of up
        # to 1,000,000 rows, which goose would need as many migration files (and minutes) to write.
        self.sql("app", f"CREATE TABLE {table} (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "
                        "version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now())")
        self.sql("app", f"INSERT INTO {table} (version_id, is_applied) SELECT v, true FROM generate_series(0, {versions}) v")
        self.sql("app", f"GRANT SELECT ON {table} TO gate")

    def url(self, port=None):
        return f"postgres://gate:{PASSWORD}@127.0.0.1:{port or self.port}/app"

    def xact_commit(self):
        return int(self.sql("postgres", "SELECT pg_stat_force_next_flush(); "
                                        "SELECT xact_commit FROM pg_stat_database WHERE datname = 'app'").splitlines()[-1])

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


class Bouncer:
    def __init__(self, work, pg, extra=""):
        self.dir = Path(tempfile.mkdtemp(prefix="bouncer-", dir=work))
        self.port = free_port()
        (self.dir / "users").write_text(f'"gate" "{PASSWORD}"\n')
        (self.dir / "ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port={pg.port}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {self.dir}/users\n"
            "pool_mode = transaction\nmax_client_conn = 5000\ndefault_pool_size = 10\n"
            f"logfile = {self.dir}/log\n{extra}")
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
            for f in self.dir.iterdir():
                shutil.chown(f, "postgres", "postgres")
        exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.proc = subprocess.Popen(as_postgres([exe, str(self.dir / "ini")]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wait_port(port, limit=15):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def gate_env(url, expect, **extra):
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "GATE_EXPECT_VERSION": str(expect), "GATE_LOG": "warn"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def http_status(port, path="/readyz"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """On-CPU time of all the process's threads, in seconds, with nanosecond resolution
    (/proc/PID/task/*/schedstat; /proc/PID/stat counts in 10 ms ticks, too coarse for an idle
    gate)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def hyperfine(commands, runs, env):
    """Runs hyperfine; returns {name: (median_s, mean_s, stddev_s)}."""
    out = Path(tempfile.mktemp(suffix=".json"))
    args = ["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json", str(out)]
    for name, cmd in commands:
        args += ["-n", name, cmd]
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = json.loads(out.read_text())["results"]
    out.unlink()
    return {r["command"]: (r["median"], r["mean"], r["stddev"] or 0.0) for r in results}


def wrk(port, path, seconds, conns=32):
    out = sh(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}{path}"])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "requests": total,
            "non2xx": int(errors.group(1)) if errors else 0}


def start_serve(url, expect, port, **extra):
    env = gate_env(url, expect, GATE_LISTEN=f"127.0.0.1:{port}", **extra)
    proc = subprocess.Popen([str(GATE), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(port)
    return proc


def until_ready(port, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        if http_status(port)[0] == 200:
            return True
        time.sleep(0.005)
    return False


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the benchmarks --------------------------------------------------------------------------

def bench_check(pg, runs):
    url = pg.url()
    env = {**gate_env(url, 3)}
    results = hyperfine([
        ("schema-gate check", f"{GATE} check"),
        ("psql -tAc", f"{pg_bin('psql')} {url} -tAXqc \"{CHECK_SQL.format(table='goose_db_version')}\""),
    ], runs, env)
    gate, psql = results["schema-gate check"], results["psql -tAc"]
    return {"gate_ms": gate[0] * 1e3, "gate_sd_ms": gate[2] * 1e3, "psql_ms": psql[0] * 1e3,
            "psql_sd_ms": psql[2] * 1e3, "ratio": gate[0] / psql[0], "runs": runs}


def bench_probes(pg, work, seconds):
    port = free_port()
    gate = start_serve(pg.url(), 3, port)
    assert until_ready(port), "gate never ready"
    wrk(port, "/readyz", 1)  # warm-up
    gate_r = wrk(port, "/readyz", seconds)
    stop(gate)
    ngx_dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=work))
    nport = free_port()
    (ngx_dir / "nginx.conf").write_text(
        f"worker_processes 1;\ndaemon off;\npid {ngx_dir}/pid;\nerror_log stderr error;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; server {{ listen 127.0.0.1:{nport}; "
        "location = /readyz { return 200 \"ok\\n\"; } } }\n")
    ngx = subprocess.Popen(["nginx", "-p", str(ngx_dir), "-c", str(ngx_dir / "nginx.conf")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(nport)
    wrk(nport, "/readyz", 1)
    ngx_r = wrk(nport, "/readyz", seconds)
    ngx.send_signal(signal.SIGQUIT)
    ngx.wait(timeout=10)
    return {"gate": gate_r, "nginx": ngx_r, "ratio": gate_r["rps"] / ngx_r["rps"], "seconds": seconds}


def bench_footprint(pg, probes, idle_seconds):
    port = free_port()
    gate = start_serve(pg.url(), 3, port)
    assert until_ready(port)
    time.sleep(1)
    idle_rss = rss_kib(gate.pid)
    sent = 0
    while sent < probes:
        sent += wrk(port, "/readyz", 10)["requests"]
    after_rss = rss_kib(gate.pid)
    stop(gate)
    # Idle CPU at the default intervals (ready: one re-check every 30 s).
    port = free_port()
    gate = start_serve(pg.url(), 3, port)
    assert until_ready(port)
    cpu0, t0 = cpu_seconds(gate.pid), time.time()
    time.sleep(idle_seconds)
    cpu1, t1 = cpu_seconds(gate.pid), time.time()
    stop(gate)
    return {"size": GATE.stat().st_size, "idle_rss_kib": idle_rss, "after_rss_kib": after_rss, "probes": sent,
            "cpu_s_per_hour": (cpu1 - cpu0) * 3600 / (t1 - t0), "idle_window_s": t1 - t0}


def bench_detection(pg, rounds):
    waits, serves = [], []
    for i in range(rounds):
        table = f"detect_{i}"
        pg.goose_table(table, 1)
        port = free_port()
        sidecar = start_serve(pg.url(), 2, port, GOOSE_TABLE=table)
        waiter = subprocess.Popen([str(GATE), "wait"], env=gate_env(pg.url(), 2, GOOSE_TABLE=table),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5 + (i % 5) * 0.2)  # land the row at different points of the poll cycle
        pg.sql("app", f"INSERT INTO {table} (version_id, is_applied) VALUES (2, true)")
        committed = time.time()
        wait_done = serve_done = None
        while wait_done is None or serve_done is None:
            if wait_done is None and waiter.poll() is not None:
                wait_done = time.time() - committed
            if serve_done is None and http_status(port)[0] == 200:
                serve_done = time.time() - committed
            if time.time() - committed > 10:
                raise RuntimeError("detection took over 10 s")
            time.sleep(0.002)
        stop(sidecar)
        waits.append(wait_done)
        serves.append(serve_done)
    return {"rounds": rounds, "wait_median": statistics.median(waits), "wait_max": max(waits),
            "serve_median": statistics.median(serves), "serve_max": max(serves)}


def bench_fleet(work, size, steady_seconds, through_bouncer):
    pg = Postgres(work, max_connections=25)
    pg.goose_table("goose_db_version", 1)
    bouncer = Bouncer(work, pg) if through_bouncer else None
    url = pg.url(bouncer.port if bouncer else None)
    ports = listen_ports(size)
    procs = []
    logs = Path(tempfile.mkdtemp(prefix="fleet-", dir=work))
    for port in ports:
        env = gate_env(url, 2, GATE_LISTEN=f"127.0.0.1:{port}")
        procs.append(subprocess.Popen([str(GATE), "serve"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(logs / f"{port}.log", "w")))
    for port in ports:
        wait_port(port, 30)
    time.sleep(3)
    pg.sql("app", "INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, true)")
    landed = time.time()
    # Each gate's own time of becoming ready: schema_gate_ready_changed_timestamp_seconds, set by
    # the gate when its check finds the row. The poller below only detects "all done"; a
    # sequential poller's own pace would otherwise be part of the number.
    pending = set(ports)
    while pending and time.time() - landed < 120:
        pending = {p for p in pending if http_status(p)[0] != 200}
        time.sleep(0.05)
    became_ready = []
    for port in ports:
        _, text = http_status(port, "/metrics")
        m = re.search(r"^schema_gate_ready_changed_timestamp_seconds ([0-9.e+]+)", text, re.M)
        if m and port not in pending:
            became_ready.append(float(m.group(1)) - landed)
    became_ready.sort()
    all_ready = became_ready[-1] if became_ready and not pending else None
    dead = [(port, p.returncode) for port, p in zip(ports, procs) if p.poll() is not None]
    for port, code in dead:
        print(f"bench: serve on {port} exited {code}: {(logs / f'{port}.log').read_text().strip()[-300:]}", flush=True)
    crashed = len(dead)
    # Steady state: all ready, default GATE_RECHECK_INTERVAL (30 s).
    x0, t0 = pg.xact_commit(), time.time()
    time.sleep(steady_seconds)
    x1, t1 = pg.xact_commit(), time.time()
    errors = 0
    for port in ports:
        code, text = http_status(port, "/metrics")
        m = re.search(r'schema_gate_checks_total\{result="error"\} (\d+)', text)
        errors += int(m.group(1)) if m else 0
    for p in procs:
        stop(p)
    if bouncer:
        bouncer.stop()
    pg.stop()
    return {"size": size, "through": "PgBouncer (transaction mode, pool 10)" if bouncer else "direct",
            "all_ready_s": all_ready, "not_ready": len(pending), "crashed": crashed,
            "ready_median_s": became_ready[len(became_ready) // 2] if became_ready else None,
            "ready_p95_s": became_ready[int(len(became_ready) * 0.95)] if became_ready else None,
            "errors": errors, "xact_per_min": (x1 - x0) * 60 / (t1 - t0), "steady_window_s": t1 - t0,
            "expected_per_min": size * 60 / 30}


def peak_rss_kib(cmd, env):
    """Runs `cmd` once (stdout discarded); returns its peak resident memory in KiB, as GNU time
    reports it. Not os.wait4 from here: a child forked from this Python process starts with
    Python's resident memory in its high-water mark, exec or not; one forked from `time` does not."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1])


def bench_growth(pg, runs):
    out = {}
    for rows in (10, 1000, 100000, 1000000):
        table = f"grow_{rows}"
        pg.goose_table(table, rows - 1)
        env = gate_env(pg.url(), rows - 1, GOOSE_TABLE=table, GATE_QUERY_TIMEOUT="60s")
        psql_sql = CHECK_SQL.format(table=table)
        r = hyperfine([
            ("gate", f"{GATE} check"),
            ("psql", f"{pg_bin('psql')} {pg.url()} -tAXqc \"{psql_sql}\""),
            ("goose", f"{pg_bin('psql')} {pg.url()} -tAXqc \"{GOOSE_SQL.format(table=table)}\""),
        ], runs if rows < 1000000 else max(3, runs // 6), env)
        out[rows] = {"gate_ms": r["gate"][0] * 1e3, "psql_ms": r["psql"][0] * 1e3, "goose_ms": r["goose"][0] * 1e3,
                     "gate_rss_kib": peak_rss_kib([str(GATE), "check"], env),
                     "psql_rss_kib": peak_rss_kib([pg_bin("psql"), pg.url(), "-tAXqc", psql_sql], env)}
    return out


def bench_wan():
    """bench/wan.py's full run: round trips and time of a cold check at 0, 20 and 100 ms RTT
    against goose, psql and libpq, and detection latency at 100 ms."""
    import wan
    return wan.run(argparse.Namespace(quick=False, pg_bin="auto"))


# --- reporting -------------------------------------------------------------------------------

def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    def version(cmd):
        try:
            return sh(cmd).splitlines()[0].strip()
        except Exception:
            return "?"
    return {
        "cpu": f"{os.cpu_count()} × {cpu}", "memory": f"{mem} GiB", "kernel": platform.release(),
        "postgres": version([pg_bin("postgres"), "--version"]),
        "pgbouncer": version([shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "--version"]),
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "psql": version([pg_bin("psql"), "--version"]),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip() or "wrk",
        "hyperfine": version(["hyperfine", "--version"]), "rustc": version(["rustc", "--version"]),
    }


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "—"


def report(r, m, full_args):
    c, p, f, d, g = r["check"], r["probes"], r["footprint"], r["detection"], r["growth"]
    lines = [
        "# Benchmarks", "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python3 bench/bench.py` ({full_args}). Reproduce with the same",
        "command: it builds the static release binary, starts its own PostgreSQL, PgBouncer and nginx on",
        "loopback, and rewrites this file. Numbers are one noisy 2-core VM's; compare within a run.", "",
        "| machine | |", "|---|---|",
    ] + [f"| {k} | {v} |" for k, v in m.items()] + [
        "", "## One check, cold process", "",
        f"`schema-gate check` against `psql -tAXqc` running the same read-only transaction, same DSN",
        f"(TCP, SCRAM), same local PostgreSQL; hyperfine, 5 warm-ups, {c['runs']} runs each.", "",
        "```", f"hyperfine -N --warmup 5 --runs {c['runs']} 'schema-gate check' \\",
        f"  \"psql $DATABASE_URL -tAXqc \\\"{CHECK_SQL.format(table='goose_db_version')}\\\"\"", "```", "",
        "| | median | σ |", "|---|---|---|",
        f"| schema-gate check | {c['gate_ms']:.2f} ms | {c['gate_sd_ms']:.2f} ms |",
        f"| psql | {c['psql_ms']:.2f} ms | {c['psql_sd_ms']:.2f} ms |", "",
        f"Ratio gate/psql: **{c['ratio']:.2f}** (goal: ≤ 1, not slower than psql).", "",
        "## Probe serving", "",
        f"`wrk -t1 -c32 -d{p['seconds']}s --latency` on `/readyz`: `schema-gate serve` (one thread) against nginx",
        "with one worker returning a fixed `200 ok` (`return 200`), same machine, same run.", "",
        "| | requests/s | p99 latency | non-2xx |", "|---|---|---|---|",
        f"| schema-gate serve | {p['gate']['rps']:,.0f} | {p['gate']['p99_ms']:.2f} ms | {p['gate']['non2xx']} |",
        f"| nginx, 1 worker | {p['nginx']['rps']:,.0f} | {p['nginx']['p99_ms']:.2f} ms | {p['nginx']['non2xx']} |", "",
        f"Ratio: **{p['ratio'] * 100:.0f}%** of nginx's throughput (goal: ≥ 50%; nobody probes at 100k/s).", "",
        "## Footprint", "",
        "| | |", "|---|---|",
        f"| static binary (x86_64 musl, stripped) | {f['size']:,} bytes ({f['size'] / 1048576:.2f} MiB) |",
        f"| RSS of `serve`, idle after start | {f['idle_rss_kib']:,} KiB |",
        f"| RSS after {f['probes']:,} probes | {f['after_rss_kib']:,} KiB |",
        f"| CPU time, idle at default intervals (ready; re-check every 30 s) | {f['cpu_s_per_hour']:.2f} s per hour "
        f"(measured over {f['idle_window_s']:.0f} s) |", "",
        "## Detection latency", "",
        f"From the migration row's commit to `wait` exiting and to `/readyz` answering 200, default",
        f"`GATE_INTERVAL` (1 s, ±10% jitter), {d['rounds']} rounds landing the row at different points of the cycle.", "",
        "| | median | max |", "|---|---|---|",
        f"| `wait` exits | {d['wait_median'] * 1e3:.0f} ms | {d['wait_max'] * 1e3:.0f} ms |",
        f"| `/readyz` turns 200 | {d['serve_median'] * 1e3:.0f} ms | {d['serve_max'] * 1e3:.0f} ms |", "",
        "## Fleet", "",
        "`serve` processes at default intervals against one PostgreSQL with `max_connections = 25`;",
        "behind, then one migration row lands. Steady state: all ready, re-checking every 30 s.", "",
        "Each gate's own time of becoming ready after the row's commit, from its",
        "`schema_gate_ready_changed_timestamp_seconds` (not a sequential poller's pace).", "",
        "| fleet | path | ready: median | p95 | last | not ready | crashed | errors seen | transactions/min (expected size×2) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    secs = lambda v: f"{v:.2f} s" if v is not None else "—"
    for fl in r["fleet"]:
        ready = secs(fl["all_ready_s"]) if fl["all_ready_s"] is not None else "never"
        lines.append(f"| {fl['size']} | {fl['through']} | {secs(fl.get('ready_median_s'))} | {secs(fl.get('ready_p95_s'))} | "
                     f"{ready} | {fl['not_ready']} | {fl['crashed']} | {fl['errors']} | "
                     f"{fl['xact_per_min']:.0f} ({fl['expected_per_min']:.0f}; over {fl['steady_window_s']:.0f} s) |")
    lines += [
        "", "Goal: all ready within interval + 1 s (2.1 s with jitter), no crash, steady load ∝ fleet ÷ recheck interval.", "",
        "## Cost as the version table grows", "",
        "One cold `check`, median of hyperfine runs, against version tables of 10 to 1,000,000 rows (every",
        "version distinct); `psql` running the gate's query, and `psql` running goose's own read",
        "(`" + GOOSE_SQL.format(table="t") + "`). Peak RSS from GNU `time -f %M`, one run each; the manifests",
        "limit the gate to 32 Mi.", "",
        "| rows | schema-gate check | psql, same query | psql, goose's query | peak RSS: gate | peak RSS: psql |",
        "|---|---|---|---|---|---|",
    ] + [f"| {rows:,} | {v['gate_ms']:.2f} ms | {v['psql_ms']:.2f} ms | {v['goose_ms']:.2f} ms | "
         f"{mib(v.get('gate_rss_kib'))} | {mib(v.get('psql_rss_kib'))} |" for rows, v in g.items()]
    if r.get("wan"):
        import wan
        lines += [
            "", "## Over a WAN", "",
            "A cold check through `bench/wan.py`'s latency-injecting proxy on loopback (half the round-trip",
            "time each way; the TCP handshake counted as one more round trip in the time, not in the",
            "count). *Round trips* are the client's flights that waited for the server. The deployment",
            "this is built for runs about 100 ms from its database (Nuremberg to Neon's us-east-1).",
            "`python3 bench/wan.py` reproduces this section alone.", "",
            wan.markdown(r["wan"]),
        ]
    notes = r.get("notes")
    if notes:
        lines += ["", "## Notes", ""] + notes
    return "\n".join(lines) + "\n"


def fleets(work, sizes):
    out = []
    for size in sizes:
        for through in (False, True):
            print(f"bench: fleet of {size} ({'PgBouncer' if through else 'direct'})", flush=True)
            out.append(bench_fleet(work, size, 60, through))
    return out


def write_report(results, sizes):
    notes_file = ROOT / "bench/NOTES.md"
    results["notes"] = notes_file.read_text().splitlines() if notes_file.exists() else []
    text = report(results, machine(), "--fleet " + " ".join(str(s) for s in sizes))
    (ROOT / "BENCHMARKS.md").write_text(text)
    (ROOT / "bench/results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short comparisons with relative checks (CI)")
    ap.add_argument("--fleet", type=int, nargs="+", default=[200, 1000],
                    help="fleet sizes (each run direct and through PgBouncer)")
    ap.add_argument("--only", nargs="+", choices=["check", "probes", "footprint", "detection", "growth", "fleet", "wan"],
                    help="rerun only these sections; keep the others from bench/results.json")
    args = ap.parse_args()
    ensure_tools()
    work = tempfile.mkdtemp(prefix="schema-gate-bench-")
    os.chmod(work, 0o755)
    pg = Postgres(work)
    pg.goose_table("goose_db_version", 3)
    try:
        if args.quick:
            c = bench_check(pg, 30)
            p = bench_probes(pg, work, 3)
            print(f"check: gate {c['gate_ms']:.2f} ms vs psql {c['psql_ms']:.2f} ms (ratio {c['ratio']:.2f})")
            print(f"probes: gate {p['gate']['rps']:,.0f}/s vs nginx {p['nginx']['rps']:,.0f}/s ({p['ratio'] * 100:.0f}%)")
            ok = [c["ratio"] <= 1.5, p["ratio"] >= 0.5]
            print(f"{sum(ok)} passed, {len(ok) - sum(ok)} failed")
            return 0 if all(ok) else 1
        if args.only:
            results = json.loads((ROOT / "bench/results.json").read_text())
            results["growth"] = {int(k): v for k, v in results["growth"].items()}
            runners = {"check": lambda: bench_check(pg, 200), "probes": lambda: bench_probes(pg, work, 10),
                       "footprint": lambda: bench_footprint(pg, 1_000_000, 120),
                       "detection": lambda: bench_detection(pg, 10), "growth": lambda: bench_growth(pg, 30),
                       "fleet": lambda: fleets(work, args.fleet), "wan": bench_wan}
            for section in args.only:
                print(f"bench: {section}", flush=True)
                results[section] = runners[section]()
            return write_report(results, args.fleet)
        results = {}
        print("bench: one check, cold process", flush=True)
        results["check"] = bench_check(pg, 200)
        print("bench: probe serving", flush=True)
        results["probes"] = bench_probes(pg, work, 10)
        print("bench: footprint (1M probes, 2 min idle)", flush=True)
        results["footprint"] = bench_footprint(pg, 1_000_000, 120)
        print("bench: detection latency", flush=True)
        results["detection"] = bench_detection(pg, 10)
        print("bench: cost growth", flush=True)
        results["growth"] = bench_growth(pg, 30)
        results["fleet"] = fleets(work, args.fleet)
        print("bench: over a WAN (bench/wan.py)", flush=True)
        results["wan"] = bench_wan()
        return write_report(results, args.fleet)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
