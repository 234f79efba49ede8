"""Alert rules, the PrometheusRule made from them, and the Grafana dashboard: one source, the agreed metric names,
and alerts that fire in exactly the situations they name (promtool's unit tests, deploy/monitoring/alerts.test.yaml).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tools import ROOT, promtool

MONITORING = ROOT / "deploy" / "monitoring"
# The exporter's metrics, agreed with `python -m ranchersync exporter` (the histogram adds _bucket/_sum/_count).
METRICS = {
    "ranchersync_operations_total", "ranchersync_operation_duration_seconds_bucket",
    "ranchersync_operation_duration_seconds_sum", "ranchersync_operation_duration_seconds_count",
    "ranchersync_last_successful_sync_timestamp_seconds", "ranchersync_operations_running",
    "ranchersync_operations_interrupted", "ranchersync_site_up", "ranchersync_site_latency_seconds",
    "ranchersync_token_expiry_timestamp_seconds", "ranchersync_site_last_contact_timestamp_seconds",
    "ranchersync_approvals_pending", "ranchersync_environment_frozen", "ranchersync_quarantined_running",
    "ranchersync_verification_measurements_total", "ranchersync_locks_in_force",
    "ranchersync_scheduled_requests_waiting", "ranchersync_scheduled_requests_total",
}
LABELS = {"environment", "kind", "status", "site", "le", "verdict"}
ALERTS = {"RancherSyncOperationFailed", "RancherSyncOperationRunningTooLong", "RancherSyncOperationInterrupted",
          "RancherSyncTokenExpiringSoon", "RancherSyncSiteUnreachable", "RancherSyncExporterMissing",
          "RancherSyncQuarantinedImageRunning", "RancherSyncScheduledPromotionRefused"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]
            for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads((MONITORING / "grafana" / "dashboards" / "ranchersync.json").read_text())


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\branchersync_[a-z_]+\b", expr))


def test_the_prometheusrule_is_generated_from_alerts_yaml() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", MONITORING / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (MONITORING / "prometheusrule.yaml").read_text() == module.render(), \
        "run `python deploy/monitoring/generate.py` after editing alerts.yaml"


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    tool = str(promtool())
    checked = subprocess.run([tool, "check", "rules", "alerts.yaml"], cwd=MONITORING, capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([tool, "test", "rules", "alerts.test.yaml"], cwd=MONITORING, capture_output=True,
                            text=True, timeout=120, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = {t["alertname"] for case in yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())["tests"]
                     for t in case["alert_rule_test"]}
    assert tested_alerts >= ALERTS - {"RancherSyncOperationInterrupted"}


def test_the_issues_alerts_exist_with_a_severity_and_words_for_the_reader() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == ALERTS
    for rule in by_name.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert "7 * 86400" in by_name["RancherSyncTokenExpiringSoon"]["expr"]
    assert by_name["RancherSyncSiteUnreachable"]["for"] == "10m"
    assert by_name["RancherSyncOperationRunningTooLong"]["for"] == "30m"
    assert re.search(r'status=~"[^"]*failed[^"]*rolled_back', by_name["RancherSyncOperationFailed"]["expr"])


def test_alerts_and_dashboard_use_only_the_exporters_metric_names_and_labels() -> None:
    exprs = [rule["expr"] for rule in rules()]
    exprs += [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    used = set().union(*map(metric_names, exprs))
    assert used <= METRICS, used - METRICS
    assert len(used) >= 10, "the dashboard shows nearly every metric"
    for expr in exprs:
        for labels in re.findall(r"\{([^}]*)\}", expr):
            for label in re.findall(r"([a-z_]+)\s*=~?", labels):
                assert label in LABELS, (label, expr)
        for clause in re.findall(r"by \(([^)]*)\)", expr):
            assert {name.strip() for name in clause.split(",")} <= LABELS, expr


def test_the_grafana_dashboard_is_provisionable() -> None:
    board = dashboard()
    assert board["uid"] == "ranchersync"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "environment"} <= variables
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"]
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/ranchersync.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_prometheus_loads_alerts_yaml_and_scrapes_the_exporter() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in compose["services"]["prometheus"]["volumes"]
                  if volume.startswith("./"))
    assert mounts["./deploy/monitoring/alerts.yaml"] in config["rule_files"]
    target = config["scrape_configs"][0]["static_configs"][0]["targets"][0]
    host, port = target.split(":")
    assert host in compose["services"] and port in " ".join(compose["services"][host]["command"])
    assert Path(ROOT / "deploy/monitoring/prometheus.yml").is_file()
