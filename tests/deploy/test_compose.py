"""compose.yaml without docker: every service, volume, profile, file and variable it uses exists, the order of start
is the one the app needs, and only loopback ports are published while sign-in is off."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest
import yaml

from tests.deploy.tools import ROOT

VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_variable_compose_reads_is_documented_in_env_example_and_vice_versa() -> None:
    used = set(VARIABLE.findall((ROOT / "compose.yaml").read_text()))
    documented = set(env_example())
    assert used == documented, (used - documented, documented - used)
    text = (ROOT / ".env.example").read_text()
    for name in documented:  # each one explained on the lines above it
        before = text.split(f"\n{name}=")[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), name


def test_every_service_volume_and_profile_referenced_exists() -> None:
    spec = compose()
    services, volumes = spec["services"], set(spec["volumes"])
    profiles = set()
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
        profiles |= set(service.get("profiles", []))
        assert "image" in service
    assert profiles == {"demo", "monitoring"}
    default = {name for name, s in services.items() if not s.get("profiles")}
    assert default == {"postgres", "migrate", "dashboard", "collector"}
    for name in default:  # `docker compose up` alone must not need a profile's service
        assert not set(services[name].get("depends_on", {})) - default


def test_postgres_17_is_healthy_before_the_migration_and_the_dashboard_waits_for_it() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:17")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "ranchersync", "db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["dashboard"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    url = services["dashboard"]["environment"]["RANCHERSYNC_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url


def test_the_collector_runs_by_default_after_the_key_exists_and_publishes_nothing() -> None:
    collector = compose()["services"]["collector"]
    assert collector["command"][:4] == ["python", "-m", "ranchersync", "collect"]
    alive = collector["command"][collector["command"].index("--alive-file") + 1]
    assert alive in " ".join(collector["healthcheck"]["test"]), "the healthcheck reads the file the loop touches"
    assert collector["depends_on"]["dashboard"]["condition"] == "service_healthy"
    assert "app-data:/app/data" in collector["volumes"] and "ports" not in collector


def test_without_sign_in_every_published_port_is_on_loopback() -> None:
    services = compose()["services"]
    assert services["dashboard"]["environment"]["RANCHERSYNC_AUTH"].endswith("none}")
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_the_demo_and_monitoring_profiles_have_what_they_promise() -> None:
    services = compose()["services"]
    demo = {name for name, s in services.items() if "demo" in s.get("profiles", [])}
    assert demo == {"rancher-eu", "rancher-us", "demo-seed"}
    sites = services["demo-seed"]["environment"]["RANCHERSYNC_DEMO_SITES"]
    for world in ("rancher-eu", "rancher-us"):
        assert f"{world}=http://{world}:8080" in sites
        assert (ROOT / "ranchersync/simulator/worlds" / f"{world}.yaml").is_file()
        assert f"/app/ranchersync/simulator/worlds/{world}.yaml" in services[world]["command"]
    monitoring = {name for name, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert monitoring == {"exporter", "prometheus", "grafana"}


CONTRACT_ARRIVING = {  # commands the deployment uses that arrive with other branches (DESIGN.md, Command line)
    "exporter": "the runtime branch (opsrt)", "check": "the notifications branch",
}


def commands() -> list[list[str]]:
    """Every `python -m ranchersync …` command line in compose.yaml and the rendered overlays."""
    from tests.deploy.tools import OVERLAYS, render

    texts = [yaml.safe_load((ROOT / "compose.yaml").read_text())]
    texts += [doc for overlay in OVERLAYS for doc in yaml.safe_load_all(render(overlay)) if doc]
    found: list[list[str]] = []

    def collect(command: Any) -> None:
        # only containers' commands: prose (alert texts, comments) may quote commands with placeholders
        if not isinstance(command, list):
            return
        if command[:3] == ["python", "-m", "ranchersync"]:
            found.append([str(part) for part in command[3:]])
        for part in command:
            for line in str(part).splitlines():
                if line.strip().startswith("python -m ranchersync "):
                    found.append(line.split("python -m ranchersync ", 1)[1].split())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("command", "args"):
                    collect(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for text in texts:
        walk(text)
    return found


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv[:2]))
def test_every_command_the_deployment_runs_is_accepted_by_the_cli(argv: list[str]) -> None:
    from ranchersync.cli import build_parser
    from ranchersync.simulator.cli import build_parser as simulator_parser

    argv = [arg.replace('"$file"', "backup.file") for arg in argv]
    if argv[0] == "simulate":
        simulator_parser().parse_args(argv[1:])
        return
    parser = build_parser()
    known = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if argv[0] not in known or (argv[0] == "db" and argv[1] not in _choices(known["db"])):
        pytest.skip(f"`{' '.join(argv[:2])}` arrives with {CONTRACT_ARRIVING.get(argv[0], 'the runtime branch')}")
    parser.parse_args(argv)


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    return set(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)
