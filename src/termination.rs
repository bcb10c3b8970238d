//! The Kubernetes termination message: the last words of a failing init container.
//!
//! `kubectl describe pod` shows the contents of `/dev/termination-log` as the container's
//! "Message", so a failing `wait` or `check` writes its final verdict line there. Best effort:
//! failing to write it never changes the exit code, and it never blocks: the file is opened
//! without blocking and must be a regular file (a FIFO without a reader would hang `open`).

use crate::config::TerminationLog;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Kubernetes reads at most 4096 bytes of it.
const LIMIT: usize = 4096;

/// Writes `line` to the termination-message file, if there is one.
pub fn write(target: &TerminationLog, line: &str) {
    let mut options = std::fs::OpenOptions::new();
    options
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    let path = match target {
        // Only when the kubelet provided it: never create files under /dev.
        TerminationLog::Default => std::path::Path::new("/dev/termination-log"),
        TerminationLog::Path(path) => {
            options.create(true);
            path.as_path()
        }
    };
    let mut text = line.to_string();
    if text.len() > LIMIT {
        let mut cut = LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let written = options.open(path).and_then(|mut file| {
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other(
                "not a regular file (a FIFO, device or directory)",
            ));
        }
        file.set_len(0)?;
        file.write_all(text.as_bytes())
    });
    match written {
        Ok(()) => {}
        Err(e) if matches!(target, TerminationLog::Default) => {
            tracing::debug!(error = %e, "no termination-message file");
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot write the termination message")
        }
    }
}
