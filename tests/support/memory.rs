//! How much memory a gate takes: its anonymous memory (heap and stacks: what a hostile server
//! can make it allocate) and its peak RSS, polled from `/proc/PID/status` while it runs (the
//! `ru_maxrss` of wait4 is no use here: Linux carries the forking test process's RSS into it).

use super::process::Run;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What [`run_watching_memory`] saw.
#[derive(Debug)]
pub struct Memory {
    /// The highest `RssAnon` polled (KiB): heap, stacks, buffers.
    pub anon_peak_kib: u64,
    /// The last `VmHWM` polled (KiB): peak RSS, file-backed pages (the binary's own text, about
    /// 10 MiB for a debug build) included.
    pub hwm_kib: u64,
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs `cmd` to completion (killed after `limit`), polling its anonymous memory every few
/// milliseconds; returns the run (stdout, stderr, code) and the memory it took.
#[allow(clippy::zombie_processes)]
// reaped by waitpid below
// waitpid with WNOHANG reaps without giving up the pid (std's Child::try_wait would do too, but
// the polling must not race the reaping).
#[allow(unsafe_code)]
pub fn run_watching_memory(mut cmd: Command, limit: Duration) -> (Run, Memory) {
    let dir = super::temp_dir("memory");
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let started = Instant::now();
    let child = cmd
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (mut anon_peak_kib, mut hwm_kib) = (0, 0);
    let mut status = 0;
    loop {
        if let Some(anon) = status_field(pid, "RssAnon:") {
            anon_peak_kib = anon_peak_kib.max(anon);
        }
        if let Some(hwm) = status_field(pid, "VmHWM:") {
            hwm_kib = hwm_kib.max(hwm);
        }
        // SAFETY: pid is our own child; status is a valid out-pointer.
        let done = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        if done == pid as libc::pid_t {
            break;
        }
        if started.elapsed() > limit {
            // SAFETY: kill and a blocking waitpid on our own child.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
                libc::waitpid(pid as libc::pid_t, &mut status, 0);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let read = |path: &std::path::Path| {
        let mut text = String::new();
        let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
        text
    };
    let run = Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: read(&out),
        stderr: read(&err),
        elapsed: started.elapsed(),
    };
    let _ = std::fs::remove_dir_all(&dir);
    (
        run,
        Memory {
            anon_peak_kib,
            hwm_kib,
        },
    )
}
