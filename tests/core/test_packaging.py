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


def dockerfile_stages() -> list[str]:
    """The Dockerfile's stages, each from its FROM line on (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return ["FROM" + part for part in re.split(r"^FROM", text, flags=re.M)[1:]]


def test_dockerfile_runs_as_non_root_with_exec_form_command_and_health_check() -> None:
    final = dockerfile_stages()[-1]
    users = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    start = re.search(r"^(?:CMD|ENTRYPOINT)\s+(.*)$", final, flags=re.M)
    assert start and start.group(1).startswith("["), "exec form, so signals reach Streamlit"
    assert re.search(r"^HEALTHCHECK .*_stcore/health", final, flags=re.M | re.S)


def test_the_image_builds_wheels_in_one_stage_and_installs_only_those_in_a_slim_final_one() -> None:
    builder, final = dockerfile_stages()
    assert re.match(r"FROM python:3\.\d+-slim AS builder", builder) and "pip wheel" in builder
    assert re.match(r"FROM python:3\.\d+-slim AS runtime", final)
    install = re.search(r"^RUN pip install (.*)$", final, flags=re.M)
    assert install and "--no-index" in install.group(1) and "--find-links=/wheels" in install.group(1)
    assert "COPY --from=builder /wheels /wheels" in final
    for compiler in ("apt-get", "gcc", "build-essential", "pip wheel", "-dev "):
        assert compiler not in final, f"{compiler} in the runtime stage"


def test_the_code_belongs_to_root_and_only_the_data_volume_to_the_app_user() -> None:
    final = dockerfile_stages()[-1]
    copies = re.findall(r"^COPY (.*)$", final, flags=re.M)
    assert "--chown" not in " ".join(copies), "the app user must not be able to rewrite the code"
    assert re.search(r"^COPY \. \.$", final, flags=re.M)
    assert re.search(r"chown app:app /app/data\b", final) and re.search(r"^VOLUME /app/data$", final, flags=re.M)
    assert final.index("VOLUME /app/data") < final.index("USER app")
    # the key file lives on the volume: without the volume (or RANCHERSYNC_SECRET_KEY) keys.py refuses to start
    assert re.search(r"RANCHERSYNC_KEY_FILE=/app/data/secret\.key", final)


def test_only_the_image_listens_on_every_address() -> None:
    final = dockerfile_stages()[-1]
    assert "--server.address=0.0.0.0" in final
    assert "0.0.0.0" not in (ROOT / "Makefile").read_text()


def test_the_image_context_leaves_out_secrets_tests_and_deployment_files() -> None:
    patterns = set((ROOT / ".dockerignore").read_text().split())
    assert {".streamlit/secrets.toml", ".env", "*.key", "*.db", "tests", "deploy", ".git", ".venv"} <= patterns


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


def test_readme_deployment_section_names_compose_and_kustomize() -> None:
    section = (ROOT / "README.md").read_text().split("\n## Deployment", 1)[1].split("\n## ", 1)[0]
    assert "docker compose up" in section and "kubectl apply -k deploy/kubernetes/overlays/" in section
    assert "docs/operations.md" in section


@pytest.mark.parametrize("ignore_file", [".gitignore", ".dockerignore"])
def test_secrets_and_state_are_ignored(ignore_file: str) -> None:
    patterns = set((ROOT / ignore_file).read_text().split())
    assert {".streamlit/secrets.toml", ".env", "*.key"} <= patterns
    assert "data" in patterns or "data/" in patterns
