//! Running the built `schema-gate` binary with a clean environment, and waiting for states.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `schema-gate` binary with an empty environment (plus PATH), so the developer's own
/// variables never leak into a test. Add the variables the test needs. `SCHEMA_GATE_BIN` runs
/// the tests against another build (the static release binary, in `scripts/check-static.sh`).
pub fn gate(args: &[&str]) -> Command {
    let program = std::env::var_os("SCHEMA_GATE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_schema-gate")));
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GATE_LOG", "info")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// [`gate`] for `mode`, against `url`, expecting version `expect`: the start of most tests.
pub fn gate_for(mode: &str, url: impl AsRef<std::ffi::OsStr>, expect: &str) -> Command {
    let mut cmd = gate(&[mode]);
    cmd.env("DATABASE_URL", url)
        .env("GATE_EXPECT_VERSION", expect);
    cmd
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// stdout and stderr together, for "never appears in any output" assertions.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Starts `cmd` with stdout and stderr piped (collect them with [`finish`]).
pub fn spawn(mut cmd: impl std::borrow::BorrowMut<Command>) -> (Child, Instant) {
    let started = Instant::now();
    let child = cmd
        .borrow_mut()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    (child, started)
}

/// Runs to completion, killing the process after `limit` (a hung gate fails the test, not CI).
pub fn run(cmd: impl std::borrow::BorrowMut<Command>, limit: Duration) -> Run {
    let (mut child, started) = spawn(cmd);
    finish(&mut child, started, limit)
}

/// Waits for a spawned child (stdout/stderr piped) and collects its output.
pub fn finish(child: &mut Child, started: Instant, limit: Duration) -> Run {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = exit_or_kill(child, started + limit);
    let elapsed = started.elapsed();
    Run {
        code: status.code(),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        elapsed,
    }
}

/// Waits until something accepts connections on `127.0.0.1:port`; panics after `limit`.
pub fn wait_listening(port: u16, limit: Duration, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < limit, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `cmd`, sends `sig` after `after`, and returns the run and the time from the signal to
/// the exit (which every mode promises to keep under a second).
pub fn signalled(
    cmd: impl std::borrow::BorrowMut<Command>,
    after: Duration,
    sig: &str,
) -> (Run, Duration) {
    let (mut child, started) = spawn(cmd);
    std::thread::sleep(after);
    let sent = Instant::now();
    signal(&child, sig);
    let r = finish(&mut child, started, Duration::from_secs(30));
    (r, sent.elapsed())
}

/// Sends a signal to a child by name (TERM, INT).
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Polls `probe` until it answers `Some`, up to a generous `limit` (busy CI hosts are slow):
/// the one way tests wait for a state instead of sleeping for a time. Panics naming `what`.
pub fn eventually<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits for `child` to exit until `deadline`, then kills it: a hung process fails its test, not
/// CI. The one wait-then-kill loop of the support code.
pub fn exit_or_kill(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
