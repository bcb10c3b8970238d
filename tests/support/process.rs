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

/// Runs a helper command (a server tool, openssl, a peer script) to its end with stdout and
/// stderr captured unless the caller set them, and returns its output; panics naming `what`,
/// with what it wrote on stderr, unless it exits 0.
pub fn succeeded(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

    /// The JSON document on stdout (`--json`); `Null` when stdout is not one.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or(serde_json::Value::Null)
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
    eventually(limit, &format!("{what} listening on {port}"), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

/// Starts `cmd`, sends `sig` once `ready` says the state to interrupt has been reached (it sees
/// the log so far), and returns the run and the time from the signal to the exit (which every
/// mode promises to keep under a second).
pub fn signalled(
    cmd: impl std::borrow::BorrowMut<Command>,
    what: &str,
    mut ready: impl FnMut(&str) -> bool,
    sig: &str,
) -> (Run, Duration) {
    let logged = Logged::spawn(cmd);
    eventually(STATE, what, || ready(&logged.log()).then_some(()));
    let sent = Instant::now();
    signal(&logged.child, sig);
    let r = logged.finish(Duration::from_secs(30));
    (r, sent.elapsed())
}

/// A gate whose stderr goes to a file, so that a test can wait for what it has said before the
/// process ends.
pub struct Logged {
    /// The running process.
    pub child: Child,
    started: Instant,
    log: PathBuf,
}

impl Logged {
    /// Starts `cmd` with stdout piped and stderr to a file.
    pub fn spawn(mut cmd: impl std::borrow::BorrowMut<Command>) -> Logged {
        let log = crate::support::temp_dir("logged").join("stderr");
        let started = Instant::now();
        let child = cmd
            .borrow_mut()
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn");
        Logged {
            child,
            started,
            log,
        }
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `text`, then checks that it still runs: it met a state and
    /// did not give up on it.
    pub fn keeps_running_after(&mut self, text: &str) {
        eventually(STATE, &format!("the log says {text:?}"), || {
            self.log().contains(text).then_some(())
        });
        assert!(
            self.child.try_wait().expect("poll").is_none(),
            "gave up after {text:?}: {}",
            self.log()
        );
    }

    /// Waits for the exit (killing it after `limit`) and collects the run.
    pub fn finish(mut self, limit: Duration) -> Run {
        let mut r = finish(&mut self.child, self.started, limit);
        r.stderr = self.log();
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        r
    }
}

/// How long a test waits for a state on a possibly busy CI host.
pub const STATE: Duration = Duration::from_secs(30);

/// Sends a signal to a child by name (TERM, INT).
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Polls `probe` until it answers `Some` or `deadline` passes: the one polling loop of the
/// support code.
pub fn poll_until<T>(deadline: Instant, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `probe` until it answers `Some`, up to a generous `limit` (busy CI hosts are slow):
/// the one way tests wait for a state instead of sleeping for a time. Panics naming `what`.
pub fn eventually<T>(limit: Duration, what: &str, probe: impl FnMut() -> Option<T>) -> T {
    match poll_until(Instant::now() + limit, probe) {
        Some(value) => value,
        None => panic!("{what}: not within {limit:?}"),
    }
}

/// Waits for `child` to exit until `deadline`, then kills it: a hung process fails its test, not
/// CI.
pub fn exit_or_kill(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
    match poll_until(deadline, || child.try_wait().expect("wait")) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            child.wait().expect("wait after kill")
        }
    }
}

/// Runs `cmd` to its end (stdio as the caller set it; stdin null) and returns its exit code and
/// peak resident memory in KiB, from the kernel's own account: reaped with `wait4`, since std's
/// `Child` cannot report a finished child's peak (VmHWM is gone once it exits).
#[allow(clippy::zombie_processes)]
// wait4 is the only way to read a child's own peak RSS; std's Child cannot.
#[allow(unsafe_code)]
pub fn exit_and_peak_rss(cmd: &mut Command, limit: Duration) -> (Option<i32>, u64) {
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = poll_until(Instant::now() + limit, || {
        // SAFETY: pid is our own child, not yet reaped; status and usage are valid out-pointers.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        (done == pid).then_some(())
    });
    if reaped.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not exit within {limit:?}");
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, u64::try_from(usage.ru_maxrss).unwrap_or(0))
}
