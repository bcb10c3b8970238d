# syntax=docker/dockerfile:1
# schema-gate: a static musl binary on scratch, for linux/amd64 and linux/arm64.
#
# The one base image, pinned by digest for a release (BASE_DIGEST; scripts/publish-image.sh
# refuses to publish without it). Read the digest from the registry, never copy one from
# elsewhere: it is the manifest list's, so one digest pins every platform:
#   skopeo inspect --raw docker://docker.io/library/rust:1.95-slim-bookworm | skopeo manifest-digest /dev/stdin
#
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BASE_DIGEST=sha256:… \
#     --build-arg VERSION=0.1.0 --build-arg SOURCE=<repository URL> -t REGISTRY/schema-gate:0.1.0 --push .
#
# Without a Docker engine, scripts/publish-image.sh builds the final stage with podman from the
# tested static binaries (`--build-context build=DIR` replaces the compile stage, which must keep
# the name `build`; DIR holds only the binary) and pushes the same multi-arch list. The image's CA
# bundle always comes from the pinned base (Debian's ca-certificates, which the rust slim images
# carry), never from the machine that builds or publishes. An app image carries the gate by digest:
#   COPY --from=REGISTRY/schema-gate:0.1.0@sha256:… /schema-gate /usr/local/bin/schema-gate
#
# The build stage runs on the builder's own platform and cross-compiles with cargo-zigbuild
# (zig as the C compiler for ring), so no emulation is needed for arm64.

ARG BASE_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG BASE_DIGEST=
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE}${BASE_DIGEST:+@}${BASE_DIGEST} AS base

FROM base AS build
ARG TARGETARCH
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/* \
 && pip3 install --no-cache-dir --break-system-packages ziglang==0.15.2 cargo-zigbuild==0.24.1
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl > /target ;; \
      arm64) echo aarch64-unknown-linux-musl > /target ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && rustup target add "$(cat /target)"
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
RUN cargo zigbuild --locked --release --target "$(cat /target)" \
 && cp "target/$(cat /target)/release/schema-gate" /schema-gate

FROM scratch
ARG VERSION=0.1.0
ARG SOURCE=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="schema-gate" \
      org.opencontainers.image.description="Keeps Kubernetes pods from running against a stale goose schema: wait, serve, check." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}"
# CA bundle for sslmode=verify-full / sslrootcert=system (Neon's certificates chain to public
# roots): Debian's, from the pinned base image.
COPY --from=base /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /schema-gate /schema-gate
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Numeric, so runAsNonRoot can verify it without an /etc/passwd in the image.
USER 65532:65532
EXPOSE 8099
HEALTHCHECK NONE
ENTRYPOINT ["/schema-gate"]
CMD ["--help"]
