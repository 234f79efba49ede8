"""Verification against a REAL Prometheus (Debian's server binary) scraping a tiny exporter of this test, whose
error ratio the test sets, and the simulated Rancher: a passing gate completes the sync, a failing or inconclusive
one rolls it back on the cluster with its measurements recorded, and a crash loop during the soak rolls it back."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ranchersync.context import AppContext
from ranchersync.history import get_operation_detail
from ranchersync.history.payloads import operation_payload
from ranchersync.models import OutboxMessage
from ranchersync.simulator import SimulatedRancher, load_demo_world
from ranchersync.sync import ProgressEvent, SyncOptions
from ranchersync.verification import gates
from tests.builders import ADMIN
from tests.core.test_sync import EAST, WEST, apply, image, plan
from tests.deploy import tools

OPTIONS = SyncOptions(timeout_seconds=30, poll_seconds=0.2)
QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'


class Exporter:
    """/metrics with one gauge per service; `ratio` is what the test sets."""

    def __init__(self) -> None:
        self.ratio = 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = ("# TYPE app_error_ratio gauge\n"
                        f'app_error_ratio{{namespace="shop-prod",service="frontend"}} {exporter.ratio}\n').encode()
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _query(base: str, promql: str) -> list[Any]:
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
    binary = tools.prometheus()
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    (workdir / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "500ms"},
        "scrape_configs": [{"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}]}))
    port = _free_port()
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
                if _query(base, "app_error_ratio"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (workdir / "prometheus.log").read_text()[-2000:]
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def rancher_us(request: pytest.FixtureRequest) -> Iterator[SimulatedRancher]:
    """The demo's US Rancher; an indirect parameter names images that crash-loop once started."""
    crash = getattr(request, "param", None)
    with SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=0.5, crash_images=crash,
                          crash_seconds=0.4) as server:
        yield server


def _set_ratio(exporter: Exporter, prometheus: str, ratio: float) -> None:
    """Set the exporter's ratio and wait until Prometheus serves it."""
    exporter.ratio = ratio
    deadline = time.monotonic() + 20
    while float(_query(prometheus, "app_error_ratio")[0]["value"][1]) != ratio:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _add_gate(ctx: AppContext, prometheus: str, query: str = QUERY, inconclusive: str = "fail") -> None:
    with ctx.session() as session:
        gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url=prometheus, query=query, success="result < 0.05",
            interval_seconds=0.3, count=3, inconclusive=inconclusive))  # type: ignore[arg-type]


def _results(ctx: AppContext, operation_id: int) -> list[dict[str, Any]]:
    with ctx.session() as session:
        return list(operation_payload(get_operation_detail(session, operation_id), with_results=True)["results"])


def test_a_gate_that_passes_completes_the_sync(demo: AppContext, rancher_us: SimulatedRancher, exporter: Exporter,
                                               prometheus: str) -> None:
    _set_ratio(exporter, prometheus, 0.0)
    _add_gate(demo, prometheus)
    events: list[ProgressEvent] = []
    operation = apply(demo, plan(demo, "frontend"), OPTIONS, progress=events.append)
    assert operation.status == "complete"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.1")
    for result in _results(demo, operation.id):
        assert [(m["gate"], m["values"], m["verdict"]) for m in result["measurements"]] == [
            ("error-rate", [0.0], "pass")] * 3
    assert any("gate error-rate 3/3: 0 ✓" in e.message for e in events if e.stage == "verifying")


def test_a_gate_that_fails_rolls_the_sync_back(demo: AppContext, rancher_us: SimulatedRancher, exporter: Exporter,
                                               prometheus: str) -> None:
    _set_ratio(exporter, prometheus, 0.2)
    _add_gate(demo, prometheus)
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "rolled_back"
    for cluster in (EAST, WEST):  # put back on the cluster
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
    results = _results(demo, operation.id)
    failed = [r for r in results if r["status"] == "failed"]
    assert failed, results
    for result in failed:
        assert "verification failed: gate error-rate: 1 of 1 measurements failed" in result["error"]
        assert [(m["values"], m["verdict"]) for m in result["measurements"]] == [([0.2], "fail")]
    with demo.session() as session:
        assert session.query(OutboxMessage).filter_by(event="verification.failed").count() == 0  # no subscriber


@pytest.mark.parametrize(("inconclusive", "status"), [("fail", "rolled_back"), ("pass", "complete")])
def test_an_inconclusive_gate_counts_as_the_gate_says(demo: AppContext, rancher_us: SimulatedRancher,
                                                      prometheus: str, inconclusive: str, status: str) -> None:
    _add_gate(demo, prometheus, query='max(no_such_metric{namespace="{namespace}"})', inconclusive=inconclusive)
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == status
    measured = [m for r in _results(demo, operation.id) for m in r["measurements"]]
    assert measured and {m["verdict"] for m in measured} == {"inconclusive"}
    assert "empty result" in measured[0]["detail"]


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_a_crash_loop_during_the_soak_rolls_the_sync_back(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        gates.set_soak(session, ADMIN, "Prod", soak="4s")
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "rolled_back"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
    failed = [r for r in _results(demo, operation.id) if r["status"] == "failed"]
    assert failed and all("restarted" in r["error"] for r in failed)
    soak = [m for r in failed for m in r["measurements"] if m["gate"] == "soak"]
    assert soak and soak[0]["verdict"] == "fail" and soak[0]["values"][0] >= 1


def test_a_steady_version_holds_its_soak(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        gates.set_soak(session, ADMIN, "Prod", soak="2s")
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "complete"
    soak = [m for r in _results(demo, operation.id) for m in r["measurements"]]
    assert [(m["gate"], m["values"], m["verdict"]) for m in soak] == [("soak", [0], "pass")] * 2
