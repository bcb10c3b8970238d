//! Real components for integration tests: a private PostgreSQL cluster per test (copied from a
//! template made once with `initdb`), an optional PgBouncer in transaction mode in front of it,
//! and a runner for the built `schema-gate` binary with a clean environment.
//!
//! Everything listens on free loopback ports and lives in its own temp directory; `Drop` stops
//! the servers and removes the directories. As root (CI), servers run as the `postgres` user
//! through `setpriv`, with a parent-death signal so nothing outlives a crashed test.
//!
//! One file per component: [`postgres`], [`bouncer`], [`process`] (running the gate, waiting for
//! states), [`http`] (requests and the `serve` [`Sidecar`]), [`faults`], [`certs`], [`pgwire`]
//! (a scripted fake PostgreSQL for hostile servers), [`memory`] (what a gate allocates),
//! [`majors`] (a cluster of a given PostgreSQL major), [`flights`] (a proxy counting round trips),
//! [`goose`] (the real goose CLI, which writes the version tables), [`tools`] (the other
//! migration tools' real CLIs and what their differential tests share; not glob-exported:
//! `use support::tools`).

#![allow(dead_code)] // each test binary uses part of the support code

pub mod bouncer;
pub mod certs;
pub mod faults;
pub mod flights;
pub mod goose;
pub mod http;
pub mod majors;
pub mod memory;
pub mod pgwire;
pub mod postgres;
pub mod process;
pub mod tools;

#[allow(unused_imports)] // each test binary uses part of the support code
pub use bouncer::*;
#[allow(unused_imports)]
pub use certs::*;
#[allow(unused_imports)]
pub use faults::*;
#[allow(unused_imports)]
pub use flights::*;
#[allow(unused_imports)]
pub use goose::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use majors::*;
#[allow(unused_imports)]
pub use memory::*;
#[allow(unused_imports)]
pub use pgwire::*;
#[allow(unused_imports)]
pub use postgres::*;
#[allow(unused_imports)]
pub use process::*;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub const PASSWORD: &str = "Sup3r-secret-pw";

/// Debian's PostgreSQL binaries (`/usr/lib/postgresql/<newest>/bin`): the client tools every
/// test uses (`psql`, `pg_isready`, `pg_basebackup`; a server's are [`server_bin`]).
pub fn pg_bin(name: &str) -> PathBuf {
    debian_bin().join(name)
}

/// `/usr/lib/postgresql/<newest>/bin`.
fn debian_bin() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server is installed (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("postgres").exists())
            .collect();
        versions.sort();
        versions
            .pop()
            .expect("a PostgreSQL server under /usr/lib/postgresql")
    })
}

/// The paths `scripts/peers/SCRIPT ARGS...` prints, one a line. That script is the peer's one
/// installer (pinned, cached outside the clone): it installs what is missing, and otherwise
/// only checks its cache. Run once per test process and arguments (its progress goes to the
/// test's stderr); a failure fails the test.
pub fn peer_paths(script: &str, args: &[&str]) -> Vec<PathBuf> {
    static PRINTED: OnceLock<Mutex<HashMap<String, Vec<PathBuf>>>> = OnceLock::new();
    let mut printed = PRINTED
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let key = format!("{script} {}", args.join(" "));
    if let Some(paths) = printed.get(&key) {
        return paths.clone();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/peers")
        .join(script);
    let out = succeeded(
        Command::new(&path).args(args).stderr(Stdio::inherit()),
        &format!("scripts/peers/{key}"),
    );
    let paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect();
    assert!(!paths.is_empty(), "scripts/peers/{key} printed no path");
    printed.insert(key, paths.clone());
    paths
}

fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status "Uid:" line, first field is the real uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command that runs as the `postgres` user when we are root (initdb and postgres refuse root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--pdeathsig=KILL",
            "--",
        ]);
        cmd.arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh temp directory, removed by its owner's `Drop`.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("schema-gate-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
