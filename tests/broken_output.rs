//! Logging and printing never decide the exit code (issue 15, item 10): with stderr or stdout
//! a closed pipe or `/dev/full`, every mode exits with its usual code, never 134 (an abort
//! from a panic in tracing-subscriber's own `eprintln!`, then in the panic hook's).

mod support;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{Postgres, eventually, exit_or_kill, free_port, gate, gate_for, http, signal};

const LIMIT: Duration = Duration::from_secs(60);

/// Where a broken stream goes.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// Every write fails with ENOSPC.
    DevFull,
    /// A pipe whose reader has exited: every write fails with EPIPE.
    ClosedPipe,
    /// Works (the other stream is the broken one).
    Null,
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Sink::DevFull => std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("open /dev/full")
                .into(),
            Sink::ClosedPipe => {
                // The pipe's only reader is `true`'s stdin; once it has exited, no one reads.
                let mut reader = Command::new("true")
                    .stdin(Stdio::piped())
                    .spawn()
                    .expect("spawn true");
                let writer = reader.stdin.take().expect("the pipe's write end");
                reader.wait().expect("true exits");
                writer.into()
            }
            Sink::Null => Stdio::null(),
        }
    }
}

/// The (stdout, stderr) pairs every case runs with.
const SINKS: [(Sink, Sink); 5] = [
    (Sink::Null, Sink::DevFull),
    (Sink::Null, Sink::ClosedPipe),
    (Sink::DevFull, Sink::Null),
    (Sink::ClosedPipe, Sink::Null),
    (Sink::ClosedPipe, Sink::DevFull),
];

/// Runs `cmd` with `stdout` and `stderr` broken as given and returns how it ended (an abort
/// shows as `signal: 6 (SIGABRT)`).
fn run_with(mut cmd: Command, (stdout, stderr): (Sink, Sink)) -> ExitStatus {
    let mut child = cmd
        .stdout(stdout.stdio())
        .stderr(stderr.stdio())
        .spawn()
        .expect("spawn");
    exit_or_kill(&mut child, Instant::now() + LIMIT)
}

/// Every one-shot mode and path out of `main`, each with the code it must exit with. Logging at
/// `debug`, so that every case writes to stderr early and often.
fn one_shot_cases(pg: &Postgres) -> Vec<(&'static str, Command, i32)> {
    let url = pg.url("gate", "app", "");
    let mut cases = Vec::new();
    let mut add = |what, mut cmd: Command, code| {
        cmd.env("GATE_LOG", "debug");
        cases.push((what, cmd, code));
    };
    add("--help", gate(&["--help"]), 0);
    add("--version", gate(&["--version"]), 0);
    add("a CLI error", gate(&["check", "--no-such-flag"]), 2);
    let mut before_logging = gate_for("check", &url, "1");
    before_logging.env("GATE_LOG_FORMAT", "xml");
    add("a configuration error before logging", before_logging, 2);
    add("a configuration error", gate(&["check"]), 2);
    add("check, ready", gate_for("check", &url, "1"), 0);
    let mut json_logs = gate_for("check", &url, "1");
    json_logs.env("GATE_LOG_FORMAT", "json");
    add("check, ready, JSON logs", json_logs, 0);
    let mut check_json = gate_for("check", &url, "2");
    check_json.arg("--json");
    add("check --json, behind", check_json, 1);
    let unreachable = format!("postgres://gate@127.0.0.1:{}/app", free_port());
    add(
        "check, no database",
        gate_for("check", &unreachable, "1"),
        3,
    );
    add("status, ready", gate_for("status", &url, "1"), 0);
    let mut status_json = gate_for("status", &url, "2");
    status_json.arg("--json");
    add("status --json, behind", status_json, 1);
    add("wait, ready", gate_for("wait", &url, "1"), 0);
    let mut exec = gate_for("wait", &url, "1");
    exec.args(["--", "true"]);
    add("wait -- true", exec, 0);
    let mut timeout = gate_for("wait", &url, "2");
    timeout
        .env("GATE_TIMEOUT", "1s")
        .env("GATE_INTERVAL", "100ms");
    add("wait, gives up", timeout, 124);
    cases
}

#[test]
fn broken_stdout_or_stderr_never_changes_the_exit_code() {
    let pg = Postgres::app(&[(1, true)]);
    let mut failures = Vec::new();
    for sinks in SINKS {
        for (what, cmd, want) in one_shot_cases(&pg) {
            let status = run_with(cmd, sinks);
            if status.code() != Some(want) {
                failures.push(format!("{what} with {sinks:?}: {status}, not {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn serve_keeps_serving_with_broken_stderr_and_stops_with_0() {
    let pg = Postgres::app(&[(1, true)]);
    let mut failures = Vec::new();
    for sinks in SINKS {
        let port = free_port();
        let mut cmd = gate_for("serve", pg.url("gate", "app", ""), "1");
        cmd.env("GATE_LOG", "debug")
            .env("GATE_INTERVAL", "100ms")
            .env("GATE_LISTEN", format!("127.0.0.1:{port}"));
        let mut child = cmd
            .stdout(sinks.0.stdio())
            .stderr(sinks.1.stdio())
            .spawn()
            .expect("spawn serve");
        // Ready (its checks logged lines all along), or dead: either is seen within the deadline.
        let alive = eventually(Duration::from_secs(30), "serve ready or exited", || {
            if child.try_wait().expect("poll").is_some() {
                return Some(false);
            }
            (http(port, "GET", "/readyz").0 == 200).then_some(true)
        });
        if !alive {
            let status = exit_or_kill(&mut child, Instant::now());
            failures.push(format!("serve with {sinks:?} died: {status}"));
            continue;
        }
        signal(&child, "TERM");
        let status = exit_or_kill(&mut child, Instant::now() + Duration::from_secs(10));
        if status.code() != Some(0) {
            failures.push(format!("serve with {sinks:?}: {status} after SIGTERM"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
