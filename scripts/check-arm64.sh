#!/usr/bin/env bash
# The linux/arm64 half of the Dockerfile's multi-arch build, without a Docker engine: the same
# cross-compile (cargo-zigbuild with zig, pinned as in the Dockerfile), then the check and wait
# integration tests run against the aarch64 binary under qemu user-mode emulation.
#
#   ./scripts/check-arm64.sh      (as root it installs qemu-user-static, ziglang, cargo-zigbuild)
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-musl
pins=$(grep -oE 'ziglang==[0-9.]+ cargo-zigbuild==[0-9.]+' Dockerfile)

if [ ! -x /usr/bin/qemu-aarch64-static ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
  else
    echo "check-arm64: qemu-aarch64-static missing: sudo apt-get install qemu-user-static" >&2; exit 1
  fi
fi
# shellcheck disable=SC2086 # $pins is two package specs
python3 -m pip install --quiet --disable-pip-version-check $pins
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

echo "== cargo zigbuild --release --target $target ($pins)"
cargo zigbuild --quiet --locked --release --target "$target"
bin=$PWD/target/$target/release/schema-gate
file -b "$bin" | grep -q 'ARM aarch64.*statically linked' || { echo "check-arm64: FAIL: $(file -b "$bin")" >&2; exit 1; }
echo "ok: $(file -b "$bin" | cut -d, -f1-2,4), $(stat -c %s "$bin") bytes"

echo "== integration tests against the arm64 binary (qemu)"
wrapper=$(mktemp)
trap 'rm -f "$wrapper"' EXIT
printf '#!/bin/sh\nexec /usr/bin/qemu-aarch64-static %s "$@"\n' "$bin" >"$wrapper"
chmod +x "$wrapper"
SCHEMA_GATE_BIN=$wrapper cargo test --quiet --locked --test check --test wait
