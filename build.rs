//! Link flags for the static musl binary (docs/design.md, "Binary size").
//!
//! Packed relative relocations (`-z pack-relative-relocs`, DT_RELR): a static-pie binary carries
//! one 24-byte `R_X86_64_RELATIVE` entry per pointer in its data (vtables, string tables), 4,493
//! of them here (107,832 bytes); packed, they take 1,424 bytes, and the binary stays
//! position-independent (ASLR): -110,512 bytes measured. musl's start-up code applies DT_RELR
//! since 1.2.4 (Rust's self-contained musl is 1.2.5); GNU ld supports the flag since 2.38.
//! musl targets only (a glibc binary would need glibc 2.36's loader, and the test builds gain
//! nothing), and not through zig (`cargo zigbuild`, the Dockerfile's build): zig 0.15's `zig cc`
//! refuses the flag ("unsupported linker extension flag"), and needs none: it ignores
//! `-static-pie` and links a static non-PIE executable, with no run-time relocations at all.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl");
    // Cargo passes the linker it resolved for the target (cargo-zigbuild sets a `zigcc-…` one).
    let zig = std::env::var("RUSTC_LINKER").is_ok_and(|linker| linker.contains("zig"));
    if musl && !zig {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
