# RADAR Interrupções container image.
#
# Targets (docs: README "Deploying"; the image build and smoke test: deploy/image/build-and-smoke.sh):
#   runtime         the host-built release binary (`cargo build --release` first), on
#                   debian:bookworm-slim. Builds offline: no Rust image needed.
#   runtime-oracle  runtime + Oracle Instant Client from a directory the operator provides
#                   (build argument INSTANT_CLIENT_DIR, default oracle-instantclient: the
#                   unzipped client, libclntsh.so at its top) + libaio.
#   from-source-oracle  builds the binary in a Rust image (RUST_IMAGE), then runtime-oracle:
#                   the Oracle image to deploy (docs/oracle.md, checklist step 3). A binary
#                   built on a host with a glibc newer than bookworm's 2.36 (e.g. Ubuntu
#                   24.04) does not start in runtime-oracle (GLIBC_2.38 not found).
#   from-source     builds the binary in a Rust image, then the same runtime as `runtime`.
#                   The last stage, so the default of a plain `docker build .` on a machine
#                   that can pull rust:* images.
#
# Every runtime runs as uid/gid 10001 (no shell login, no home), serves on 0.0.0.0:50051,
# and writes only under /srv/radar-interrupcoes/data (the demo SQLite database), so the
# root filesystem can be read-only: mount a volume (Kubernetes: an emptyDir) there, and one
# at /tmp for SQLite's and Instant Client's temporary files.

ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim

# ---------------------------------------------------------------------------------------
# Build stage (needs a Rust image; none can be pulled on the project's own machines).
FROM ${RUST_IMAGE} AS build
# The slim Rust image has gcc (SQLite and ODPI-C are C) but not make, which the allocator's
# build (jemalloc: configure and make, see src/allocator.rs) needs.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /usr/src/radar-interrupcoes
# Manifests and code only (.dockerignore keeps target/ and local data out of the context).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY sql ./sql
COPY src ./src
COPY benches ./benches
COPY tests ./tests
# The git revision `--version` shows (the context has no .git), e.g.
# --build-arg RADAR_GIT_REVISION="$(deploy/image-tag | sed 's/^[^-]*-//')"; build.rs reads it.
ARG RADAR_GIT_REVISION=unknown
RUN cargo build --release --locked \
    && install -D -m 0755 target/release/radar-interrupcoes /out/radar-interrupcoes

# ---------------------------------------------------------------------------------------
# What every runtime shares: the non-root user, the data directory, the defaults.
FROM ${DEBIAN_IMAGE} AS runtime-base
RUN groupadd --gid 10001 radar \
    && useradd --uid 10001 --gid radar --no-log-init --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin radar \
    && install -d -o radar -g radar -m 0750 /srv/radar-interrupcoes/data
WORKDIR /srv/radar-interrupcoes
# RADAR_SQLITE_PATH keeps its default, data/radar-interrupcoes-demo.sqlite, relative to
# this working directory: the demo database is created in the data volume.
ENV RADAR_LISTEN_ADDR=0.0.0.0:50051
# The ANEEL HTTP endpoint (answers only loopback clients until RADAR_ANEEL_API_KEYS or
# RADAR_ANEEL_API_KEYS_FILE is set) and the operations endpoint (/metrics, /livez, /readyz).
ENV RADAR_ANEEL_LISTEN_ADDR=0.0.0.0:8080
ENV RADAR_METRICS_LISTEN_ADDR=0.0.0.0:9464
EXPOSE 50051 8080 9464
VOLUME ["/srv/radar-interrupcoes/data"]
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/radar-interrupcoes"]

# What the Oracle variants add: libaio (Instant Client's one system dependency) and the
# client itself, found both by RADAR_ORACLE_CLIENT_LIB_DIR and by the dynamic loader.
FROM runtime-base AS oracle-base
USER 0:0
ARG INSTANT_CLIENT_DIR=oracle-instantclient
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libaio1=0.3.113-4 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY ${INSTANT_CLIENT_DIR}/ /opt/oracle/instantclient/
# Instant Client asks for libaio.so.1; Debian 13 and Ubuntu 24.04 ship only
# libaio.so.1t64, so make the link whenever the plain name is missing.
RUN test -e /opt/oracle/instantclient/libclntsh.so \
       || { echo "INSTANT_CLIENT_DIR=${INSTANT_CLIENT_DIR} holds no libclntsh.so: give the unzipped Instant Client directory" >&2; exit 1; } \
    && libdir="$(dirname "$(find /usr/lib /lib -name 'libaio.so.1*' -print -quit)")" \
    && { test -e "${libdir}/libaio.so.1" || ln -s "$(basename "$(find "${libdir}" -name 'libaio.so.1*' -print -quit)")" "${libdir}/libaio.so.1"; } \
    && echo /opt/oracle/instantclient > /etc/ld.so.conf.d/oracle-instantclient.conf \
    && ldconfig
ENV RADAR_ORACLE_CLIENT_LIB_DIR=/opt/oracle/instantclient
USER 10001:10001

# ---------------------------------------------------------------------------------------
# The Oracle image with the binary built in the Rust image (bookworm, like the runtime, so
# the binary's glibc symbols exist there). It comes before the stages that copy the
# host-built binary, so a builder that builds every stage up to its target (the classic
# `docker build` without BuildKit) needs no target/release/ for it.
FROM oracle-base AS from-source-oracle
COPY --from=build /out/radar-interrupcoes /usr/local/bin/radar-interrupcoes

# ---------------------------------------------------------------------------------------
# The host-built binary: `cargo build --release`, then `docker build --target runtime .`
FROM runtime-base AS runtime
ARG BINARY=target/release/radar-interrupcoes
COPY ${BINARY} /usr/local/bin/radar-interrupcoes

FROM oracle-base AS runtime-oracle
ARG BINARY=target/release/radar-interrupcoes
COPY ${BINARY} /usr/local/bin/radar-interrupcoes

# The binary built in the Rust image (the default target: the last stage).
FROM runtime-base AS from-source
COPY --from=build /out/radar-interrupcoes /usr/local/bin/radar-interrupcoes
