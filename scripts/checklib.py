"""What the check scripts share: a tally of checks, printed as `ok`/`FAIL` lines and closed with
"N passed, M failed"; waiting for a state instead of a time; HTTP on loopback; the peers that
scripts/peers/ installs (pinned, cached), the real goose among them."""
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The goose the deployment pins (its migrate Job's image carries it).
DEPLOYED_GOOSE = "v3.22.1"

# Seconds: states on a possibly busy host, not latency promises.
DEADLINE = 60

results = []


def report(ok, what, detail=""):
    """Records one check; the detail is printed only when it failed."""
    results.append(bool(ok))
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}", flush=True)
    return ok


def summary():
    """Prints the closing line and returns the exit code."""
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


def eventually(probe, limit=DEADLINE):
    """Polls `probe` until it answers something other than None or False; None after `limit`."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        value = probe()
        if value is not None and value is not False:
            return value
        time.sleep(0.1)
    return None


def get(url):
    """(status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def http_status(port, path):
    """The status of `GET path` on 127.0.0.1:port (0 when nothing answers)."""
    return get(f"http://127.0.0.1:{port}{path}")[0]


def peer(script, *args):
    """The paths `scripts/peers/SCRIPT.sh ARGS` prints, one a line: the one installer of each
    peer, which builds or installs what is missing (its progress goes to stderr) and otherwise
    only checks its cache."""
    out = subprocess.run([str(ROOT / "scripts/peers" / f"{script}.sh"), *args], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.split()


def goose_binary(version=DEPLOYED_GOOSE):
    """The real goose CLI, pinned: scripts/peers/goose.sh's static build."""
    return peer("goose", version)[0]


def goose(pg, migrations, *command, db="app", table=None):
    """Runs the real goose on database `db` of `pg` (anything with the `dir` of its Unix socket
    and a `port`), as the superuser over that socket, with `migrations` as its directory (and
    working directory: goose v3.24+ reads a `.env` there), on `table` (goose's default when
    None). Returns what it printed; raises naming the command and its output when it fails."""
    dsn = f"host={pg.dir} port={pg.port} user=postgres dbname={db} sslmode=disable"
    flags = ["-table", table] if table else []
    r = subprocess.run([goose_binary(), "-dir", str(migrations), *flags, "postgres", dsn, *command],
                       cwd=migrations, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"goose {' '.join(command)} on {db}: {r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def noop_migrations(directory, versions):
    """A migrations directory `directory` whose files (`NNNNN_noop.sql`) change nothing but goose's
    table: goose writes the rows a check needs, as the migrate Job would."""
    d = Path(directory)
    d.mkdir(exist_ok=True)
    for v in versions:
        (d / f"{v:05}_noop.sql").write_text("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")
    return d
