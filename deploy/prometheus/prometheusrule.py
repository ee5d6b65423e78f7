"""Prints alerts.yml as a PrometheusRule (monitoring.coreos.com/v1) for the Prometheus Operator.

alerts.yml stays the one source of the rules (promtool checks and unit-tests it); the
monitoring component commits this script's output, and deploy/kubernetes/validate.sh fails
when the two differ. After changing alerts.yml:

    python3 deploy/prometheus/prometheusrule.py \
        > deploy/kubernetes/components/monitoring/prometheusrule.yaml
"""

import os
import sys

import yaml

HEADER = """\
# Generated from deploy/prometheus/alerts.yml by deploy/prometheus/prometheusrule.py: edit
# alerts.yml and run that script (deploy/kubernetes/validate.sh fails when they differ).
"""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "alerts.yml"), encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "radar-interrupcoes",
            "labels": {
                "app.kubernetes.io/name": "radar-interrupcoes",
                "app.kubernetes.io/part-of": "radar",
            },
        },
        "spec": {"groups": rules["groups"]},
    }
    sys.stdout.write(HEADER)
    yaml.safe_dump(rule, sys.stdout, sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    main()
