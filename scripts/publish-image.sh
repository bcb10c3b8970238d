#!/usr/bin/env bash
# Publishes REGISTRY/schema-gate:VERSION as one linux/amd64 + linux/arm64 manifest list, without a
# Docker engine: podman builds the Dockerfile's final stage once per platform from the static
# binaries (scripts/check-static.sh and scripts/check-arm64.sh build them, as the Dockerfile's
# compile stage would), then assembles the list and pushes it.
#
#   scripts/publish-image.sh REGISTRY VERSION
#     e.g. scripts/publish-image.sh gitea.treytartt.com/honeydue 0.2.0
#
# Environment: TLS_VERIFY (true; false for a plain-HTTP registry), SOURCE (the source repository
# for the org.opencontainers.image.source label; default: git remote origin), AMD64_BIN and
# ARM64_BIN (the binaries; default: target/<triple>/release/schema-gate). Log in first with
# `podman login REGISTRY`. Needs podman (Debian: apt-get install podman).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 2 ] || { echo "usage: scripts/publish-image.sh REGISTRY VERSION" >&2; exit 2; }
registry=${1%/}
version=$2
tls_verify=${TLS_VERIFY:-true}
amd64=${AMD64_BIN:-target/x86_64-unknown-linux-musl/release/schema-gate}
arm64=${ARM64_BIN:-target/aarch64-unknown-linux-musl/release/schema-gate}
source=${SOURCE:-$(git remote get-url origin 2>/dev/null || true)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
image=$registry/schema-gate:$version

die() { echo "publish-image: $*" >&2; exit 1; }
if ! [[ $version =~ ^[0-9A-Za-z_][0-9A-Za-z_.-]*$ ]] || [ "$version" = latest ]; then
  die "VERSION '$version' is not a pinned tag"
fi
[ -n "$source" ] || die "no source repository: set SOURCE (the URL for the image's source label)"
case $tls_verify in true|false) ;; *) die "TLS_VERIFY must be true or false" ;; esac
for bin in "$amd64" "$arm64"; do
  [ -x "$bin" ] || die "$bin missing: build it with scripts/check-static.sh and scripts/check-arm64.sh"
done

work=$(mktemp -d)
list=localhost/schema-gate-publish-$$:$version
cleanup() {
  podman manifest rm "$list" >/dev/null 2>&1 || true
  podman rmi -f "localhost/schema-gate-publish-$$-amd64:$version" "localhost/schema-gate-publish-$$-arm64:$version" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

podman manifest create "$list" >/dev/null
for arch in amd64 arm64; do
  bin=$amd64
  [ "$arch" = arm64 ] && bin=$arm64
  ctx=$work/$arch
  mkdir -p "$ctx/etc/ssl/certs"
  cp "$bin" "$ctx/schema-gate"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/ca-certificates.crt"
  one=localhost/schema-gate-publish-$$-$arch:$version
  echo "publish-image: building linux/$arch"
  # The final stage only copies files: no emulation is needed for the foreign platform.
  podman build --quiet --no-cache --isolation chroot --platform "linux/$arch" --build-context "build=$ctx" \
    --build-arg "VERSION=$version" --build-arg "SOURCE=$source" --build-arg "REVISION=$revision" \
    -t "$one" . >/dev/null
  podman manifest add "$list" "containers-storage:$one" >/dev/null
done
echo "publish-image: pushing $image (linux/amd64, linux/arm64)"
podman manifest push --all --quiet --tls-verify="$tls_verify" "$list" "docker://$image"
digest=$(skopeo inspect --raw --tls-verify="$tls_verify" "docker://$image" | sha256sum | cut -d' ' -f1)
echo "publish-image: pushed $image@sha256:$digest"
