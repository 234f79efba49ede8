"""The deployment tests' outside tools, each installed where it cannot touch the project's own virtualenv.

- kubectl (kustomize built in): from the machine; README "What you need".
- checkov: in a virtualenv of its own under the user's cache folder, pinned, so its pinned dependencies never meet
  ours; made on first use (about two minutes) and reused.
- promtool and the prometheus server: taken out of Debian's `prometheus` package (`apt-get download` +
  `dpkg -x`, no service installed or started) into the same cache folder.
Missing tools skip the tests on a laptop; under CI=true they fail instead (like the PostgreSQL and browser suites).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOV_VERSION = "3.3.30"
OVERLAYS = ("production", "demo")


def cache_dir() -> Path:
    """Where installed tools are kept between runs (outside the work tree, so git never sees them)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "ranchersync-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(message: str) -> None:
    """Skip on a laptop; fail in CI, where every tool must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def kubectl() -> str:
    """The kubectl binary, or skip/fail."""
    path = shutil.which("kubectl")
    if path is None:
        unavailable("kubectl is not installed (it renders the kustomize overlays)")
    assert path is not None
    return path


@contextmanager
def installing(name: str) -> Iterator[None]:
    """One installer at a time per tool (parallel test workers share the cache folder)."""
    with open(cache_dir() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def checkov() -> Path:
    """checkov in its own virtualenv, pinned; installed on first use."""
    with installing("checkov"):
        return _checkov()


def _checkov() -> Path:
    env_dir = cache_dir() / f"checkov-{CHECKOV_VERSION}"
    binary = env_dir / "bin" / "checkov"
    if binary.exists():
        return binary
    shutil.rmtree(env_dir, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(env_dir)
    result = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"checkov=={CHECKOV_VERSION}"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if result.returncode != 0 or not binary.exists():
        shutil.rmtree(env_dir, ignore_errors=True)
        unavailable(f"checkov {CHECKOV_VERSION} could not be installed: {result.stderr[-2000:]}")
    return binary


def promtool() -> Path:
    """promtool from Debian's prometheus package, unpacked into the cache (never installed as a service)."""
    return _from_prometheus_deb("promtool")


def prometheus() -> Path:
    """The Prometheus server from the same package (scripts/grafana_twin.py runs it on loopback, in a temp dir)."""
    return _from_prometheus_deb("prometheus")


def _from_prometheus_deb(name: str) -> Path:
    found = shutil.which(name)
    if found:
        return Path(found)
    with installing("prometheus"):
        return _unpack_prometheus(name)


def _unpack_prometheus(name: str) -> Path:
    target = cache_dir() / "prometheus-deb"
    binary = target / "usr" / "bin" / name
    if binary.exists():
        return binary
    download = cache_dir() / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir()
    fetched = subprocess.run(["apt-get", "download", "prometheus"], cwd=download, capture_output=True, text=True,
                             timeout=300, check=False)
    debs = sorted(download.glob("prometheus_*.deb"))
    if fetched.returncode != 0 or not debs:
        unavailable(f"{name}: `apt-get download prometheus` failed (run `apt-get update` first?): "
                    f"{fetched.stderr[-1000:]}")
    subprocess.run(["dpkg", "-x", str(debs[0]), str(target)], check=True, timeout=120)
    shutil.rmtree(download, ignore_errors=True)
    return binary


def render(overlay: str) -> str:
    """`kubectl kustomize` of one overlay, as YAML text."""
    result = subprocess.run([kubectl(), "kustomize", str(ROOT / "deploy" / "kubernetes" / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


if __name__ == "__main__":  # `python -m tests.deploy.tools`: install the tools ahead of a test run
    print(checkov(), promtool(), file=sys.stderr)
