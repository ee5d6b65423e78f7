"""Validates custom resources offline against the CRDs that define them.

kubernetes-validate carries the schemas of Kubernetes' own kinds only; the monitoring
component's ServiceMonitor and PrometheusRule are checked here instead, against the CRDs of
the prometheus-operator release committed in crds/ (see crds/README.md). Usage (validate.sh
calls it):

    crd_validate.py CRD_DIR OBJECT.yaml...

Each object is checked against the openAPIV3Schema of its apiVersion and kind, made strict
the way `kubectl apply --validate=strict` is: a field the schema does not define is an
error (the API server would drop it silently otherwise), except where the schema says
x-kubernetes-preserve-unknown-fields. Every error of every object is printed; the exit code
is 1 if there is one, or if an object's kind has no CRD. CEL rules
(x-kubernetes-validations) are not evaluated.
"""

import glob
import os
import sys

import jsonschema
import yaml

# ObjectMeta as far as these manifests use it; the API server checks the rest.
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def strict(schema):
    """The structural schema as JSON Schema, with unknown fields refused."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def load_crds(directory):
    """(apiVersion, kind) -> JSON Schema, for every served version of every CRD there."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    if not version.get("served"):
                        continue
                    schema = strict(version["schema"]["openAPIV3Schema"])
                    schema["properties"]["metadata"] = METADATA
                    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def main(crd_dir, paths):
    schemas = load_crds(crd_dir)
    if not schemas:
        raise SystemExit(f"crd_validate.py: no CustomResourceDefinition in {crd_dir}")
    problems = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        for obj in objects:
            what = f"{path}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
            schema = schemas.get((obj.get("apiVersion"), obj.get("kind")))
            if schema is None:
                print(f"{what}: no CRD for {obj.get('apiVersion')} {obj.get('kind')} in {crd_dir}", file=sys.stderr)
                problems += 1
                continue
            validator = jsonschema.Draft7Validator(schema)
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                field = ".".join(str(p) for p in error.absolute_path) or "(top)"
                print(f"{what}: {field}: {error.message}", file=sys.stderr)
                problems += 1
    return problems


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sys.exit(1 if main(sys.argv[1], sys.argv[2:]) else 0)
