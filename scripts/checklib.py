"""What the check scripts share: a tally of checks, printed as `ok`/`FAIL` lines and closed with
"N passed, M failed"; waiting for a state instead of a time; HTTP on loopback."""
import time
import urllib.error
import urllib.request

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
