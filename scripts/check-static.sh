#!/usr/bin/env bash
# Builds the shipped binary as the Dockerfile does for linux/amd64 (static musl, release profile;
# linked by the host's toolchain, where the Dockerfile uses zig) and checks it: statically linked,
# within the 2.5 MiB size limit (2,621,440 bytes: the binary with every migration tool in it must
# fit; docs/design.md, "Binary size", says where the bytes go), and working against a real
# PostgreSQL, including by host *name* (musl's own resolver, no NSS, as in a scratch image):
# the check, wait and hostile-HTTP integration tests run against this binary instead of the
# debug build.
#
#   ./scripts/check-static.sh      (as root it installs musl-tools and the Rust target)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
limit=2621440   # 2.5 MiB

if ! command -v musl-gcc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
  else
    echo "check-static: musl-gcc missing: sudo apt-get install musl-tools" >&2; exit 1
  fi
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

echo "== cargo build --release --target $target"
CC_x86_64_unknown_linux_musl=musl-gcc cargo build --quiet --locked --release --target "$target"
bin=target/$target/release/schema-gate

if readelf -d "$bin" | grep -q NEEDED || readelf -l "$bin" | grep -q INTERP; then
  echo "check-static: FAIL: $bin is dynamically linked:" >&2
  readelf -d "$bin" | grep NEEDED >&2 || true
  exit 1
fi
echo "ok: statically linked ($(file -b "$bin" 2>/dev/null | cut -d, -f1-2 || echo static))"
size=$(stat -c %s "$bin")
if [ "$size" -gt "$limit" ]; then
  echo "check-static: FAIL: $bin is $size bytes, over the 2.5 MiB limit ($limit bytes) by $((size - limit));" \
    "see docs/design.md, \"Binary size\" (cargo bloat --release --target $target --crates)" >&2
  exit 1
fi
echo "ok: size $size bytes, $((limit - size)) bytes under the 2.5 MiB limit ($limit)"

echo "== integration tests against the static binary"
SCHEMA_GATE_BIN="$PWD/$bin" cargo test --quiet --locked --test check --test wait --test hostile
