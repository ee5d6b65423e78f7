#!/usr/bin/env bash
# Renders both variants (render.sh base, render.sh oracle) and validates them offline:
# - kubernetes-validate --strict against the Kubernetes 1.30 schemas (unknown or
#   misspelled fields fail), installed from PyPI into .venv;
# - the rules the service relies on, checked on the rendered objects (check.py): tagged
#   image, non-root user of the Dockerfile, read-only root filesystem, capabilities
#   dropped, native gRPC probes on the right health names, a termination grace above the
#   service's own drain time, a readable password file in the Oracle variant, and the
#   connection (RADAR_ORACLE_CONNECT_STRING, RADAR_ORACLE_USER) taken from render.sh's
#   environment;
# - render.sh oracle refusing to render without either of those two, naming it.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$repo/.venv"
kubernetes_version="${RADAR_KUBERNETES_VERSION:-1.30.0}"

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" \
        || { echo "validate.sh: python3 -m venv $venv failed" >&2; exit 1; }
    "$venv/bin/pip" install -q kubernetes-validate \
        || { echo "validate.sh: pip install kubernetes-validate failed" >&2; exit 1; }
fi

# One tag for the whole run, so rendering and checking agree even if HEAD moves meanwhile.
RADAR_IMAGE_TAG="${RADAR_IMAGE_TAG:-$("$repo/deploy/image-tag")}"
export RADAR_IMAGE_TAG
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The oracle variant takes its connection from the environment: without it, rendering
# must stop and name the missing setting (an operator never edits a committed file).
example=(RADAR_ORACLE_CONNECT_STRING=db-host:1521/SERVICE_PDB RADAR_ORACLE_USER=RADAR)
for missing in RADAR_ORACLE_CONNECT_STRING RADAR_ORACLE_USER; do
    given=()
    for pair in "${example[@]}"; do [ "${pair%%=*}" = "$missing" ] || given+=("$pair"); done
    if env -u RADAR_ORACLE_CONNECT_STRING -u RADAR_ORACLE_USER "${given[@]}" \
        "$repo/deploy/kubernetes/render.sh" oracle >/dev/null 2>"$out/render-error"; then
        echo "validate.sh: render.sh oracle succeeded without $missing" >&2; exit 1
    fi
    grep -q "set $missing" "$out/render-error" \
        || { echo "validate.sh: render.sh oracle without $missing did not name it:" >&2; cat "$out/render-error" >&2; exit 1; }
done
# Example values (a query string, as the docs recommend); check.py finds them in the
# rendered settings.
export RADAR_ORACLE_CONNECT_STRING="${RADAR_ORACLE_CONNECT_STRING:-db-host:1521/SERVICE_PDB?connect_timeout=10}"
export RADAR_ORACLE_USER="${RADAR_ORACLE_USER:-RADAR}"
for variant in base oracle; do
    "$repo/deploy/kubernetes/render.sh" "$variant" >"$out/$variant.yaml" \
        || { echo "validate.sh: rendering $variant failed" >&2; exit 1; }
    # kubernetes-validate reports only the first error of a file: one object per file.
    mkdir -p "$out/$variant"
    "$venv/bin/python" - "$out/$variant.yaml" "$out/$variant" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for i, doc in enumerate(docs):
    with open(f"{sys.argv[2]}/{i:02d}-{doc['kind']}-{doc['metadata']['name']}.yaml", "w") as f:
        yaml.safe_dump(doc, f)
PY
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$kubernetes_version" "$out/$variant"/*.yaml \
        || { echo "validate.sh: $variant manifests fail kubernetes-validate --strict (Kubernetes $kubernetes_version)" >&2; exit 1; }
    "$venv/bin/python" "$repo/deploy/kubernetes/check.py" "$variant" "$out/$variant.yaml" \
        "$repo/Dockerfile" "$RADAR_IMAGE_TAG" \
        || { echo "validate.sh: $variant manifests break a rule of the service (above)" >&2; exit 1; }
    echo "deploy/kubernetes $variant: valid (kubernetes-validate --strict, Kubernetes $kubernetes_version; check.py)"
done
