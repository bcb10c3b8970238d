//! Reading the files a user names (`DATABASE_URL_FILE`, the password file, certificates): never
//! block, never swallow an endless file.
//!
//! Each file is opened without blocking (a FIFO with no writer must not hang start-up), must be
//! a regular file once symlinks are followed (Kubernetes mounts Secrets and ConfigMaps as
//! symlinks into `..data/`), and is read up to a size cap (`/dev/zero` must not grow the gate to
//! gigabytes). Errors say which of these failed; the caller names the variable.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Cap for a DSN or a password file.
pub const SMALL: u64 = 1 << 20;
/// Cap for a certificate or key file (CA bundles run to a few hundred KiB).
pub const CERTIFICATES: u64 = 4 << 20;

/// Reads all of `path`, a regular file of at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "{} is larger than {} KiB; is it the right file?",
            path.display(),
            cap / 1024
        ));
    }
    Ok(bytes)
}

/// Checks that `path` could be read by [`read_capped`] (exists, readable, a regular file within
/// `cap`), without reading it.
pub fn check_readable(path: &Path, cap: u64) -> Result<(), String> {
    let file = open_regular(path)?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > cap {
        return Err(format!(
            "{} is larger than {} KiB; is it the right file?",
            path.display(),
            cap / 1024
        ));
    }
    Ok(())
}

/// Opens `path` for reading without blocking, and refuses anything but a regular file (judged
/// on the opened file, so the answer holds for what is read).
fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file (a directory, device, FIFO or socket)",
            path.display()
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_endless_files() {
        assert!(
            read_capped(Path::new("/dev/zero"), SMALL)
                .is_err_and(|e| e.contains("not a regular file"))
        );
        assert!(
            read_capped(Path::new("/"), SMALL).is_err_and(|e| e.contains("not a regular file"))
        );
        assert!(
            read_capped(Path::new("/nonexistent/x"), SMALL)
                .is_err_and(|e| e.contains("cannot read"))
        );
        let dir = std::env::temp_dir().join(format!("sg-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; 2048]).expect("write");
        assert!(read_capped(&big, 1024).is_err_and(|e| e.contains("larger than 1 KiB")));
        assert!(check_readable(&big, 1024).is_err());
        assert_eq!(read_capped(&big, 4096).map(|b| b.len()), Ok(2048));
        assert!(check_readable(&big, 4096).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
