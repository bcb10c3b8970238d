//! What the migration tools' differential tests share (`tests/tools_<tool>.rs`): the real CLIs
//! (found through `scripts/peers/<tool>.sh`, which install them pinned and cached, or through
//! the variable `scripts/test.sh` sets), a database the tool migrates as its own role while the
//! gate reads as a role with only `SELECT`, directly and through PgBouncer in transaction mode,
//! and the seeded random steps on top of each fixed corpus.
//!
//! `TOOLS_DIFF_STEPS` sets how many random steps each seeded run takes (default
//! [`DEFAULT_STEPS`]; `scripts/test.sh --full` raises it), `TOOLS_DIFF_SEED` replays a run:
//! every failure message carries the seed and the step.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Random steps per seeded run in a plain `cargo test` (CI).
pub const DEFAULT_STEPS: usize = 25;

/// How long one gate run may take on a busy machine.
const LIMIT: Duration = Duration::from_secs(30);

/// The path of a tool's CLI: `$SCHEMA_GATE_<TOOL>` (set by `scripts/test.sh`), else what
/// `scripts/peers/<tool>.sh` prints (it installs on first use, then answers from its cache).
pub fn peer(tool: &str) -> PathBuf {
    static FOUND: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let found = FOUND.get_or_init(|| Mutex::new(Vec::new()));
    let mut found = found.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = found.iter().find(|(t, _)| t == tool) {
        return path.clone();
    }
    let variable = format!(
        "SCHEMA_GATE_{}",
        tool.to_ascii_uppercase().replace('-', "_")
    );
    let path = match std::env::var_os(&variable) {
        Some(path) => PathBuf::from(path),
        None => {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scripts/peers/{tool}.sh"));
            let out = Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let printed = String::from_utf8_lossy(&out.stdout);
            PathBuf::from(printed.lines().last().unwrap_or_default().trim())
        }
    };
    assert!(path.exists(), "{tool}: {} does not exist", path.display());
    found.push((tool.to_string(), path.clone()));
    path
}

/// How many random steps a seeded run takes.
pub fn steps() -> usize {
    steps_or(DEFAULT_STEPS)
}

/// Like [`steps`], for a tool whose steps cost more than most (a process start or two each):
/// `plain` steps in a plain `cargo test`, `TOOLS_DIFF_STEPS` when set.
pub fn steps_or(plain: usize) -> usize {
    std::env::var("TOOLS_DIFF_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(plain)
}

/// The run's seed: `TOOLS_DIFF_SEED`, else one from the clock (printed by every failure).
pub fn seed() -> u64 {
    std::env::var("TOOLS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// A small deterministic generator (xorshift64*): a seed replays a run exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A cluster with database `app` owned by role `migrator` (the tool's), role `gate` that can
/// read what `migrator` creates and nothing else (default privileges: `SELECT` on tables), and a
/// PgBouncer in transaction mode in front of it.
pub struct ToolDb {
    pub pg: Postgres,
    pub bouncer: Bouncer,
}

impl ToolDb {
    pub fn start() -> ToolDb {
        let pg = Postgres::start();
        pg.create_role("migrator");
        pg.create_role("gate");
        pg.sql("postgres", "CREATE DATABASE app OWNER migrator");
        pg.sql(
            "app",
            "ALTER DEFAULT PRIVILEGES FOR ROLE migrator GRANT SELECT ON TABLES TO gate",
        );
        let bouncer = Bouncer::start(&pg, &["gate", "migrator"]);
        ToolDb { pg, bouncer }
    }

    /// A fresh database `name` like `app` (for a scenario that needs an empty one).
    pub fn fresh(&self, name: &str) {
        self.pg.sql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        self.pg.sql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER migrator"),
        );
        self.pg.sql(
            name,
            "ALTER DEFAULT PRIVILEGES FOR ROLE migrator GRANT SELECT ON TABLES TO gate",
        );
    }

    /// The tool's URL (direct: tools take session locks a transaction pooler would not hold).
    pub fn migrator_url(&self, db: &str) -> String {
        self.pg.url("migrator", db, "sslmode=disable")
    }

    /// The gate's URLs: direct, and through PgBouncer.
    pub fn gate_urls(&self, db: &str) -> [(&'static str, String); 2] {
        [
            ("direct", self.pg.url("gate", db, "")),
            ("pgbouncer", self.bouncer.url("gate", db, "")),
        ]
    }
}

/// One `schema-gate check --json` run: exit code and the JSON object.
#[derive(Debug, Clone)]
pub struct Check {
    pub code: Option<i32>,
    pub json: serde_json::Value,
    pub stderr: String,
}

impl Check {
    pub fn state(&self) -> &str {
        self.json["state"].as_str().unwrap_or("(none)")
    }

    /// A list key as strings (numbers printed), in order.
    pub fn ids(&self, key: &str) -> Vec<String> {
        self.json[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `version` as a string (`""` for null).
    pub fn version(&self) -> String {
        match &self.json["version"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// Runs `schema-gate check --json` for `tool` against `url` with `vars`.
pub fn check(tool: &str, url: &str, vars: &[(&str, &str)]) -> Check {
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", url)
            .env("GATE_TOOL", tool)
            .env("GATE_LOG", "warn")
            .envs(vars.iter().copied()),
        LIMIT,
    );
    let json = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("check --json for {tool} did not print JSON ({e}): {r:?}"));
    Check {
        code: r.code,
        json,
        stderr: r.stderr,
    }
}

/// The gate's answers for one state of the world: under `at-least` and `exact`, each direct and
/// through PgBouncer, which must say the same (checked here); returns (at-least, exact).
pub fn check_both(
    db: &ToolDb,
    name: &str,
    tool: &str,
    vars: &[(&str, &str)],
    context: &str,
) -> (Check, Check) {
    let mut answers = Vec::new();
    for policy in ["at-least", "exact"] {
        let mut by_path: Vec<(&str, Check)> = Vec::new();
        for (path, url) in db.gate_urls(name) {
            let mut vars = vars.to_vec();
            vars.push(("GATE_POLICY", policy));
            by_path.push((path, check(tool, &url, &vars)));
        }
        let (direct, pooled) = (&by_path[0].1, &by_path[1].1);
        let strip = |c: &Check| {
            let mut j = c.json.clone();
            j["error"] = serde_json::Value::Null;
            (c.code, j)
        };
        assert_eq!(
            strip(direct),
            strip(pooled),
            "{context}: direct and through PgBouncer differ ({policy})"
        );
        answers.push(by_path.swap_remove(0).1);
    }
    let exact = answers.pop().expect("two answers");
    let at_least = answers.pop().expect("two answers");
    (at_least, exact)
}

/// Runs `program args` (the tool's own CLI) and returns (exit code, stdout + stderr).
pub fn cli(
    program: &Path,
    args: &[&str],
    cwd: Option<&Path>,
    env: &[(&str, &str)],
) -> (i32, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).envs(env.iter().copied());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Sorted copies, for comparing sets.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The database `db`, readable by role `reader` only through `SELECT` on `table` (plus
/// `CONNECT`, which every role has on a new database): for the read-only tests.
pub fn select_only(pg: &Postgres, db: &str, reader: &str, table: &str) {
    pg.create_role(reader);
    pg.sql(db, &format!("GRANT SELECT ON {table} TO {reader}"));
}

/// Runs `schema-gate status --json` for `tool` against `url`: (exit code, the document).
pub fn status(tool: &str, url: &str, vars: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let r = run(
        gate(&["status", "--json"])
            .env("DATABASE_URL", url)
            .env("GATE_TOOL", tool)
            .env("GATE_LOG", "warn")
            .envs(vars.iter().copied()),
        LIMIT,
    );
    let json = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("status --json for {tool} did not print JSON ({e}): {r:?}"));
    (r.code, json)
}

/// `status`'s listing as `(file or version, state)` pairs, in order.
pub fn listed(doc: &serde_json::Value, part: &str) -> Vec<(String, String)> {
    doc[part]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let name = match (&e["file"], &e["version"]) {
                        (serde_json::Value::String(f), _) => f.clone(),
                        (_, serde_json::Value::String(v)) => v.clone(),
                        (_, v) => v.to_string(),
                    };
                    (name, e["state"].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A tool driven over a pipe, one command a line in, its output up to a line `== exit N` out:
/// the JVM and Python sessions that spare the differentials a start-up per command
/// (`scripts/peers/flyway`'s `session`, `scripts/peers/alembic/session.py`,
/// `scripts/peers/liquibase`'s `LiquibaseSession`). A reader thread feeds a channel, so a
/// session that stops answering fails its test after a deadline instead of hanging it.
pub struct LineSession {
    name: &'static str,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LineSession {
    /// Spawns `command` with its stdin and stdout piped (its stderr as the caller set it).
    pub fn start(name: &'static str, mut command: Command) -> LineSession {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} session: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        LineSession {
            name,
            child,
            stdin,
            lines,
        }
    }

    /// The next line the tool prints (a greeting such as `== ready`), waiting up to `deadline`.
    pub fn line(&mut self, deadline: Duration) -> String {
        let name = self.name;
        self.lines
            .recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("{name} printed nothing"))
    }

    /// Sends one request line; returns the exit code and the output lines before `== exit N`
    /// (waiting up to `deadline` for each line).
    pub fn run(&mut self, request: &str, deadline: Duration) -> (i32, Vec<String>) {
        use std::io::Write;
        let name = self.name;
        writeln!(self.stdin, "{request}").unwrap_or_else(|e| panic!("to {name}: {e}"));
        self.stdin.flush().expect("flush");
        let mut out = Vec::new();
        loop {
            let line = self.lines.recv_timeout(deadline).unwrap_or_else(|_| {
                panic!("{name} gave no answer to {request:?}: {}", out.join("\n"))
            });
            if let Some(code) = line.strip_prefix("== exit ") {
                return (code.trim().parse().unwrap_or(-1), out);
            }
            out.push(line);
        }
    }
}

impl Drop for LineSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` (a tool's migration, run as its users run it) in the background with its
/// output in `log`, and polls until `ready` (SQL in database `app` answering `t`) holds, seen
/// before the tool exits: the moment a migration is seen in flight, for the lock and
/// unfinished-row steps. Fails with the log and `context` if the tool exits first or `limit`
/// passes.
pub fn in_background(
    mut command: Command,
    pg: &Postgres,
    ready: &str,
    limit: Duration,
    log: &Path,
    context: &str,
) -> std::process::Child {
    use std::process::Stdio;
    let out = std::fs::File::create(log).expect("log");
    let err = out.try_clone().expect("log");
    let mut child = command
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} in the background: {e}\n{context}"));
    let seen = poll_until(std::time::Instant::now() + limit, || {
        if pg.sql("app", ready) == "t" {
            return Some(true);
        }
        child.try_wait().ok().flatten().map(|_| false)
    });
    if seen != Some(true) {
        let exited = child.try_wait().ok().flatten();
        panic!(
            "timed out waiting for: {ready} (the tool exited: {exited:?}): {}\n{context}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
    child
}
