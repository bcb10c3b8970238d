//! HTTP against a running `serve`: one request as a kubelet makes it, and [`Sidecar`].

use super::*;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let attempt = || -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        Ok(raw)
    };
    let raw = attempt().unwrap_or_default();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A running `schema-gate serve` on a free loopback port, its stderr in a file; killed on drop.
pub struct Sidecar {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Sidecar {
    /// Starts `serve` against `url` (defaults: expect version 2, 200 ms interval; `vars` win)
    /// and returns once it listens.
    pub fn start(url: &str, vars: &[(&str, &str)]) -> Sidecar {
        let port = free_port();
        let log = temp_dir("sidecar").join("stderr");
        let mut cmd = gate(&["serve"]);
        cmd.env("DATABASE_URL", url)
            .env("GATE_EXPECT_VERSION", "2")
            .env("GATE_INTERVAL", "200ms")
            .env("GATE_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn serve");
        wait_listening(port, Duration::from_secs(10), "serve");
        Sidecar {
            child: Some(child),
            port,
            log,
        }
    }

    /// One request: (status, body).
    pub fn request(&self, method: &str, path: &str) -> (u16, String) {
        http(self.port, method, path)
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path)
    }

    /// Polls `/readyz` until it answers `want`; returns how long that took; panics after `limit`.
    pub fn until_ready_is(&self, want: u16, limit: Duration) -> Duration {
        let started = Instant::now();
        let mut last = (0, String::new());
        let reached = poll_until(started + limit, || {
            last = self.get("/readyz");
            (last.0 == want).then_some(())
        });
        assert!(reached.is_some(), "/readyz stayed {last:?} for {limit:?}");
        started.elapsed()
    }

    /// `/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/status").1).expect("status JSON")
    }

    /// The process's resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The process's peak resident memory so far (VmHWM), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many file descriptors the process holds (connections among them).
    pub fn open_fds(&self) -> usize {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends `sig` and waits: (exit code, time from the signal to exit, everything it logged).
    pub fn stop_with(&mut self, sig: &str) -> (Option<i32>, Duration, String) {
        let mut child = self.child.take().expect("running");
        let sent = Instant::now();
        signal(&child, sig);
        let status = exit_or_kill(&mut child, sent + Duration::from_secs(10));
        let took = sent.elapsed();
        (
            status.code(),
            took,
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
