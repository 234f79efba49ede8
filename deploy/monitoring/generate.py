"""Write prometheusrule.yaml from alerts.yaml: Kubernetes gets exactly the rules Prometheus loads in compose.

Run `python deploy/monitoring/generate.py` after editing alerts.yaml; tests/deploy fails while the two differ.
(kustomize cannot place a file's content into a field of another object, hence a generated copy.)
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
HEADER = "# Generated from alerts.yaml by generate.py: edit alerts.yaml, then run `python deploy/monitoring/generate.py`.\n"  # noqa: E501


def render() -> str:
    """The PrometheusRule object holding alerts.yaml's groups, as YAML text."""
    rules = yaml.safe_load((HERE / "alerts.yaml").read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ranchersync", "labels": {"app.kubernetes.io/name": "ranchersync"}},
        "spec": {"groups": rules["groups"]},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=120)


if __name__ == "__main__":
    (HERE / "prometheusrule.yaml").write_text(render())
