"""Gate queries: placeholders filled in safely, answers read into numbers, and every failure a QueryFailed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import responses
from responses import matchers

from ranchersync.kernel.errors import ValidationError
from ranchersync.rancher import RancherClient
from ranchersync.security.host_policy import HostPolicy
from ranchersync.verification.prometheus import (
    DirectPrometheus,
    MonitoringThroughRancher,
    QueryFailed,
    Subject,
    check_prometheus_url,
    check_query,
    render_query,
    values_of,
)

TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
SUBJECT = Subject(namespace="shop-prod", service="web", environment="Prod", image="reg/web:1.2")


def test_placeholders_are_filled_and_promql_braces_kept() -> None:
    query = 'sum(rate(http_requests_total{namespace="{namespace}",service="{service}",code=~"5.."}[2m]))'
    assert render_query(query, SUBJECT) == (
        'sum(rate(http_requests_total{namespace="shop-prod",service="web",code=~"5.."}[2m]))')
    assert render_query('up{env="{environment}",image="{image}"}', SUBJECT) == 'up{env="Prod",image="reg/web:1.2"}'


def test_a_hostile_value_cannot_leave_its_label_value() -> None:
    hostile = Subject(namespace="x", service="y", environment='Prod"} or vector(1) or up{a="\\', image="\n")
    rendered = render_query('up{env="{environment}",image="{image}"}', hostile)
    assert rendered == 'up{env="Prod\\"} or vector(1) or up{a=\\"\\\\",image="\\n"}'


@pytest.mark.parametrize("query", ["up{namespace='{namespace}'}", "{service}_requests_total", "up{a=`{image}`}",
                                   'up{a="unclosed}', "", "   "])
def test_queries_whose_placeholders_are_not_in_double_quotes_are_refused(query: str) -> None:
    with pytest.raises(ValidationError):
        check_query(query)


def test_a_well_formed_query_is_accepted() -> None:
    text = 'sum(rate(x{namespace="{namespace}",msg="a \\"{b}\\" c"}[1m])) / 2'
    assert check_query(text) == text


@pytest.mark.parametrize(("body", "values"), [
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.25"]}]}},
     [0.25]),
    ({"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}}, [3.0]),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}, {"value": [1, "NaN"]}]}},
     [1.0, float("nan")]),
    ({"status": "success", "data": {"resultType": "matrix", "result": [{"values": [[1, "1"], [2, "5"]]}]}}, [5.0]),
])
def test_answers_become_numbers(body: Any, values: list[float]) -> None:
    assert json.dumps(values_of(body)) == json.dumps(values)


@pytest.mark.parametrize(("body", "why"), [
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, "empty result"),
    ({"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}, "bad_data"),
    ({"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}, "not numbers"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "abc"]}]}}, "not a number"),
    ([1, 2], "not a Prometheus"),
])
def test_unusable_answers_fail_the_query(body: Any, why: str) -> None:
    with pytest.raises(QueryFailed, match=why):
        values_of(body)


@pytest.mark.parametrize("url", ["ftp://prom:9090", "prometheus:9090", "https://u:p@prom:9090", "http://prom/?q=1",
                                 "http://169.254.169.254/", "http://metadata.google.internal/"])
def test_a_prometheus_url_must_be_plain_http_and_allowed(url: str) -> None:
    with pytest.raises(ValidationError):
        check_prometheus_url(url, HostPolicy(resolve=lambda host: ["10.0.0.1"]))


def test_an_allow_list_holds_for_prometheus_too() -> None:
    policy = HostPolicy(("*.corp.example",), resolve=lambda host: ["10.0.0.1"])
    assert check_prometheus_url("https://prom.corp.example:9090/", policy) == "https://prom.corp.example:9090"
    with pytest.raises(ValidationError, match="RANCHERSYNC_ALLOWED_HOSTS"):
        check_prometheus_url("https://prom.elsewhere.example", policy)


def test_rancher_monitoring_is_asked_through_the_sites_proxy_with_its_token() -> None:
    base = "https://rancher.example.com"
    path = ("/k8s/clusters/c-m-1/api/v1/namespaces/cattle-monitoring-system/services/"
            "http:rancher-monitoring-prometheus:9090/proxy/api/v1/query")
    body = {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "0.01"]}]}}
    with responses.RequestsMock() as mock, RancherClient(base, TOKEN, retries=0) as client:
        mock.get(base + path, json=body, match=[matchers.query_param_matcher({"query": 'up{a="b"}'}),
                                                matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})])
        mock.get(base + path, status=503, body="no endpoints available")
        source = MonitoringThroughRancher(client, "c-m-1")
        assert source.query('up{a="b"}') == [0.01]
        with pytest.raises(QueryFailed, match="rancher-monitoring in cluster c-m-1") as caught:
            source.query("up")
        assert TOKEN.split(":")[1] not in str(caught.value)


class _Answer(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def do_POST(self) -> None:  # noqa: N802 (a query is POSTed: a batch of them is longer than a URL should be)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read, else closing resets the connection
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def huge_answer() -> Iterator[str]:
    handler = type("Huge", (_Answer,), {"body": b'{"status":"success","data":' + b" " * (2 * 1024 * 1024) + b"{}}"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_over_the_size_cap_fails_the_query(huge_answer: str) -> None:
    with pytest.raises(QueryFailed, match="larger than"):
        DirectPrometheus(huge_answer).query("up")


def test_an_unreachable_prometheus_fails_the_query() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(QueryFailed, match="could not be reached"):
        DirectPrometheus(f"http://127.0.0.1:{port}", deadline=2).query("up")


def test_a_refused_host_is_never_connected_to() -> None:
    policy = HostPolicy(resolve=lambda host: ["169.254.169.254"])  # DNS rebinding to the metadata address
    with pytest.raises(QueryFailed, match="could not be reached"):
        DirectPrometheus("http://prometheus.example", policy=policy).query("up")
