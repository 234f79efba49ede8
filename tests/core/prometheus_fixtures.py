"""A REAL Prometheus (Debian's server binary) on 127.0.0.1 scraping a tiny exporter whose error ratio a test sets:
the fixtures the verification tests, the dashboard's and the browser's share.

Test modules load the fixtures with `pytest_plugins` and import the helpers directly; PYTEST_DONT_REWRITE keeps
pytest from warning that a plugin module was imported before it could rewrite its asserts (it has none: it fails
with `pytest.fail`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import tools


class Exporter:
    """/metrics with two gauges per service: an error ratio (`ratio`, what the test sets) and a p95 latency in
    seconds (`latency`)."""

    def __init__(self) -> None:
        self.ratio = 0.0
        self.latency = 0.12
        # The series it serves (namespace, service): the demo's frontend in Prod; a benchmark adds its own.
        self.series: list[tuple[str, str]] = [("shop-prod", "frontend")]
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = ("# TYPE app_error_ratio gauge\n" + "".join(
                    f'app_error_ratio{{namespace="{ns}",service="{name}"}} {exporter.ratio}\n'
                    for ns, name in exporter.series) + "# TYPE app_latency_p95_seconds gauge\n" + "".join(
                    f'app_latency_p95_seconds{{namespace="{ns}",service="{name}"}} {exporter.latency}\n'
                    for ns, name in exporter.series)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(base: str, promql: str) -> list[Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
        return list(json.load(answer)["data"]["result"])


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    found = Exporter()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="module")
def prometheus(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on 127.0.0.1 scraping the exporter every 0.5 s; its base URL once it holds a sample."""
    with running_prometheus(exporter, tmp_path_factory.mktemp("prometheus")) as base:
        yield base


@contextmanager
def running_prometheus(exporter: Exporter, workdir: Path) -> Iterator[str]:
    """Prometheus on 127.0.0.1 scraping `exporter` every 0.5 s, in `workdir`, until the block ends (the tests'
    fixture and bench/verification.py)."""
    binary = tools.prometheus()
    (workdir / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "500ms"},
        "scrape_configs": [{"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}]}))
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if query(base, "app_error_ratio"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Prometheus did not start: " + (workdir / "prometheus.log").read_text()[-2000:])
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def set_ratio(exporter: Exporter, prometheus: str, ratio: float) -> None:
    """Set the exporter's ratio and wait until Prometheus serves it."""
    exporter.ratio = ratio
    deadline = time.monotonic() + 20
    while float(query(prometheus, "app_error_ratio")[0]["value"][1]) != ratio:
        if time.monotonic() > deadline:
            pytest.fail(f"Prometheus did not serve the ratio {ratio} within 20 s")
        time.sleep(0.2)


