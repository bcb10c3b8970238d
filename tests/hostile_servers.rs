//! Hostile servers, and wrong endpoints under the default `sslmode=prefer`, against the gate:
//! a message header claiming gigabytes (in plaintext and inside TLS), an HTTP server on the
//! port, forged error text. The gate refuses at once with a database error (exit 3), its memory
//! stays under 16 MiB, and no server text reaches a log line or the termination message raw.

mod support;

use std::io::{Read, Write};
use std::time::Duration;
use support::{Memory, PgWire, Script, gate_for, make_certs, run, run_watching_memory, temp_dir};

const LIMIT: Duration = Duration::from_secs(60);
/// The bound on what a hostile server can make the gate allocate.
const CAP_KIB: u64 = 16 * 1024;

/// `check` against `url` with a long connect timeout (so a gate that waits for the gigabytes
/// is not saved by it), watched for memory.
fn check_watched(url: &str) -> (support::Run, Memory) {
    let mut cmd = gate_for("check", url, "1");
    cmd.env("GATE_CONNECT_TIMEOUT", "20s")
        .env("GATE_QUERY_TIMEOUT", "20s");
    run_watching_memory(cmd, LIMIT)
}

/// Refused at once, as a database error naming the cap, within the memory bound.
fn refused_within_bounds(what: &str, (r, memory): (support::Run, Memory)) {
    eprintln!(
        "{what}: exit {:?} after {:?}, anonymous memory peak {} KiB, peak RSS {} KiB",
        r.code, r.elapsed, memory.anon_peak_kib, memory.hwm_kib
    );
    assert!(
        memory.anon_peak_kib < CAP_KIB,
        "{what}: the gate took {} KiB",
        memory.anon_peak_kib
    );
    assert_eq!(r.code, Some(3), "{what}: {r:?}");
    assert!(
        r.elapsed < Duration::from_secs(10),
        "{what}: {:?}",
        r.elapsed
    );
    assert!(
        r.stdout.contains("more than the 1024 KiB the gate accepts"),
        "{what}: {r:?}"
    );
}

#[test]
fn an_authentication_message_claiming_2_gib_is_refused_at_once() {
    let server = PgWire::start(Script::HugeAuth(64));
    refused_within_bounds("plaintext R of 0x7FFFFFF0", check_watched(&server.url("")));
}

#[test]
fn a_300_mb_data_row_is_refused_at_once() {
    let server = PgWire::start(Script::HugeRow(64));
    refused_within_bounds(
        "plaintext DataRow of 300 MB",
        check_watched(&server.url("")),
    );
}

#[test]
fn inside_tls_the_same_cap_holds() {
    let dir = temp_dir("hostile-tls");
    let certs = make_certs(&dir);
    for (what, script) in [
        ("TLS R of 0x7FFFFFF0", Script::HugeAuth(64)),
        ("TLS DataRow of 300 MB", Script::HugeRow(64)),
    ] {
        let server = PgWire::start_tls(script, &certs.server_cert, &certs.server_key);
        // sslmode=prefer (the default) takes the TLS the server offers, and require too.
        refused_within_bounds(what, check_watched(&server.url("")));
        refused_within_bounds(what, check_watched(&server.url("sslmode=require")));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_http_server_on_the_port_is_named_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0u8; 512];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                std::thread::sleep(Duration::from_secs(60));
            });
        }
    });
    let url = format!("postgres://gate:{}@127.0.0.1:{port}/app", support::PASSWORD);
    let (r, memory) = check_watched(&url);
    refused_within_bounds("an HTTP server", (r, memory));
}

/// A server whose error text holds a newline, a forged log line, ANSI escapes.
const FORGED: &str =
    "no such role\nINFO ready: goose_db_version at version 99 (forged)\u{1b}[2J\u{1b}[31m";

#[test]
fn server_error_text_is_escaped_in_output_logs_and_termination_message() {
    let server = PgWire::start(Script::Error(FORGED.to_string()));
    let dir = temp_dir("forged");
    let term = dir.join("termination-log");
    for mode in ["check", "wait"] {
        let r = run(
            gate_for(mode, server.url(""), "1").env("GATE_TERMINATION_LOG", &term),
            LIMIT,
        );
        assert_eq!(r.code, Some(3), "{mode}: {r:?}");
        let message = std::fs::read_to_string(&term).expect("termination message");
        let said = if mode == "check" {
            &r.stdout
        } else {
            &r.stderr
        };
        for (what, text) in [("output", said), ("termination", &message)] {
            assert!(!text.contains('\u{1b}'), "{mode} {what}: {text:?}");
            assert!(
                !text.lines().any(|l| l.starts_with("INFO ready")),
                "{mode} {what}: a forged line: {text:?}"
            );
            assert!(
                text.contains("no such role\\nINFO ready"),
                "{mode} {what}: {text:?}"
            );
        }
        assert_eq!(message.lines().count(), 1, "{message:?}");
    }
    assert_eq!(
        run(gate_for("check", server.url(""), "1"), LIMIT)
            .stdout
            .lines()
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn long_server_error_text_is_cut_and_a_5_mb_one_refused() {
    let long = PgWire::start(Script::Error("x".repeat(200_000)));
    let r = run(gate_for("check", long.url(""), "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.len() < 2048,
        "{} bytes: {:.200}",
        r.stdout.len(),
        r.stdout
    );
    assert!(
        r.stdout.contains("(cut at 1024 of 2000"),
        "{:.2000}",
        r.stdout
    );
    let huge = PgWire::start(Script::Error("y".repeat(5 << 20)));
    let (r, memory) = check_watched(&huge.url(""));
    refused_within_bounds("a 5 MB error message", (r, memory));
}
