"""The container image and the project files a newcomer and CI rely on."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_exec_form_entrypoint_and_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    entrypoint = re.search(r"^ENTRYPOINT\s+(.*)$", text, flags=re.M)
    assert entrypoint and entrypoint.group(1).startswith("["), "exec form, so signals reach Streamlit"
    assert re.search(r"^HEALTHCHECK .*_stcore/health", text, flags=re.M | re.S)


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make run" in head and "make test" in head


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines[-1] == "make test"


def test_streamlit_config_states_its_protections_and_caps_uploads() -> None:
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["maxUploadSize"] == 1, "the only upload is a CA bundle"


def test_make_run_listens_on_loopback_only() -> None:
    streamlit = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("STREAMLIT :="))
    assert "--server.address 127.0.0.1" in streamlit


@pytest.mark.parametrize("ignore_file", [".gitignore", ".dockerignore"])
def test_secrets_and_state_are_ignored(ignore_file: str) -> None:
    patterns = set((ROOT / ignore_file).read_text().split())
    assert {".streamlit/secrets.toml", ".env", "*.key"} <= patterns
    assert "data" in patterns or "data/" in patterns
