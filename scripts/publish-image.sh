#!/usr/bin/env bash
# Publishes REGISTRY/schema-gate:VERSION as one linux/amd64 + linux/arm64 manifest list, without a
# Docker engine: podman builds the Dockerfile's final stage once per platform from the static
# binaries (scripts/check-static.sh and scripts/check-arm64.sh build them, as the Dockerfile's
# compile stage would) and the CA bundle of the pinned base image, then assembles the list, pushes
# it, and (with COSIGN_KEY) signs it and attaches a signed SBOM. Prints the pushed list's digest:
# pin that (`REGISTRY/schema-gate:VERSION@sha256:…`) in the apps' Dockerfiles.
#
#   BASE_DIGEST=sha256:… scripts/publish-image.sh REGISTRY VERSION
#     e.g. scripts/publish-image.sh gitea.treytartt.com/honeydue 0.2.0
#
# Refuses unless: BASE_DIGEST pins BASE_IMAGE (sha256:<64 hex>, read from its registry:
#   skopeo inspect --raw docker://docker.io/library/rust:1.95-slim-bookworm | skopeo manifest-digest /dev/stdin
# ); the release is tagged (git tag vVERSION on HEAD, a clean work tree); both binaries report
# VERSION (`schema-gate --version`, from Cargo.toml's version). The release procedure is in the
# README ("Publishing a release").
#
# Environment: BASE_DIGEST (required), BASE_IMAGE (docker.io/library/rust:1.95-slim-bookworm: the
# image whose Debian CA bundle the gate image carries), TLS_VERIFY (true; false for a plain-HTTP
# registry, base images included), SOURCE (the source repository for the
# org.opencontainers.image.source label; default: git remote origin), AMD64_BIN and ARM64_BIN
# (the binaries; default: target/<triple>/release/schema-gate), COSIGN_KEY (a cosign private key;
# its password in COSIGN_PASSWORD: sign the list and each platform's image, and attach to each a
# CycloneDX SBOM of the crates in its binary as a signed attestation), COSIGN and CARGO_CYCLONEDX (the tools; default: built by
# scripts/peers/cosign.sh and scripts/peers/cargo-cyclonedx.sh). Log in first with
# `podman login REGISTRY` (cosign reads the same credentials). Needs podman and skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 2 ] || { echo "usage: BASE_DIGEST=sha256:… scripts/publish-image.sh REGISTRY VERSION" >&2; exit 2; }
registry=${1%/}
version=$2
tls_verify=${TLS_VERIFY:-true}
base_image=${BASE_IMAGE:-docker.io/library/rust:1.95-slim-bookworm}
base_digest=${BASE_DIGEST:-}
amd64=${AMD64_BIN:-target/x86_64-unknown-linux-musl/release/schema-gate}
arm64=${ARM64_BIN:-target/aarch64-unknown-linux-musl/release/schema-gate}
source=${SOURCE:-$(git remote get-url origin 2>/dev/null || true)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
image=$registry/schema-gate:$version

die() { echo "publish-image: $*" >&2; exit 1; }
if ! [[ $version =~ ^[0-9A-Za-z_][0-9A-Za-z_.-]*$ ]] || [ "$version" = latest ]; then
  die "VERSION '$version' is not a pinned tag"
fi
[[ $base_digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
  die "BASE_DIGEST '$base_digest' does not pin the base image: read it from the registry with
  skopeo inspect --raw docker://$base_image | skopeo manifest-digest /dev/stdin"
[[ $base_image != *@* ]] || die "BASE_IMAGE '$base_image' must be a name (and tag) only: the digest goes in BASE_DIGEST"
[ -n "$source" ] || die "no source repository: set SOURCE (the URL for the image's source label)"
case $tls_verify in true|false) ;; *) die "TLS_VERIFY must be true or false" ;; esac
[ -z "$(git status --porcelain 2>/dev/null)" ] || die "the work tree has uncommitted changes: publish a committed, tagged release"
git tag --points-at HEAD | grep -qx "v$version" || die "HEAD is not tagged v$version: tag the release first (git tag -a v$version)"
for bin in "$amd64" "$arm64"; do
  [ -x "$bin" ] || die "$bin missing: build it with scripts/check-static.sh and scripts/check-arm64.sh"
done
said=$("$amd64" --version)
[ "$said" = "schema-gate $version" ] || die "$amd64 says '$said', not 'schema-gate $version': set Cargo.toml's version and rebuild"

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
  # The build context holds the binary only: the CA bundle comes from the pinned base image.
  ctx=$work/$arch
  mkdir -p "$ctx"
  cp "$bin" "$ctx/schema-gate"
  one=localhost/schema-gate-publish-$$-$arch:$version
  echo "publish-image: building linux/$arch on $base_image@$base_digest"
  # The final stage only copies files: no emulation is needed for the foreign platform.
  podman build --quiet --no-cache --isolation chroot --platform "linux/$arch" --build-context "build=$ctx" \
    --tls-verify="$tls_verify" --build-arg "BASE_IMAGE=$base_image" --build-arg "BASE_DIGEST=$base_digest" \
    --build-arg "VERSION=$version" --build-arg "SOURCE=$source" --build-arg "REVISION=$revision" \
    -t "$one" . >/dev/null
  podman manifest add "$list" "containers-storage:$one" >/dev/null
done
echo "publish-image: pushing $image (linux/amd64, linux/arm64)"
podman manifest push --all --quiet --tls-verify="$tls_verify" "$list" "docker://$image"
skopeo inspect --raw --tls-verify="$tls_verify" "docker://$image" >"$work/list.json"
digest=$(skopeo manifest-digest "$work/list.json")
pinned=$registry/schema-gate@$digest

if [ -n "${COSIGN_KEY:-}" ]; then
  cosign=${COSIGN:-$(scripts/peers/cosign.sh)}
  cyclonedx=${CARGO_CYCLONEDX:-$(scripts/peers/cargo-cyclonedx.sh)}
  flags=(--key "$COSIGN_KEY" --tlog-upload=false --yes)
  [ "$tls_verify" = true ] || flags+=(--allow-insecure-registry --allow-http-registry)
  echo "publish-image: signing $pinned and each platform's image"
  "$cosign" sign "${flags[@]}" --recursive "$pinned" >"$work/cosign.log" 2>&1 || { cat "$work/cosign.log" >&2; die "cosign sign failed"; }
  for arch in amd64 arm64; do
    triple=x86_64-unknown-linux-musl
    [ "$arch" = arm64 ] && triple=aarch64-unknown-linux-musl
    one=$(python3 -c 'import json, sys
print(next(m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["platform"]["architecture"] == sys.argv[2]))' \
      "$work/list.json" "$arch")
    # The crates linked into this platform's binary, from Cargo's resolution: no dev or build
    # dependencies.
    "$cyclonedx" cyclonedx --quiet --format json --spec-version 1.5 --target "$triple" --no-build-deps \
      --override-filename "$(basename "$work")-$arch"
    mv "$(basename "$work")-$arch.json" "$work/sbom-$arch.cdx.json"
    echo "publish-image: attaching the linux/$arch SBOM to $registry/schema-gate@$one"
    "$cosign" attest "${flags[@]}" --type cyclonedx --predicate "$work/sbom-$arch.cdx.json" "$registry/schema-gate@$one" \
      >"$work/cosign.log" 2>&1 || { cat "$work/cosign.log" >&2; die "cosign attest failed"; }
  done
fi
echo "publish-image: pushed $image@$digest"
