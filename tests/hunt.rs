//! The third hostile hunt, one test per finding, each against the real thing: the built binary,
//! real PostgreSQL, a real PgBouncer 1.18 in transaction mode, the real goose (the support code
//! writes goose's rows with it), and, where a wrong endpoint or a MITM is the threat, a scripted
//! fake server on loopback. Each test's doc comment names the finding and its impact; a finding
//! left open is `#[ignore]`d with the fix it needs.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{
    Bouncer, PASSWORD, Postgres, eventually, free_port, gate_for, migrations_dir, psql_at, run,
    temp_dir,
};

const LIMIT: Duration = Duration::from_secs(60);

/// A cluster whose `public.goose_db_version` is at version 2 (ready for `GATE_EXPECT_VERSION=2`)
/// and whose schema `lagging` holds goose's table at version 0 (what a misread variable would
/// have pointed the gate at).
fn ready_with_a_lagging_copy() -> Postgres {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    pg.sql(
        "app",
        "CREATE SCHEMA lagging; GRANT USAGE ON SCHEMA lagging TO gate",
    );
    pg.goose_table("app", "lagging.goose_db_version", &[], Some("gate"));
    pg
}

/// Finding 1 (false open): a variable that decides what is checked, misnamed in a way the
/// near-miss rules do not catch, was only a warning, and the gate checked something else and
/// opened: `GATE_TABLE` (the next release's name for the table, already in the product
/// contract), `GOOSE_TABLENAME`, `GATE_MIGRATIONS`, `GATE_MIGRATIONS_DIRECTORY`,
/// `GOOSE_MIGRATIONS`, `GOOSE_DIR`, `GATE_VERSION`, `GATE_DSN`. Each must stop the gate (exit 2,
/// naming it), or, for `GATE_TABLE` once a release knows it, be honoured (not ready). Kubernetes
/// service links (`GATE_PORT`, `GATE_SERVICE_HOST`, and a Service named `gate-log`'s
/// `GATE_LOG_PORT`, which today is refused as a near miss of `GATE_LOG`) must not stop it.
#[test]
fn misnamed_variables_that_decide_what_is_checked_stop_the_gate() {
    let pg = ready_with_a_lagging_copy();
    let url = pg.url("gate", "app", "");
    let newer = migrations_dir(&[1, 2, 3]);
    let newer = newer.to_str().expect("utf-8 path");
    let lagging = "lagging.goose_db_version";
    let elsewhere = "postgres://gate@127.0.0.1:1/app";
    for (name, value, honoured) in [
        ("GATE_TABLE", lagging, true),
        ("GOOSE_TABLENAME", lagging, false),
        ("GATE_MIGRATIONS", newer, false),
        ("GATE_MIGRATIONS_DIRECTORY", newer, false),
        ("GOOSE_MIGRATIONS", newer, false),
        ("GOOSE_DIR", newer, false),
        ("GATE_VERSION", "3", false),
        ("GATE_DSN", elsewhere, false),
    ] {
        let r = run(gate_for("check", &url, "2").env(name, value), LIMIT);
        let named = r.code == Some(2) && r.stderr.contains(name);
        let read = honoured && r.code == Some(1);
        assert!(named || read, "{name}={value}: {r:?}");
    }
    for (name, value) in [
        ("GATE_PORT", "tcp://10.43.0.7:8099"),
        ("GATE_PORT_8099_TCP_ADDR", "10.43.0.7"),
        ("GATE_SERVICE_HOST", "10.43.0.7"),
        ("GATE_LOG_PORT", "tcp://10.43.0.8:8099"),
        ("GATE_LOG_SERVICE_PORT", "8099"),
    ] {
        let r = run(gate_for("check", &url, "2").env(name, value), LIMIT);
        assert_eq!(r.code, Some(0), "a service link {name}: {r:?}");
    }
}

/// Rewrites the PgBouncer's `[databases]` line so that every client's server connection logs
/// in as the superuser over `pg`'s Unix socket (a forced `user=`, as many poolers are set up),
/// and reloads it.
fn force_superuser_login(bouncer: &Bouncer, pg: &Postgres) {
    let ini = bouncer.dir.join("pgbouncer.ini");
    let text = std::fs::read_to_string(&ini).expect("pgbouncer.ini");
    let line = format!("* = host=127.0.0.1 port={}", pg.port);
    assert!(text.contains(&line), "{text}");
    let forced = format!(
        "* = host={} port={} user=postgres",
        pg.dir.display(),
        pg.port
    );
    std::fs::write(&ini, text.replace(&line, &forced)).expect("rewrite pgbouncer.ini");
    let status = Command::new("kill")
        .args(["-HUP", &bouncer.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    eventually(LIMIT, "PgBouncer logs in as the superuser", || {
        let url = bouncer.url("gate", "app", "");
        (psql_at(&url, "SELECT session_user") == "postgres").then_some(())
    });
}

/// Finding 2 (false open): another client of a pool whose server login is a superuser (a
/// PgBouncer `[databases]` entry with a forced `user=`) runs `SET SESSION AUTHORIZATION tenant`;
/// transaction mode runs no reset, so the pooled server connection keeps `tenant` as its
/// session user. The check's `SET LOCAL role TO DEFAULT` does not undo it: `"$user"` is `tenant`
/// and the gate read `tenant.goose_db_version`, a copy at version 2, and opened while goose's
/// `public.goose_db_version` is at version 1. The session's authorization must be reset too.
#[test]
fn another_clients_session_authorization_does_not_count() {
    let pg = Postgres::app(&[(1, true)]);
    pg.create_role("tenant");
    pg.sql(
        "app",
        "CREATE SCHEMA tenant AUTHORIZATION tenant; GRANT USAGE ON SCHEMA tenant TO gate",
    );
    pg.goose_table(
        "app",
        "tenant.goose_db_version",
        &[(1, true), (2, true)],
        Some("gate"),
    );
    pg.sql("app", "GRANT SELECT ON tenant.goose_db_version TO tenant");
    let bouncer = Bouncer::start_with_pool_size(&pg, &["gate", "tenant"], 1);
    force_superuser_login(&bouncer, &pg);
    let tenant = bouncer.url("tenant", "app", "");
    psql_at(&tenant, "SET SESSION AUTHORIZATION tenant");
    assert_eq!(psql_at(&tenant, "SELECT session_user"), "tenant");
    let r = run(
        gate_for("check", bouncer.url("gate", "app", ""), "2").arg("--json"),
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout
            .contains("\"resolved_table\":\"public.goose_db_version\""),
        "{r:?}"
    );
    assert_eq!(
        psql_at(&tenant, "SELECT session_user"),
        "tenant",
        "the check ran on the poisoned server connection"
    );
}

/// Finding 3 (false open): row-level security on goose's table filters what the gate's role
/// sees, while goose's role (the owner) sees every row. With a policy that shows the gate only
/// applied rows, a legacy rollback row `(2, false)` newer than `(2, true)` vanished and the gate
/// opened on version 2, which goose itself calls pending. The gate must read every row or none:
/// a table whose rows row-level security filters for the gate is a rejection (exit 3) that says
/// so.
#[test]
fn row_level_security_cannot_hide_rows_from_the_gate() {
    let pg = Postgres::app(&[(1, true), (2, true), (2, false)]);
    let r = run(gate_for("check", pg.url("gate", "app", ""), "2"), LIMIT);
    assert_eq!(r.code, Some(1), "goose's own reading: 2 is pending: {r:?}");
    pg.sql(
        "app",
        "ALTER TABLE goose_db_version ENABLE ROW LEVEL SECURITY; \
         CREATE POLICY applied_only ON goose_db_version FOR SELECT TO gate USING (is_applied)",
    );
    let r = run(gate_for("check", pg.url("gate", "app", ""), "2"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("row-level security"), "{r:?}");
    // Enabled with no policy at all, every row is hidden: the same rejection, not "behind".
    pg.sql("app", "DROP POLICY applied_only ON goose_db_version");
    let r = run(gate_for("check", pg.url("gate", "app", ""), "2"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("row-level security"), "{r:?}");
}

/// Finding 4 (secret leak): libpq's secret-holding keys, refused as DSN keys, were taken from
/// `options` (`-c scram_client_key=…`, `--oauth-client-secret=…`) as runtime parameters: their
/// values went to the server inside the check's SQL, and the server wrote them to its log
/// (`log_min_error_statement`). Any libpq connection key in `options` must be refused at
/// start-up, naming it, never its value.
#[test]
fn secret_libpq_keys_in_options_never_reach_the_server() {
    let pg = Postgres::app(&[(1, true)]);
    let secret = "Zq9SecretKeyMaterial";
    for options in [
        format!("-c%20scram_client_key%3D{secret}"),
        format!("--scram-server-key%3D{secret}"),
        format!("-c%20oauth_client_secret%3D{secret}"),
        format!("-c%20SCRAM_CLIENT_KEY%3D{secret}"),
        "-c%20sslmode%3Ddisable".to_string(),
    ] {
        let url = pg.url("gate", "app", &format!("options={options}"));
        let r = run(gate_for("check", &url, "1"), LIMIT);
        assert_eq!(r.code, Some(2), "{options}: {r:?}");
        assert!(r.stderr.contains("options"), "{options}: {r:?}");
        assert!(!r.all_output().contains(secret), "{options}: {r:?}");
    }
    let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
    assert!(!log.contains(secret), "the server logged it:\n{log}");
}

// ---- a scripted server, for what only a wrong endpoint or a MITM sends ----

/// A protocol message: type byte, length, body.
fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn read_packet(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    let mut body = vec![0u8; len.saturating_sub(4).min(1 << 16)];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// One client of a [`Scripted`] server, after its startup message (an SSLRequest was answered
/// `N`); a cancel request's connection is held open and never handed to the script.
type Play = fn(&mut TcpStream) -> std::io::Result<()>;

/// A fake server on a loopback port that plays `play` to every client; stops on drop.
struct Scripted {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Scripted {
    fn start(play: Play) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let Ok(mut body) = read_packet(&mut stream) else {
                        return;
                    };
                    let code = |b: &[u8]| {
                        b.get(..4)
                            .map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    };
                    if code(&body) == 80_877_102 {
                        // A cancel request: never answered, held until the gate hangs up.
                        let _ = std::io::copy(&mut stream, &mut std::io::sink());
                        return;
                    }
                    if code(&body) == 80_877_103 {
                        if stream.write_all(b"N").is_err() {
                            return;
                        }
                        body = match read_packet(&mut stream) {
                            Ok(body) => body,
                            Err(_) => return,
                        };
                    }
                    let _ = body;
                    let _ = play(&mut stream);
                });
            }
        });
        Scripted { port, stop }
    }

    fn url(&self, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "?" };
        format!(
            "postgres://gate:{PASSWORD}@127.0.0.1:{}/app{sep}{extra}",
            self.port
        )
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// AuthenticationOk.
fn auth_ok() -> Vec<u8> {
    message(b'R', &0u32.to_be_bytes())
}

/// AuthenticationOk, BackendKeyData, ReadyForQuery: a trust login.
fn trust_login() -> Vec<u8> {
    let mut out = auth_ok();
    let mut key = 4242u32.to_be_bytes().to_vec();
    key.extend_from_slice(&777u32.to_be_bytes());
    out.extend(message(b'K', &key));
    out.extend(message(b'Z', b"I"));
    out
}

/// Sends `batch(i)` for i = 0, 1, … until 2 GiB went out or the client hung up.
fn flood(stream: &mut TcpStream, batch: impl Fn(u64) -> Vec<u8>) -> std::io::Result<()> {
    let mut sent = 0u64;
    let mut i = 0u64;
    while sent < 2 << 30 {
        let bytes = batch(i);
        stream.write_all(&bytes)?;
        sent += bytes.len() as u64;
        i += 1;
    }
    // Everything sent: hold the connection until the gate hangs up.
    std::io::copy(stream, &mut std::io::sink())?;
    Ok(())
}

/// 16 NoticeResponses of 60 KB each.
fn notices(_: u64) -> Vec<u8> {
    let mut fields = b"SNOTICE\0VNOTICE\0C00000\0M".to_vec();
    fields.extend(std::iter::repeat_n(b'x', 60_000));
    fields.extend_from_slice(b"\0\0");
    let one = message(b'N', &fields);
    one.repeat(16)
}

/// 16 ParameterStatus messages of 60 KB, each naming a parameter not named before.
fn parameters(i: u64) -> Vec<u8> {
    (0..16)
        .flat_map(|j| {
            let mut body = format!("p{}\0", i * 16 + j).into_bytes();
            body.extend(std::iter::repeat_n(b'v', 60_000));
            body.push(0);
            message(b'S', &body)
        })
        .collect()
}

fn login_notices(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(&auth_ok())?;
    flood(stream, notices)
}

fn login_parameters(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(&auth_ok())?;
    flood(stream, parameters)
}

fn query_parameters(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(&trust_login())?;
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut query = vec![0u8; len.saturating_sub(4)];
    stream.read_exact(&mut query)?;
    flood(stream, parameters)
}

/// The highest anonymous memory (KiB) a run reached, killing it beyond `kill_kib` (so a gate
/// that eats memory fails the test without taking the machine with it), and the run.
#[allow(unsafe_code)]
fn run_capped(mut cmd: Command, kill_kib: u64) -> (Option<i32>, u64, Duration, String) {
    let dir = temp_dir("hunt-mem");
    let out = dir.join("stdout");
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::fs::File::create(&out).expect("stdout"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let anon = || -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .lines()
            .find(|l| l.starts_with("RssAnon:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = anon() {
            peak = peak.max(kib);
            if kib > kill_kib {
                let _ = child.kill();
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (status.code(), peak, started.elapsed(), stdout)
}

/// Finding 5 (memory): the 1 MiB frame cap bounds one message, not how many. tokio-postgres keeps
/// every NoticeResponse that arrives before ReadyForQuery (in a queue) and every
/// ParameterStatus name (in a map, also after the login), so a wrong endpoint or a MITM under
/// the default `sslmode=prefer` that floods small messages took the gate to 1 GB of anonymous
/// memory within the 5 s connect timeout (and the error then blamed "the pooler … has no
/// server"). What the server sends before it is ready, and its ParameterStatus messages, must
/// be bounded too: refused at once, memory under 16 MiB.
#[test]
fn floods_of_small_messages_cannot_exhaust_memory() {
    for (what, play) in [
        ("notices before ReadyForQuery", login_notices as Play),
        ("new parameters before ReadyForQuery", login_parameters),
        ("new parameters while the query runs", query_parameters),
    ] {
        let server = Scripted::start(play);
        let mut cmd = gate_for("check", server.url(""), "1");
        cmd.env("GATE_CONNECT_TIMEOUT", "20s")
            .env("GATE_QUERY_TIMEOUT", "20s");
        let (code, peak, took, stdout) = run_capped(cmd, 512 * 1024);
        eprintln!("{what}: exit {code:?} after {took:?}, anonymous memory peak {peak} KiB");
        assert!(peak < 16 * 1024, "{what}: the gate took {peak} KiB");
        assert_eq!(code, Some(3), "{what}: {stdout}");
        assert!(took < Duration::from_secs(10), "{what}: {took:?}");
        assert!(stdout.contains("hostile"), "{what}: {stdout}");
    }
}

/// A pipe whose buffer is full and whose reader never reads: a log collector that stalled (for
/// one, Docker's default `blocking` log mode when its driver cannot keep up). Returns the write
/// end for a child's stderr, and the read end, to keep open.
#[allow(unsafe_code)]
fn stalled_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two-element array it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let fd = fds[1];
    // SAFETY: fcntl and write on a descriptor owned above, with a valid buffer.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        let chunk = [b'x'; 4096];
        while libc::write(fd, chunk.as_ptr().cast(), chunk.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
    (write, read)
}

/// Whether a connection of the gate sits idle on `pg`: its first check has completed.
fn gate_connected(pg: &Postgres) -> Option<()> {
    let n = pg.sql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schema-gate' \
         AND state = 'idle'",
    );
    (n != "0").then_some(())
}

/// Finding 6 (hang): log lines were written to stderr with a blocking write on the runtime's
/// only thread. With stderr a pipe nobody drains, `wait`'s first log line blocked it for good:
/// SIGTERM and `GATE_TIMEOUT` were both ignored (still running 10 s later, until SIGKILL), and
/// `serve` answered no probe at all. A log line that cannot be written at once must be dropped:
/// the exit stays within its second, `GATE_TIMEOUT` holds, probes are answered.
#[test]
fn a_stalled_stderr_never_holds_the_gate() {
    let pg = Postgres::app(&[(1, true)]);
    let url = pg.url("gate", "app", "");
    // SIGTERM while waiting.
    let (write, _read) = stalled_pipe();
    let mut child = gate_for("wait", &url, "2")
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .spawn()
        .expect("spawn");
    eventually(LIMIT, "the gate's first check", || gate_connected(&pg));
    let sent = Instant::now();
    support::signal(&child, "TERM");
    let status = support::exit_or_kill(&mut child, sent + Duration::from_secs(10));
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(143), "{status:?} after {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // GATE_TIMEOUT.
    let (write, _read) = stalled_pipe();
    let started = Instant::now();
    let mut child = gate_for("wait", &url, "2")
        .env("GATE_TIMEOUT", "2s")
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .spawn()
        .expect("spawn");
    let status = support::exit_or_kill(&mut child, started + Duration::from_secs(15));
    assert_eq!(
        status.code(),
        Some(124),
        "{status:?} after {:?}",
        started.elapsed()
    );
    // serve answers probes.
    let (write, _read) = stalled_pipe();
    let port = free_port();
    let mut child = gate_for("serve", &url, "2")
        .env("GATE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .spawn()
        .expect("spawn");
    support::wait_listening(port, LIMIT, "serve");
    let (status, body) = support::http(port, "GET", "/livez");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((status, body.trim()), (200, "ok"));
}

/// Finding 7 (crash): with a small open-file limit (`ulimit -n 6` or `7`) the gate panicked in
/// tokio's signal set-up (`failed to create UnixStream`) and exited 101 with "internal error …
/// this is a bug". It must raise its soft limit where the hard limit allows (as `serve` already
/// did, and as Go programs do) and otherwise stop with a message naming the limit, never panic.
#[test]
#[allow(unsafe_code)]
fn a_tiny_open_file_limit_is_named_not_a_panic() {
    use std::os::unix::process::CommandExt;
    let pg = Postgres::app(&[(1, true)]);
    for limit in [6u64, 7, 8] {
        for hard in [limit, 4096] {
            let mut cmd = gate_for("check", pg.url("gate", "app", ""), "1");
            // SAFETY: setrlimit only, in the child before exec.
            unsafe {
                cmd.pre_exec(move || {
                    let rl = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
            let r = run(cmd, LIMIT);
            assert!(
                !r.stderr.contains("internal error"),
                "soft {limit}, hard {hard}: {r:?}"
            );
            if hard > limit {
                assert_eq!(r.code, Some(0), "soft {limit}, hard {hard}: {r:?}");
            } else {
                assert_eq!(r.code, Some(3), "soft {limit}, hard {hard}: {r:?}");
                assert!(r.stderr.contains("open files"), "{r:?}");
            }
        }
    }
}

/// AuthenticationCleartextPassword; notes whether the answer held the password, then refuses.
fn ask_for_the_password_in_clear(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(&message(b'R', &3u32.to_be_bytes()))?;
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut body = vec![0u8; len.saturating_sub(4).min(4096)];
    stream.read_exact(&mut body)?;
    let seen = String::from_utf8_lossy(&body).contains(PASSWORD);
    CLEARTEXT_SEEN.store(seen, Ordering::SeqCst);
    stream.write_all(&support::error_response("password authentication failed"))
}

static CLEARTEXT_SEEN: AtomicBool = AtomicBool::new(false);

/// Finding 8 (secret leak): under the default `sslmode=prefer` anyone who answers on the
/// database's address (a MITM, a wrong endpoint, a pod squatting on a Service's port) can decline
/// TLS and ask for AuthenticationCleartextPassword: the gate sent its password in the clear, as
/// libpq does without `require_auth`. Now it refuses such a request over unencrypted TCP (exit 3,
/// nothing sent) unless `require_auth` names `password`, which sends it knowingly.
#[test]
fn cleartext_password_stays_home() {
    let server = Scripted::start(ask_for_the_password_in_clear);
    for extra in ["", "sslmode=disable", "sslmode=allow", "require_auth=!md5"] {
        CLEARTEXT_SEEN.store(false, Ordering::SeqCst);
        let r = run(gate_for("check", server.url(extra), "1"), LIMIT);
        assert_eq!(r.code, Some(3), "{extra}: {r:?}");
        assert!(
            !CLEARTEXT_SEEN.load(Ordering::SeqCst),
            "{extra}: the gate sent its password in clear text to a server that declined TLS"
        );
        assert!(
            r.all_output().contains("clear text")
                && r.all_output().contains("require_auth=password"),
            "{extra}: {r:?}"
        );
        assert!(!r.all_output().contains(PASSWORD), "{r:?}");
    }
    // Named in require_auth: sent, knowingly (the server then refuses the login).
    let r = run(
        gate_for(
            "check",
            server.url("sslmode=disable&require_auth=password"),
            "1",
        ),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(CLEARTEXT_SEEN.load(Ordering::SeqCst), "{r:?}");
    assert!(
        r.all_output().contains("password authentication failed"),
        "{r:?}"
    );
}

/// Finding 9 (false open): the gate never asked who can write the table it trusts. On
/// PostgreSQL 13 and 14 every role may create in `public`, so whoever holds the gate's
/// credentials can create `public.goose_db_version` before goose's first run with a row for
/// every migration: the gate opens on a database where nothing was migrated (and goose, finding
/// its table, applies nothing either). The kit's role SQL now revokes CREATE on `public` from
/// PUBLIC (`tests/check.rs`, `least_privilege_role_sql_works`); the gate, which cannot tell such a
/// forgery from a deploy script's check with the migrator's own DSN, says at `warn` that its role
/// may write the table, and stays quiet for a role with SELECT only.
#[test]
fn a_version_table_the_gates_role_may_write_is_named_at_warn() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    // PostgreSQL 13's and 14's default for public.
    pg.sql("app", "GRANT CREATE ON SCHEMA public TO PUBLIC");
    // The attacker's rows, written by hand on purpose: no migration ran, so no goose wrote them.
    let forged = "CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, \
                  is_applied boolean NOT NULL, tstamp timestamp DEFAULT now()); \
                  INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true)";
    psql_at(&pg.url("gate", "app", ""), forged);
    let dir = migrations_dir(&[1, 2]);
    // Unqualified, and schema-qualified as the kit names it.
    let check = |table: &str| {
        run(
            gate_for("check", pg.url("gate", "app", ""), "2")
                .env("GATE_MIGRATIONS_DIR", &dir)
                .env("GOOSE_TABLE", table),
            LIMIT,
        )
    };
    for table in ["goose_db_version", "public.goose_db_version"] {
        let r = check(table);
        assert!(
            r.stderr.contains("WARN") && r.stderr.contains("may write public.goose_db_version"),
            "{table}: a table the gate's own role wrote was trusted without a word: {r:?}"
        );
    }
    // A role with SELECT only hears nothing of it.
    pg.sql(
        "app",
        "ALTER TABLE goose_db_version OWNER TO postgres; GRANT SELECT ON goose_db_version TO gate",
    );
    for table in ["goose_db_version", "public.goose_db_version"] {
        let r = check(table);
        assert_eq!(r.code, Some(0), "{table}: {r:?}");
        assert!(!r.stderr.contains("may write"), "{table}: {r:?}");
    }
}

/// Finding 8, second half (secret leak): encryption is not authentication. Under `sslmode=prefer`
/// (the default) or `require` without `sslrootcert` the gate accepts any certificate, so the MITM
/// or wrong endpoint of finding 8 need not decline TLS: it accepts it with a certificate of its
/// own and asks for AuthenticationCleartextPassword inside, and the gate sent its password. The
/// password now goes in clear text only to a server whose certificate was verified (a chain to
/// `sslrootcert`, or `verify-ca`/`verify-full`), over a Unix socket, or when `require_auth`
/// names `password`.
#[test]
fn cleartext_password_goes_only_to_a_verified_server() {
    let dir = temp_dir("unverified-tls");
    let certs = support::make_certs(&dir);
    let server = support::PgWire::start_tls(
        support::Script::AskCleartext,
        &certs.server_cert,
        &certs.server_key,
    );
    let sent = || server.passwords.load(Ordering::SeqCst);
    for extra in ["", "sslmode=prefer", "sslmode=require", "require_auth=!md5"] {
        let before = sent();
        let r = run(gate_for("check", server.url(extra), "1"), LIMIT);
        assert_eq!(r.code, Some(3), "{extra}: {r:?}");
        assert_eq!(
            sent(),
            before,
            "{extra}: the gate sent its password in clear text to a server whose certificate it never checked"
        );
        assert!(r.all_output().contains("clear text"), "{extra}: {r:?}");
        assert!(!r.all_output().contains(PASSWORD), "{r:?}");
    }
    // A verified server (the chain to sslrootcert), or require_auth=password: answered.
    let ca = certs.ca.display().to_string();
    for extra in [
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
        "sslmode=require&require_auth=password".to_string(),
    ] {
        let before = sent();
        let r = run(gate_for("check", server.url(&extra), "1"), LIMIT);
        assert_eq!(r.code, Some(3), "{extra}: {r:?}");
        assert_eq!(sent(), before + 1, "{extra}: {r:?}");
        assert!(
            r.all_output().contains("password authentication failed"),
            "{extra}: {r:?}"
        );
    }
}

/// The same against a real server whose pg_hba.conf says `password` (as LDAP, PAM, RADIUS and
/// cloud IAM tokens ask): answered inside TLS to a verified certificate, or when `require_auth`
/// names `password`; refused (exit 3, naming the way out) over TLS nobody verified.
#[test]
fn a_real_password_login_needs_a_verified_server_or_require_auth() {
    let dir = temp_dir("password-hba");
    let certs = support::make_certs(&dir);
    let pg = Postgres::app_with(support::PgOptions::tls(&certs), &[(1, true)]);
    pg.set_hba("host all all 127.0.0.1/32 password");
    let ca = certs.ca.display().to_string();
    for extra in [
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
        // allow: plaintext first; its clear-text request refused, TLS to the verified server.
        format!("sslmode=allow&sslrootcert={ca}"),
        "sslmode=require&require_auth=password".to_string(),
        "sslmode=disable&require_auth=password".to_string(),
    ] {
        let r = run(gate_for("check", pg.url("gate", "app", &extra), "1"), LIMIT);
        assert_eq!(r.code, Some(0), "{extra}: {r:?}");
    }
    for extra in [
        "sslmode=require",
        "sslmode=prefer",
        "sslmode=allow",
        "sslmode=disable",
    ] {
        let r = run(gate_for("check", pg.url("gate", "app", extra), "1"), LIMIT);
        assert_eq!(r.code, Some(3), "{extra}: {r:?}");
        assert!(
            r.all_output().contains("clear text") && r.all_output().contains("verify-full"),
            "{extra}: {r:?}"
        );
        assert!(!r.all_output().contains(PASSWORD), "{r:?}");
    }
}

/// SASL (SCRAM-SHA-256), then a SASLContinue with the client's nonce, a salt and an iteration
/// count of 4,000,000,000 (PostgreSQL's own default is 4,096); then silence.
fn scram_with_four_billion_iterations(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut sasl = 10u32.to_be_bytes().to_vec();
    sasl.extend_from_slice(b"SCRAM-SHA-256\0\0");
    stream.write_all(&message(b'R', &sasl))?;
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut body = vec![0u8; len.saturating_sub(4).min(4096)];
    stream.read_exact(&mut body)?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let nonce = text
        .split("r=")
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches('\0')
        .to_string();
    let mut cont = 11u32.to_be_bytes().to_vec();
    cont.extend_from_slice(format!("r={nonce}server,s=c2FsdHNhbHQ=,i=4000000000").as_bytes());
    stream.write_all(&message(b'R', &cont))?;
    // Held until the gate hangs up.
    std::io::copy(stream, &mut std::io::sink())?;
    Ok(())
}

/// Checked reviewing finding 8 (a stuck gate): SCRAM's iteration count is the server's to
/// choose, and PBKDF2 over it runs inside the connect future, where no timer can interrupt it: a
/// wrong endpoint or a MITM asking for 4 billion iterations would hold a CPU for an hour.
/// postgres-protocol 0.6.12 refuses counts over 100,000 before computing (PostgreSQL defaults to
/// 4,096); this guards that against an upgrade that drops the cap.
#[test]
fn a_scram_iteration_count_in_the_billions_is_refused_at_once() {
    let server = Scripted::start(scram_with_four_billion_iterations);
    let r = run(
        gate_for(
            "check",
            server.url("sslmode=disable&connect_timeout=2"),
            "1",
        ),
        Duration::from_secs(30),
    );
    assert!(r.code.is_some(), "still computing after 30 s: {r:?}");
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.all_output().contains("iteration count"), "{r:?}");
}
