//! Link flags for the static musl binary (docs/design.md, "Binary size").
//!
//! Packed relative relocations (`-z pack-relative-relocs`, DT_RELR): a static-pie binary carries
//! one 24-byte `R_X86_64_RELATIVE` entry per pointer in its data (vtables, string tables), 4,493
//! of them here (107,832 bytes); packed, they take 1,424 bytes, and the binary stays
//! position-independent (ASLR): -110,512 bytes measured. musl's start-up code applies DT_RELR
//! since 1.2.4 (Rust's self-contained musl is 1.2.5); GNU ld supports the flag since 2.38.
//!
//! No unwind tables (`.eh_frame`, `.eh_frame_hdr`): with `panic = "abort"` nothing unwinds, and
//! the panic hook (`main.rs`) prints no backtrace, so nothing reads them. Rust's precompiled
//! standard library carries them whatever `-C force-unwind-tables` says, so the linker drops
//! them: the script below discards every input's `.eh_frame` except the C runtime's own
//! (`crtbegin*.o` registers its frame list at start-up and must find it), and
//! `--no-eh-frame-hdr` overrides rustc's `--eh-frame-hdr`: -311,376 bytes measured. A panic still
//! reports its message and `file:line`, then aborts (exit 134). zig's linker (LLD, the
//! Dockerfile's build) takes the same script, and keeps only a 12-byte empty header.
//!
//! musl targets only (a glibc binary would need glibc 2.36's loader, and the test builds gain
//! nothing). DT_RELR not through zig (`cargo zigbuild`): zig 0.15's `zig cc` refuses the flag
//! ("unsupported linker extension flag"), and needs none: it ignores `-static-pie` and links a
//! static non-PIE executable, with no run-time relocations at all.

use std::path::PathBuf;

/// The linker script fragment (`INSERT` keeps GNU ld's default script around it).
const NO_UNWIND_TABLES: &str = "\
SECTIONS
{
  /DISCARD/ : { *(EXCLUDE_FILE(*crtbegin.o *crtbeginS.o *crtend.o *crtendS.o) .eh_frame) }
}
INSERT AFTER .rodata;
";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl");
    // Cargo passes the linker it resolved for the target (cargo-zigbuild sets a `zigcc-…` one).
    let zig = std::env::var("RUSTC_LINKER").is_ok_and(|linker| linker.contains("zig"));
    if !musl {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let script = out.join("no-unwind-tables.ld");
    std::fs::write(&script, NO_UNWIND_TABLES).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    if !zig {
        println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
