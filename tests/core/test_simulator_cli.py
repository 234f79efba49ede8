"""`simulate` as scripts use it: the first lines name the URL and token, /ping answers, SIGTERM stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ranchersync.simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]


def read_settings(process: subprocess.Popen[str], count: int) -> dict[str, str]:
    """The first KEY=VALUE lines the simulator prints."""
    assert process.stdout is not None
    lines = [process.stdout.readline().strip() for _ in range(count)]
    return dict(line.split("=", 1) for line in lines)


def stop(process: subprocess.Popen[str]) -> int:
    """Send SIGTERM and wait for a clean exit."""
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=10)
    return process.returncode


@pytest.mark.parametrize("module", [["ranchersync.simulator"], ["ranchersync", "simulate"]])
def test_cli_prints_url_and_token_then_serves_until_sigterm(module: list[str]) -> None:
    command = [sys.executable, "-m", *module, "--port", "0", "--token", "token-abcde:secret", "--world", "rancher-us"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        settings = read_settings(process, 2)
        assert settings["RANCHER_URL"].startswith("http://127.0.0.1:")
        assert settings["RANCHER_TOKEN"] == "token-abcde:secret"
        assert requests.get(settings["RANCHER_URL"] + "/ping", timeout=5).text == "pong"
        clusters = requests.get(settings["RANCHER_URL"] + "/v3/clusters", timeout=5,
                                headers={"Authorization": "Bearer token-abcde:secret"}).json()
        assert {c["id"] for c in clusters["data"]} == {"local", "c-m-7rb2kx9q", "c-7xk2p"}
        assert stop(process) == 0


def test_cli_takes_the_token_from_the_environment() -> None:
    command = [sys.executable, "-m", "ranchersync", "simulate"]
    env = {**os.environ, "RANCHERSYNC_SIMULATOR_TOKEN": "token-fghjk:from-env"}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        assert read_settings(process, 2)["RANCHER_TOKEN"] == "token-fghjk:from-env"
        assert stop(process) == 0


def test_cli_tls_prints_the_ca_file(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"clusters": [{"id": "c-abcde", "name": "solo", "objects": [
        {"kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
         "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}]}]}))
    command = [sys.executable, "-m", "ranchersync.simulator", "--tls", "--world", str(world)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        settings = read_settings(process, 3)
        assert settings["RANCHER_URL"].startswith("https://")
        ca_file = Path(settings["RANCHER_CA_FILE"])
        headers = {"Authorization": f"Bearer {settings['RANCHER_TOKEN']}"}
        answer = requests.get(settings["RANCHER_URL"] + "/k8s/clusters/c-abcde/apis/apps/v1/deployments",
                              headers=headers, verify=str(ca_file), timeout=5)
        assert [d["metadata"]["name"] for d in answer.json()["items"]] == ["web"]
        assert stop(process) == 0
    assert not ca_file.exists()


@pytest.mark.parametrize("argv", [["--token", "no-colon"], ["--error-rate", "2"], ["--port", "x"]])
def test_cli_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_reports_a_bad_world_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [{id: c-abcde, objects: [{kind: Service, metadata: {name: x}}]}]\n")
    assert main(["--world", str(broken)]) == 2
    assert "kind 'Service' is not served" in capsys.readouterr().err
