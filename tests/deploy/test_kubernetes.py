"""The Kubernetes manifests: every overlay renders, validates against Kubernetes 1.32, and keeps the promises of
docs/operations.md (restricted pods, probes, sticky websocket sessions, network rules, the jobs the app needs)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.tools import OVERLAYS, ROOT, render

KUBERNETES_VERSION = "1.32.0"
# Custom resources: kubernetes-validate ships only the built-in kinds' schemas, and the operators' CRD schemas are
# not packaged anywhere we install from; these are checked by the structure tests below instead.
CRDS_SKIPPED = {
    ("postgresql.cnpg.io/v1", "Cluster"): "CloudNativePG CRD; instances, backups and labels are asserted below",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "CloudNativePG CRD; its cluster reference is asserted below",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "Prometheus Operator CRD; its rules are alerts.yaml, checked "
                                                    "by promtool in test_monitoring.py",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "Prometheus Operator CRD; its selector is asserted below",
}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# Made outside these manifests, on purpose: by the operator of the installation or by another operator.
EXTERNAL = {
    "production": {("Secret", "ranchersync"), ("Secret", "ranchersync-db-app"), ("Secret", "ranchersync-db-backup"),
                   ("Secret", "ranchersync-tls"), ("Secret", "ranchersync-streamlit-secrets")},
    "demo": {("Secret", "ranchersync-streamlit-secrets")},
}


@cache
def objects(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(render(overlay)) if doc)


def find(overlay: str, kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects(overlay) if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{overlay}: expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    return template["metadata"].get("labels", {})


def workloads(overlay: str) -> Iterator[dict[str, Any]]:
    return (o for o in objects(overlay) if o["kind"] in WORKLOADS)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_kubernetes_1_32(overlay: str) -> None:
    checked = 0
    for obj in objects(overlay):
        key = (obj["apiVersion"], obj["kind"])
        if key in CRDS_SKIPPED:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{key} has no Kubernetes schema: a custom resource must be listed in CRDS_SKIPPED with why")
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 15


def test_the_secret_example_validates_and_is_never_applied() -> None:
    example = yaml.safe_load((ROOT / "deploy/kubernetes/base/secret.example.yaml").read_text())
    kubernetes_validate.validate(example, KUBERNETES_VERSION, strict=True)
    assert set(example["stringData"]) == {"RANCHERSYNC_SECRET_KEY", "RANCHERSYNC_DATABASE_URL"}
    for overlay in OVERLAYS:
        assert "replace-with-the-output-of-keys-generate" not in render(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_profile(overlay: str) -> None:
    namespace = next(o for o in objects(overlay) if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in workloads(overlay):
        spec, name = pod_spec(obj), f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        mounts_tmp_or_data = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert container["resources"]["limits"] and container["resources"]["requests"], name
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in mounts_tmp_or_data, f"{name}: /tmp must be an emptyDir"


def test_the_dashboard_runs_two_spread_replicas_probed_on_streamlits_health() -> None:
    dashboard = find("production", "Deployment", "ranchersync")
    assert dashboard["spec"]["replicas"] == 2
    container = pod_spec(dashboard)["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    keys = {c["topologyKey"] for c in pod_spec(dashboard)["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    hpa = find("production", "HorizontalPodAutoscaler", "ranchersync")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ranchersync" and hpa["spec"]["minReplicas"] >= 2
    pdb = find("production", "PodDisruptionBudget", "ranchersync")
    assert selects(pdb["spec"]["selector"], pod_labels(dashboard))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_two_collectors_share_the_lease_probed_on_the_file_their_loop_touches(overlay: str) -> None:
    collector = find(overlay, "Deployment", "ranchersync-collector")
    assert collector["spec"]["replicas"] == 2, "a stand-by takes the lease over within seconds"
    container = pod_spec(collector)["containers"][0]
    command = container["command"]
    assert command[:4] == ["python", "-m", "ranchersync", "collect"] and "--once" not in command
    alive = command[command.index("--alive-file") + 1]
    assert alive.startswith("/tmp/"), "the root filesystem is read-only; /tmp is the emptyDir"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert alive in " ".join(container[probe]["exec"]["command"]), probe
    assert "ports" not in container, "it listens on nothing"
    pdb = find(overlay, "PodDisruptionBudget", "ranchersync-collector")
    assert pdb["spec"]["maxUnavailable"] == 1 and selects(pdb["spec"]["selector"], pod_labels(collector))
    dashboard_pdb = find(overlay, "PodDisruptionBudget", "ranchersync")
    assert not selects(dashboard_pdb["spec"]["selector"], pod_labels(collector))


def test_the_ingress_keeps_a_browser_on_its_pod_and_its_websocket_open() -> None:
    ingress = find("production", "Ingress", "ranchersync")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert notes["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"
    hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= hosts, "every host is served over TLS"
    # proxy mode trusts the user headers: only the auth answer may set them
    assert "X-Auth-Request-Email" in notes["nginx.ingress.kubernetes.io/auth-response-headers"]
    config = find("production", "ConfigMap", "ranchersync")["data"]
    assert config["RANCHERSYNC_AUTH"] == "proxy" and config["RANCHERSYNC_USER_HEADER"] == "X-Auth-Request-Email"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_reference_points_at_an_object_that_exists(overlay: str) -> None:
    present = {(o["kind"], o["metadata"]["name"]) for o in objects(overlay)} | EXTERNAL[overlay]
    missing = set()
    for obj in workloads(overlay):
        spec = pod_spec(obj)
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if field in source and (kind, source[field]["name"]) not in present:
                        missing.add((obj["metadata"]["name"], kind, source[field]["name"]))
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ("Secret", ref["name"]) not in present:
                    missing.add((obj["metadata"]["name"], "Secret", ref["name"]))
        for volume in spec.get("volumes", []):
            for kind, field, key in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName"),
                                     ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName")):
                if field in volume and (kind, volume[field][key]) not in present:
                    missing.add((obj["metadata"]["name"], kind, volume[field][key]))
        if spec.get("serviceAccountName"):
            assert ("ServiceAccount", spec["serviceAccountName"]) in present
    assert not missing
    pods = [pod_labels(o) for o in workloads(overlay)]
    for service in (o for o in objects(overlay) if o["kind"] == "Service"):
        assert any(selects({"matchLabels": service["spec"]["selector"]}, labels) for labels in pods), \
            f"Service {service['metadata']['name']} selects no pod"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_cover_every_pod_and_allow_only_dns_database_and_rancher(overlay: str) -> None:
    policies = [o for o in objects(overlay) if o["kind"] == "NetworkPolicy"]
    for obj in workloads(overlay):
        labels = pod_labels(obj)
        types = {t for p in policies if selects(p["spec"]["podSelector"], labels) for t in p["spec"]["policyTypes"]}
        assert "Ingress" in types, f"{obj['kind']}/{obj['metadata']['name']} accepts connections from anywhere"
        if labels.get("app.kubernetes.io/name") == "ranchersync":
            assert "Egress" in types
    egress = find(overlay, "NetworkPolicy", "ranchersync-egress")["spec"]["egress"]
    ports = {port["port"] for rule in egress for port in rule["ports"]}
    assert {53, 5432, 443} <= ports
    everywhere = [r for r in egress if any("ipBlock" in peer for peer in r["to"])]
    assert all(peer["ipBlock"]["except"] == ["169.254.0.0/16"] for r in everywhere for peer in r["to"]), \
        "cloud metadata stays unreachable"
    assert [p["port"] for r in everywhere for p in r["ports"]] == [443]
    database_pods = [pod_labels(o) for o in workloads(overlay)]
    if overlay == "production":
        database_pods.append(find(overlay, "Cluster", "ranchersync-db")["spec"]["inheritedMetadata"]["labels"])
    db_rule = next(r for r in egress if r["ports"][0]["port"] == 5432)
    assert any(selects(db_rule["to"][0]["podSelector"], labels) for labels in database_pods), \
        "the database rule must match the database pods"
    dashboard_in = find(overlay, "NetworkPolicy", "ranchersync-dashboard-ingress")["spec"]["ingress"][0]["from"][0]
    assert dashboard_in["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_jobs_run_the_documented_commands(overlay: str) -> None:
    def command(kind: str, name: str) -> str:
        container = pod_spec(find(overlay, kind, name))["containers"][0]
        return " ".join(container.get("command", []) + container.get("args", []))

    assert command("Job", "ranchersync-migrate").endswith("python -m ranchersync db upgrade")
    assert command("CronJob", "ranchersync-check").endswith("python -m ranchersync check")
    assert "python -m ranchersync db backup --to" in command("CronJob", "ranchersync-backup")
    assert find(overlay, "CronJob", "ranchersync-check")["spec"]["concurrencyPolicy"] == "Forbid"
    assert command("CronJob", "ranchersync-scheduler").endswith("python -m ranchersync scheduler --once")
    assert find(overlay, "CronJob", "ranchersync-scheduler")["spec"]["concurrencyPolicy"] == "Forbid"
    assert "exporter" in command("Deployment", "ranchersync-exporter")
    assert find(overlay, "Deployment", "ranchersync-exporter")["spec"]["replicas"] == 1, "one exporter, no duplicates"


def test_production_runs_postgresql_with_cloudnativepg_and_point_in_time_backups() -> None:
    cluster = find("production", "Cluster", "ranchersync-db")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["backup"]["barmanObjectStore"]["wal"], "the WAL archive makes point-in-time recovery"
    backup = find("production", "ScheduledBackup", "ranchersync-db-nightly")
    assert backup["spec"]["cluster"]["name"] == "ranchersync-db"
    assert len(backup["spec"]["schedule"].split()) == 6, "CloudNativePG schedules have a seconds field"
    for obj in workloads("production"):
        env = {e["name"]: e for e in pod_spec(obj)["containers"][0].get("env", [])}
        url = env["RANCHERSYNC_DATABASE_URL"]["value"]
        assert url.startswith("postgresql+psycopg://$(DB_USER):$(DB_PASSWORD)@ranchersync-db-rw:5432/")
        names = list(env)
        assert names.index("DB_PASSWORD") < names.index("RANCHERSYNC_DATABASE_URL"), "$(VAR) needs the var first"
        assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "ranchersync-db-app"


def test_production_is_monitored_with_the_rules_and_dashboard_of_deploy_monitoring() -> None:
    rule = find("production", "PrometheusRule", "ranchersync")
    alerts = yaml.safe_load((ROOT / "deploy/monitoring/alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    monitor = find("production", "ServiceMonitor", "ranchersync")
    exporter = find("production", "Service", "ranchersync-exporter")
    assert selects(monitor["spec"]["selector"], exporter["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] == exporter["spec"]["ports"][0]["name"]
    dashboard = find("production", "ConfigMap", "ranchersync-grafana-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["ranchersync.json"] == (ROOT / "deploy/monitoring/grafana/dashboards/ranchersync.json"
                                                     ).read_text()


def test_the_api_has_its_own_ingress_without_the_dashboards_sign_in() -> None:
    api = find("production", "Ingress", "ranchersync-api")
    notes = api["metadata"]["annotations"]
    assert not any("auth-" in name for name in notes)  # the API checks its bearer tokens itself
    assert [(p["path"], p["pathType"]) for rule in api["spec"]["rules"] for p in rule["http"]["paths"]] == \
        [("/api/v1", "Prefix")]  # nothing but the API is reachable without signing in
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # the event stream flows as it happens
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert {rule["host"] for rule in api["spec"]["rules"]} <= {h for tls in api["spec"]["tls"] for h in tls["hosts"]}
    dashboard = find("production", "Ingress", "ranchersync")
    assert "auth-url" in " ".join(dashboard["metadata"]["annotations"])


def test_the_demo_brings_its_own_rancher_servers_and_one_postgresql_without_an_ingress() -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects("demo")}
    assert {("Deployment", "rancher-eu"), ("Deployment", "rancher-us"), ("StatefulSet", "postgres"),
            ("Job", "ranchersync-demo-seed")} <= kinds
    assert not any(kind in ("Ingress", "Cluster") for kind, _ in kinds)
    assert find("demo", "StatefulSet", "postgres")["spec"]["replicas"] == 1
    config = find("demo", "ConfigMap", "ranchersync")["data"]
    assert config["RANCHERSYNC_AUTH"] == "none" and config["RANCHERSYNC_ALLOW_ANONYMOUS"] == "1"
    seed = next(o for o in objects("demo") if o["metadata"]["name"].startswith("ranchersync-demo-seed")
                and o["kind"] == "ConfigMap")
    assert seed["data"]["demo_seed.py"] == (ROOT / "deploy/kubernetes/overlays/demo/demo_seed.py").read_text()


def test_production_has_no_anonymous_mode_nor_demo_values() -> None:
    text = render("production")
    assert "RANCHERSYNC_ALLOW_ANONYMOUS" not in text and "demo-only" not in text
