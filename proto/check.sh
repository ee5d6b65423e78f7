#!/usr/bin/env bash
# The gRPC contract internal clients generate code from: `buf lint` (buf.yaml at the top of
# the repository: the STANDARD rules, with each exception and its reason), then `buf
# breaking` with the FILE rules against the contract clients already have:
#   - the last release tag reachable from HEAD, once releases are tagged;
#   - until then, main as it was: the previous commit when HEAD is on main (CI after a
#     merge), or the commit of main this branch starts from (a branch before landing);
#   - RADAR_BUF_AGAINST=<git ref> names another one.
# buf reads that revision from git history itself, so a shallow clone needs the history
# down to it. buf comes from npm (@bufbuild/buf, pinned below) into .venv/buf, installed
# on first use; nothing is installed system-wide.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
buf_version=1.75.0
buf="$repo/.venv/buf/node_modules/.bin/buf"

if [ ! -x "$buf" ] || [ "$("$buf" --version)" != "$buf_version" ]; then
    command -v npm >/dev/null \
        || { echo "proto/check.sh: npm is needed to install buf (Debian: apt-get install npm)" >&2; exit 1; }
    npm install --prefix "$repo/.venv/buf" --no-save --no-audit --no-fund \
        "@bufbuild/buf@$buf_version" >/dev/null \
        || { echo "proto/check.sh: npm install @bufbuild/buf@$buf_version failed" >&2; exit 1; }
fi

"$buf" lint || { echo "proto/check.sh: buf lint failed (above; rules and exceptions in buf.yaml)" >&2; exit 1; }
echo "proto: buf lint passed"

if [ -n "${RADAR_BUF_AGAINST:-}" ]; then
    against="$RADAR_BUF_AGAINST"
elif tag="$(git describe --tags --abbrev=0 HEAD 2>/dev/null)"; then
    against="$tag"
elif git rev-parse --verify -q main >/dev/null && ! git merge-base --is-ancestor HEAD main; then
    against="$(git merge-base HEAD main)"
else
    against="HEAD~1"
fi
# A shallow clone (CI's may be) lacks the revision before HEAD: fetch one more commit.
if ! git rev-parse --verify -q "$against^{commit}" >/dev/null \
    && [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    git fetch -q --deepen=1 origin >/dev/null 2>&1 || true
fi
commit="$(git rev-parse --verify -q "$against^{commit}")" \
    || { echo "proto/check.sh: no git revision $against to compare the protos with (a shallow clone? fetch more history, or set RADAR_BUF_AGAINST)" >&2; exit 1; }
"$buf" breaking --against ".git#ref=$commit,subdir=proto" \
    || { echo "proto/check.sh: the protos break clients generated from $against (${commit:0:12}), above. Add a field, an RPC or a v2 package instead of changing what exists." >&2; exit 1; }
echo "proto: no breaking change against $against (${commit:0:12})"
