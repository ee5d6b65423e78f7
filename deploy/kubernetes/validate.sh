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
# The oracle variant is rendered with every component (components/: monitoring,
# aneel-ingress); their custom resources (ServiceMonitor, PrometheusRule) are validated
# against the prometheus-operator CRDs committed in crds/ by crd_validate.py, which must
# also refuse a misspelled field (so it cannot pass by checking nothing); the committed
# PrometheusRule must be deploy/prometheus/prometheusrule.py's output; and render.sh must
# refuse an unknown component, and the ingress without its host or source ranges.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$repo/.venv"
kubernetes_version="${RADAR_KUBERNETES_VERSION:-1.30.0}"
crd_dir="${RADAR_CRD_DIR:-$repo/deploy/kubernetes/crds/prometheus-operator-v0.93.0}"

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

# The components' settings: refused when missing or wrong, naming the variable.
refused() {  # refused WHAT_THE_MESSAGE_NAMES VAR=VALUE...
    local named="$1"; shift
    if env -u RADAR_COMPONENTS -u RADAR_ANEEL_HOST -u RADAR_ANEEL_SOURCE_RANGES "$@" \
        "$repo/deploy/kubernetes/render.sh" base >/dev/null 2>"$out/render-error"; then
        echo "validate.sh: render.sh succeeded with $*" >&2; exit 1
    fi
    grep -q "$named" "$out/render-error" \
        || { echo "validate.sh: render.sh with $* did not name $named:" >&2; cat "$out/render-error" >&2; exit 1; }
}
refused "the components are: aneel-ingress monitoring" RADAR_COMPONENTS=monitoring,grafana
refused "set RADAR_ANEEL_HOST" RADAR_COMPONENTS=aneel-ingress RADAR_ANEEL_SOURCE_RANGES=203.0.113.0/24
refused "set RADAR_ANEEL_SOURCE_RANGES" RADAR_COMPONENTS=aneel-ingress RADAR_ANEEL_HOST=radar.example.com.br
refused "set RADAR_ANEEL_SOURCE_RANGES" RADAR_COMPONENTS=aneel-ingress RADAR_ANEEL_HOST=radar.example.com.br RADAR_ANEEL_SOURCE_RANGES=anywhere

# The PrometheusRule is alerts.yml, as committed.
"$venv/bin/python" "$repo/deploy/prometheus/prometheusrule.py" \
    | diff -u "$repo/deploy/kubernetes/components/monitoring/prometheusrule.yaml" - >&2 \
    || { echo "validate.sh: components/monitoring/prometheusrule.yaml is not deploy/prometheus/alerts.yml: run deploy/prometheus/prometheusrule.py (above: what differs)" >&2; exit 1; }

# The CRD validator refuses what the API server would: a misspelled field, a wrong type.
sed -e 's/scrapeTimeout:/scrapeTimout:/' "$repo/deploy/kubernetes/components/monitoring/servicemonitor.yaml" >"$out/misspelled.yaml"
if "$venv/bin/python" "$repo/deploy/kubernetes/crd_validate.py" "$crd_dir" "$out/misspelled.yaml" 2>"$out/crd-error"; then
    echo "validate.sh: crd_validate.py accepted a ServiceMonitor with a misspelled field" >&2; exit 1
fi
grep -q "scrapeTimout" "$out/crd-error" \
    || { echo "validate.sh: crd_validate.py did not name the misspelled field:" >&2; cat "$out/crd-error" >&2; exit 1; }

for variant in base oracle; do
    if [ "$variant" = oracle ]; then
        # Production, with every component; example values (documentation addresses).
        RADAR_COMPONENTS=monitoring,aneel-ingress RADAR_MONITORING_RELEASE=kube-prometheus-stack \
            RADAR_ANEEL_HOST=radar.example.com.br RADAR_ANEEL_SOURCE_RANGES=203.0.113.0/24,2001:db8::/32 \
            "$repo/deploy/kubernetes/render.sh" "$variant" >"$out/$variant.yaml" \
            || { echo "validate.sh: rendering $variant failed" >&2; exit 1; }
        grep -q "^kind: ServiceMonitor" "$out/$variant.yaml" && grep -q "^kind: Ingress" "$out/$variant.yaml" \
            || { echo "validate.sh: $variant rendered without its components" >&2; exit 1; }
    else
        env -u RADAR_COMPONENTS "$repo/deploy/kubernetes/render.sh" "$variant" >"$out/$variant.yaml" \
            || { echo "validate.sh: rendering $variant failed" >&2; exit 1; }
    fi
    # kubernetes-validate reports only the first error of a file: one object per file.
    # Custom resources (monitoring.coreos.com) go to the CRD validator instead.
    mkdir -p "$out/$variant" "$out/$variant-custom"
    "$venv/bin/python" - "$out/$variant.yaml" "$out/$variant" "$out/$variant-custom" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for i, doc in enumerate(docs):
    custom = doc["apiVersion"].startswith("monitoring.coreos.com/")
    with open(f"{sys.argv[3 if custom else 2]}/{i:02d}-{doc['kind']}-{doc['metadata']['name']}.yaml", "w") as f:
        yaml.safe_dump(doc, f)
PY
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$kubernetes_version" "$out/$variant"/*.yaml \
        || { echo "validate.sh: $variant manifests fail kubernetes-validate --strict (Kubernetes $kubernetes_version)" >&2; exit 1; }
    shopt -s nullglob
    custom=("$out/$variant-custom"/*.yaml)
    shopt -u nullglob
    if [ "${#custom[@]}" -gt 0 ]; then
        "$venv/bin/python" "$repo/deploy/kubernetes/crd_validate.py" "$crd_dir" "${custom[@]}" \
            || { echo "validate.sh: $variant custom resources fail their CRD schemas ($crd_dir)" >&2; exit 1; }
    fi
    "$venv/bin/python" "$repo/deploy/kubernetes/check.py" "$variant" "$out/$variant.yaml" \
        "$repo/Dockerfile" "$RADAR_IMAGE_TAG" \
        || { echo "validate.sh: $variant manifests break a rule of the service (above)" >&2; exit 1; }
    echo "deploy/kubernetes $variant: valid (kubernetes-validate --strict, Kubernetes $kubernetes_version; ${#custom[@]} custom resources against $(basename "$crd_dir") CRDs; check.py)"
done
