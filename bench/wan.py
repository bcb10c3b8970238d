#!/usr/bin/env python3
"""A cold check over a WAN: round trips and time, the gate against goose, psql and libpq.

    python3 bench/wan.py                 # 0, 20 and 100 ms RTT; prints a Markdown table
    python3 bench/wan.py --quick         # CI: 100 ms only, a few runs, relative checks
    python3 bench/wan.py --json out.json # also write the numbers

The deployment this is built for runs in Nuremberg against Neon in us-east-1, about 100 ms away:
there a cold check costs its round trips, not its CPU. Everything here stays on loopback: a
latency-injecting TCP proxy (`LatencyProxy`) sits in front of a private PostgreSQL (and a
PgBouncer in transaction mode), delays each direction by half the round-trip time, models the
TCP handshake as one more round trip before the client's first bytes go through, and counts the
client's *flights*: a flight starts when the client sends after the proxy delivered it something
from the server (so a flight is one round trip the client waited for; the TCP handshake is
counted apart). Each client makes one cold connection, runs the gate's read-only transaction
(goose runs its own read) and exits:

- `schema-gate check` (the shipped static binary);
- `goose version` (the real goose CLI, pinned, from scripts/peers/goose.sh);
- `psql -c` running the gate's transaction;
- a minimal libpq program (`PQconnectdb`, one `PQexec`, `PQfinish`), compiled here with gcc.

Plain and TLS (`sslmode=require`), direct and through PgBouncer. With `--pg-bin` naming a
PostgreSQL 17+ server's bin directory, the gate's direct TLS (`sslnegotiation=direct`) is measured
too. `wait`'s and `serve`'s detection latency (row lands → exit, → `/readyz` 200) is measured at
100 ms. Only counts and ratios from the same run are compared; no absolute time is asserted.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the shared servers and helpers)

ROOT = bench.ROOT
CACHE = Path(os.environ.get("SCHEMA_GATE_CACHE", Path.home() / ".cache/schema-gate"))
GOOSE_VERSION = "v3.22.1"
LIBPQ_SOURCE = r"""
#include <libpq-fe.h>
#include <stdio.h>
int main(int argc, char **argv) {
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); return 3; }
    PGresult *r = PQexec(c, argv[2]);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : 1;
}
"""


# --- the proxy -------------------------------------------------------------------------------

class LatencyProxy:
    """A loopback TCP proxy adding `rtt / 2` each way (plus one RTT before the client's first
    bytes, for the TCP handshake), counting each connection's client flights."""

    def __init__(self, upstream_port, rtt_ms):
        self.upstream = upstream_port
        self.one_way = rtt_ms / 2000.0
        self.connections = []  # one dict per accepted connection: flights, bytes
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = None

        def run():
            asyncio.set_event_loop(self.loop)

            async def start():
                self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
                self.port = self.server.sockets[0].getsockname()[1]
                ready.set()
            self.loop.run_until_complete(start())
            self.loop.run_forever()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def reset(self):
        self.connections = []

    def flights(self):
        """Client flights of every connection since the last reset (a cancel request, say,
        opens a second connection: its flights count too)."""
        return sum(c["flights"] for c in self.connections)

    async def handle(self, client_r, client_w):
        stats = {"flights": 0, "answered": True}
        self.connections.append(stats)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            client_w.close()
            return
        handshake = 2 * self.one_way  # SYN / SYN-ACK before the client's first data leaves

        async def pump(reader, writer, from_client):
            queue = asyncio.Queue()

            async def deliver():
                while True:
                    at, data = await queue.get()
                    if data is None:
                        try:
                            writer.write_eof()
                        except OSError:
                            pass
                        return
                    delay = at - self.loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    try:
                        writer.write(data)
                        await writer.drain()
                    except OSError:
                        return
                    if not from_client:
                        stats["answered"] = True
            sender = asyncio.ensure_future(deliver())
            first = True
            while True:
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                now = self.loop.time()
                if not data:
                    await queue.put((now + self.one_way, None))
                    break
                if from_client and stats["answered"]:
                    stats["flights"] += 1
                    stats["answered"] = False
                extra = handshake if (from_client and first) else 0.0
                first = False
                await queue.put((now + self.one_way + extra, data))
            await sender

        await asyncio.gather(pump(client_r, up_w, True), pump(up_r, client_w, False))
        for w in (client_w, up_w):
            try:
                w.close()
            except OSError:
                pass

    def stop(self):
        async def shutdown():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(5)


# --- the clients -----------------------------------------------------------------------------

def newer_postgres():
    """The bin directory of PostgreSQL 17 (scripts/peers/postgres.sh, npm's server build), for
    direct TLS; None where it cannot be installed."""
    try:
        out = bench.sh([str(ROOT / "scripts/peers/postgres.sh"), "17"]).split()
    except (subprocess.CalledProcessError, OSError):
        return None
    return out[-1] if out else None


def goose_binary():
    script = ROOT / "scripts/peers/goose.sh"
    if script.exists():
        out = bench.sh([str(script), GOOSE_VERSION]).split()
        if out:
            return out[-1]
    found = shutil.which("goose")
    if found:
        return found
    raise SystemExit("wan.py: goose not found (scripts/peers/goose.sh installs it)")


def libpq_client(work):
    exe = CACHE / "bench" / "libpq-check"
    if not Path("/usr/include/postgresql/libpq-fe.h").exists():
        if not bench.IS_ROOT:
            sys.exit("wan.py: libpq's headers are missing: sudo apt-get install libpq-dev")
        bench.sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "libpq-dev"],
                 env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        src = Path(work) / "libpq-check.c"
        src.write_text(LIBPQ_SOURCE)
        include = bench.sh(["pg_config", "--includedir"]).strip() if shutil.which("pg_config") else "/usr/include/postgresql"
        tmp = exe.with_suffix(".tmp")
        subprocess.run(["gcc", "-O2", "-I", include, "-o", str(tmp), str(src), "-lpq"], check=True)
        tmp.rename(exe)
    return str(exe)


def url(port, sslmode, extra=""):
    return f"postgres://gate:{bench.PASSWORD}@127.0.0.1:{port}/app?sslmode={sslmode}{extra}"


def clients(port, tls, goose, libpq, direct_tls=False):
    """(name, argv, env) for each client, all reading the same table through `port`."""
    mode = "require" if tls else "disable"
    sql = bench.CHECK_SQL.format(table="goose_db_version")
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    gate_env = {**base, "DATABASE_URL": url(port, mode), "GATE_EXPECT_VERSION": "3", "GATE_LOG": "warn"}
    out = [("schema-gate check", [str(bench.GATE), "check"], gate_env)]
    if direct_tls:
        env = {**gate_env, "DATABASE_URL": url(port, "require", "&sslnegotiation=direct")}
        out.append(("schema-gate check, direct TLS", [str(bench.GATE), "check"], env))
    out += [
        ("goose version", [goose, "-dir", "/nonexistent", "postgres", url(port, mode), "version"], base),
        ("psql", [bench.pg_bin("psql"), url(port, mode), "-tAXqc", sql], base),
        ("libpq", [libpq, url(port, mode), sql], base),
    ]
    return out


def measure(proxy, argv, env, runs):
    """Median wall time (s) and flights of `runs` cold runs; flights must not vary."""
    times, flights = [], set()
    for _ in range(runs):
        proxy.reset()
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        # The server side closes after the client: let the proxy see every byte.
        time.sleep(0.01 + proxy.one_way * 2)
        times.append(elapsed)
        flights.add(proxy.flights())
    return statistics.median(times), sorted(flights)


# --- servers ---------------------------------------------------------------------------------

def tls_postgres(work, pg_bin_dir=None):
    """bench.Postgres with TLS on (a self-signed certificate), optionally another server build."""
    certs = Path(tempfile.mkdtemp(prefix="certs-", dir=work))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(certs / "server.key"), "-out", str(certs / "server.crt")],
                   check=True, capture_output=True)
    os.chmod(certs / "server.key", 0o600)
    if bench.IS_ROOT:
        for f in [certs, certs / "server.key", certs / "server.crt"]:
            shutil.chown(f, "postgres", "postgres")
    saved = bench.pg_bin
    if pg_bin_dir and bench.IS_ROOT:
        # The server runs as the postgres user, who cannot enter /root: a copy it can read.
        copy = Path(tempfile.mkdtemp(prefix="pg-server-", dir=work)) / "server"
        os.chmod(copy.parent, 0o755)
        subprocess.run(["cp", "-a", str(Path(pg_bin_dir).parent), str(copy)], check=True)
        subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
        pg_bin_dir = copy / "bin"
    if pg_bin_dir:
        bench.pg_bin = lambda name: str(Path(pg_bin_dir) / name) if name in ("initdb", "postgres") else saved(name)
    try:
        pg = bench.Postgres(work, extra=["-c", "ssl=on", "-c", f"ssl_cert_file={certs}/server.crt",
                                         "-c", f"ssl_key_file={certs}/server.key"])
    finally:
        bench.pg_bin = saved
    pg.goose_table("goose_db_version", 3)
    return pg, certs


def tls_bouncer(work, pg, certs):
    b = bench.Bouncer(work, pg, extra=f"client_tls_sslmode = allow\nclient_tls_key_file = {certs}/server.key\n"
                                       f"client_tls_cert_file = {certs}/server.crt\n")
    return b


# --- detection latency -----------------------------------------------------------------------

def detection(pg, proxy, rounds):
    """Row lands → `wait` exits, and → `/readyz` 200, through the proxy (default interval)."""
    wait_s, serve_s = [], []
    for i in range(rounds):
        version = 100 + i
        env = {"PATH": os.environ["PATH"], "DATABASE_URL": url(proxy.port, "disable"),
               "GATE_EXPECT_VERSION": str(version), "GATE_LOG": "info"}
        waiter = subprocess.Popen([str(bench.GATE), "wait"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        port = bench.free_port()
        server = subprocess.Popen([str(bench.GATE), "serve"], env={**env, "GATE_LISTEN": f"127.0.0.1:{port}"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bench.wait_port(port)
        # Both have seen "behind" once the first verdict is logged / served.
        deadline = time.time() + 30
        while time.time() < deadline and bench.http_status(port, "/status")[0] != 200:
            time.sleep(0.01)
        line = waiter.stderr.readline()
        assert "not ready" in line, line
        time.sleep((i % 5) * 0.2)  # land the row at different points of the poll cycle
        pg.sql("app", f"INSERT INTO goose_db_version (version_id, is_applied) VALUES ({version}, true)")
        landed = time.perf_counter()
        ready_at = exited_at = None
        while ready_at is None or exited_at is None:
            if ready_at is None and bench.http_status(port)[0] == 200:
                ready_at = time.perf_counter()
            if exited_at is None and waiter.poll() is not None:
                exited_at = time.perf_counter()
            if time.perf_counter() - landed > 60:
                raise RuntimeError("no detection within 60 s")
            time.sleep(0.002)
        wait_s.append(exited_at - landed)
        serve_s.append(ready_at - landed)
        bench.stop(server)
    return {"wait_median_s": statistics.median(wait_s), "serve_median_s": statistics.median(serve_s),
            "wait_max_s": max(wait_s), "serve_max_s": max(serve_s), "rounds": rounds}


# --- main ------------------------------------------------------------------------------------

def run(args):
    if os.environ.get("SCHEMA_GATE_BIN"):  # a build to measure instead of the release binary
        bench.GATE = Path(os.environ["SCHEMA_GATE_BIN"])
    else:
        bench.ensure_tools()
    work = tempfile.mkdtemp(prefix="schema-gate-wan-")
    os.chmod(work, 0o755)
    goose = goose_binary()
    libpq = libpq_client(work)
    rtts = [100] if args.quick else [0, 20, 100]
    runs = 3 if args.quick else 7
    pg, certs = tls_postgres(work)
    bouncer = tls_bouncer(work, pg, certs)
    newer = None
    results = {"rtts": rtts, "runs": runs, "rows": []}
    try:
        targets = [("PostgreSQL", pg.port)] + ([] if args.quick else [("PgBouncer", bouncer.port)])
        if args.pg_bin == "auto":
            args.pg_bin = newer_postgres()
        if args.pg_bin:
            newer, _ = tls_postgres(work, args.pg_bin)
            targets.append((f"PostgreSQL {bench.sh([str(Path(args.pg_bin) / 'postgres'), '--version']).split()[-1]}",
                            newer.port))
        for target, port in targets:
            for tls in (False, True):
                for rtt in rtts:
                    proxy = LatencyProxy(port, rtt)
                    direct = tls and target.startswith("PostgreSQL ") and args.pg_bin
                    for name, argv, env in clients(proxy.port, tls, goose, libpq, direct_tls=bool(direct)):
                        if target == "PgBouncer" and name.startswith("goose"):
                            continue  # pgx's prepared statements break on PgBouncer 1.18 (goose #613)
                        median, flights = measure(proxy, argv, env, runs)
                        row = {"target": target, "tls": tls, "rtt_ms": rtt, "client": name,
                               "median_ms": median * 1e3, "flights": flights}
                        results["rows"].append(row)
                        print(f"{target:>18} {'TLS ' if tls else 'plain'} {rtt:>3} ms  {name:<30} "
                              f"{median * 1e3:8.1f} ms  {flights} round trips", flush=True)
                    proxy.stop()
        if not args.quick:
            proxy = LatencyProxy(pg.port, 100)
            results["detection"] = detection(pg, proxy, 5)
            proxy.stop()
    finally:
        for server in (bouncer, pg, newer):
            if server:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def checks(results):
    """Relative checks only: the gate never needs more round trips than libpq, nor more time
    than psql, in the same run."""
    ok = []
    by = {(r["target"], r["tls"], r["rtt_ms"], r["client"]): r for r in results["rows"]}
    for (target, tls, rtt, client), row in by.items():
        if client != "schema-gate check":
            continue
        libpq = by[(target, tls, rtt, "libpq")]
        psql = by[(target, tls, rtt, "psql")]
        fewer = max(row["flights"]) <= min(libpq["flights"]) or rtt == 0  # at 0 ms flights race
        faster = row["median_ms"] <= psql["median_ms"] * 1.1 or rtt == 0
        ok += [fewer, faster]
        print(f"{'ok' if fewer else 'FAIL'}: {target} {'TLS' if tls else 'plain'} {rtt} ms: gate "
              f"{row['flights']} round trips, libpq {libpq['flights']}")
        print(f"{'ok' if faster else 'FAIL'}: {target} {'TLS' if tls else 'plain'} {rtt} ms: gate/psql time "
              f"{row['median_ms'] / psql['median_ms']:.2f}")
    for (target, tls, rtt, client), row in by.items():
        if not (tls and target.startswith("PostgreSQL ") and client == "schema-gate check" and rtt):
            continue
        direct = by.get((target, tls, rtt, "schema-gate check, direct TLS"))
        goal = max(row["flights"]) <= 6 and direct is not None and max(direct["flights"]) <= 5
        ok.append(goal)
        print(f"{'ok' if goal else 'FAIL'}: {target} TLS {rtt} ms: a cold check {row['flights']} round trips "
              f"(goal ≤ 6), direct TLS {direct['flights'] if direct else None} (goal ≤ 5)")
    return all(ok)


def markdown(results):
    lines = ["| target | TLS | RTT | client | round trips | median |", "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        trips = "/".join(str(f) for f in r["flights"])
        lines.append(f"| {r['target']} | {'yes' if r['tls'] else 'no'} | {r['rtt_ms']} ms | {r['client']} | "
                     f"{trips} | {r['median_ms']:.1f} ms |")
    d = results.get("detection")
    if d:
        lines += ["", "| at 100 ms RTT | median | max |", "|---|---|---|",
                  f"| row lands → `wait` exits | {d['wait_median_s'] * 1e3:.0f} ms | {d['wait_max_s'] * 1e3:.0f} ms |",
                  f"| row lands → `/readyz` 200 | {d['serve_median_s'] * 1e3:.0f} ms | {d['serve_max_s'] * 1e3:.0f} ms |"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 ms only, few runs, relative checks (CI)")
    ap.add_argument("--pg-bin", default="auto",
                    help="bin directory of a PostgreSQL 17+ server, for direct TLS (default: "
                         "scripts/peers/postgres.sh 17; 'none' to skip)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.pg_bin == "none":
        args.pg_bin = None
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))
    return 0 if checks(results) else 1


if __name__ == "__main__":
    sys.exit(main())
