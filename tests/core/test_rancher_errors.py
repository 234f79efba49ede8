"""Every error shape Rancher produces (rancher-api.md §1.4) becomes the right typed error with a readable message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from urllib3.exceptions import NameResolutionError, NewConnectionError

from ranchersync.errors import (
    ConflictError,
    MalformedResponse,
    NotFoundError,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    RancherSyncError,
    RancherUnavailable,
)
from ranchersync.rancher import Transport
from ranchersync.rancher.failures import CA_HINT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rancher"
BASE = "https://rancher.example.com"
TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
DEPLOY = "/k8s/clusters/c-m-9hh7fwlt/apis/apps/v1/namespaces/prod/deployments/web"


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def http() -> Iterator[Transport]:
    with_no_retries = Transport(BASE, TOKEN, retries=0, backoff=0)
    yield with_no_retries
    with_no_retries.close()


JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html"

# (case, method, path, status, body, content type, error class, fragments the message must contain)
CASES = [
    (
        "401 auth filter, status as a string",
        "GET",
        "/v3",
        401,
        fixture("error_401_auth_filter"),
        JSON,
        RancherAuthError,
        ["refused the API token", "HTTP 401 on GET /v3", "Unauthorized 401: must authenticate", "expired"],
    ),
    (
        "401 with an empty body (downstream Steve proxy)",
        "GET",
        "/k8s/clusters/c-m-9hh7fwlt/v1/namespaces",
        401,
        "",
        TEXT,
        RancherAuthError,
        [
            "refused the API token",
            "HTTP 401 on GET /k8s/clusters/c-m-9hh7fwlt/v1/namespaces",
            "no details from Rancher",
            "no access to this cluster",
        ],
    ),
    (
        "403 Norman, status as a number",
        "GET",
        "/v3/projects/c-m-9hh7fwlt:p-t4hzw",
        403,
        fixture("error_403_norman"),
        JSON,
        RancherAuthError,
        ["Permission denied", "HTTP 403 on GET /v3/projects/c-m-9hh7fwlt:p-t4hzw", 'cannot get resource "projects"'],
    ),
    (
        "403 Kubernetes Status through the proxy",
        "PATCH",
        DEPLOY,
        403,
        fixture("status_403"),
        JSON,
        RancherAuthError,
        ["Permission denied", f"HTTP 403 on PATCH {DEPLOY}", 'User "u-abcde" cannot patch resource "deployments"'],
    ),
    (
        "404 Norman",
        "GET",
        "/v3/clusters/c-abcde",
        404,
        fixture("error_404_norman"),
        JSON,
        RancherNotFound,
        ["Not found", "HTTP 404 on GET /v3/clusters/c-abcde", "failed to find resource by id"],
    ),
    (
        "404 Kubernetes Status",
        "GET",
        DEPLOY,
        404,
        fixture("status_404"),
        JSON,
        RancherNotFound,
        [f"HTTP 404 on GET {DEPLOY}", 'deployments.apps "web" not found'],
    ),
    (
        "409 Kubernetes Status",
        "PATCH",
        DEPLOY,
        409,
        fixture("status_409"),
        JSON,
        ConflictError,
        ["Conflict", f"HTTP 409 on PATCH {DEPLOY}", "the object has been modified", "plan again"],
    ),
    (
        "409 Steve",
        "PUT",
        "/k8s/clusters/c-m-9hh7fwlt/v1/apps.deployments/prod/web",
        409,
        fixture("error_409_steve"),
        JSON,
        ConflictError,
        ["HTTP 409 on PUT", "the object has been modified"],
    ),
    (
        "422 Norman",
        "POST",
        "/v3/users?action=changepassword",
        422,
        fixture("error_422_norman"),
        JSON,
        RancherAPIError,
        ["HTTP 422 on POST /v3/users", "must specify current password"],
    ),
    (
        "422 Kubernetes Invalid",
        "PATCH",
        DEPLOY,
        422,
        fixture("status_422_invalid"),
        JSON,
        RancherAPIError,
        ["HTTP 422 on PATCH", "spec.template.spec.containers[0].image: Required value"],
    ),
    (
        "410 Expired continue token",
        "GET",
        "/k8s/clusters/c-m-9hh7fwlt/api/v1/namespaces",
        410,
        fixture("status_410_expired"),
        JSON,
        RancherAPIError,
        ["HTTP 410 on GET", "continue parameter is too old"],
    ),
    (
        "503 Go struct from the cluster router",
        "GET",
        DEPLOY,
        503,
        fixture("cluster_unavailable"),
        JSON,
        RancherUnavailable,
        ["cluster is unavailable", f"HTTP 503 on GET {DEPLOY}", "cluster not found"],
    ),
    (
        "Go struct ClusterUnavailable even on another status",
        "GET",
        DEPLOY,
        500,
        fixture("cluster_unavailable"),
        TEXT,
        RancherUnavailable,
        ["cluster is unavailable", "HTTP 500", "cluster not found"],
    ),
    (
        "plain-text 500 from the proxy",
        "GET",
        DEPLOY,
        500,
        "dial tcp 10.43.0.1:443: connect: connection refused\n",
        TEXT,
        RancherAPIError,
        [f"HTTP 500 on GET {DEPLOY}", "dial tcp 10.43.0.1:443: connect: connection refused"],
    ),
    (
        "HTML 500 from a proxy",
        "GET",
        "/v3",
        500,
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Oops</h1></body></html>",
        HTML,
        MalformedResponse,
        ["HTML page instead of JSON", "HTTP 500 on GET /v3", "500 Internal Server Error", "proxy"],
    ),
    (
        "HTML 502 from an ingress",
        "GET",
        "/v3",
        502,
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center>nginx</center></body></html>",
        HTML,
        RancherUnavailable,
        ["unavailable", "HTTP 502 on GET /v3", "502 Bad Gateway"],
    ),
    (
        "HTML login page with status 200",
        "GET",
        "/v3",
        200,
        "<!DOCTYPE html><html><head><title>Sign in &ndash; Corp SSO</title></head><body></body></html>",
        HTML,
        MalformedResponse,
        ["HTML page", "Sign in – Corp SSO", "HTTP 200 on GET /v3", "instead of JSON"],
    ),
    ("empty 200", "GET", "/v3", 200, "", JSON, MalformedResponse, ["empty body", "HTTP 200 on GET /v3"]),
    ("plain text 200", "GET", "/v3", 200, "pong", TEXT, MalformedResponse, ["unexpected content (pong)"]),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "status", "body", "ctype", "error", "fragments"), CASES, ids=[c[0] for c in CASES]
)
def test_error_shapes(
    rsps: responses.RequestsMock,
    http: Transport,
    case: str,
    method: str,
    path: str,
    status: int,
    body: str,
    ctype: str,
    error: type[Exception],
    fragments: list[str],
) -> None:
    rsps.add(method, BASE + path, body=body, status=status, content_type=ctype)
    with pytest.raises(error) as info:
        http.request(method, path, json_body={} if method != "GET" else None)
    exc = info.value
    assert type(exc) is error, case
    assert isinstance(exc, RancherSyncError)
    assert isinstance(exc, RancherAPIError) and exc.status == status
    assert exc.url == BASE + path.split("?")[0]
    for fragment in fragments:
        assert fragment in str(exc), (case, fragment, str(exc))
    assert TOKEN not in str(exc) and "chcnszhx" not in repr(exc)


def test_not_found_is_also_the_generic_not_found(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + DEPLOY, body=fixture("status_404"), status=404, content_type=JSON)
    with pytest.raises(NotFoundError):
        http.request("GET", DEPLOY)


def test_redirects_are_not_followed(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + "/v3", status=302, headers={"Location": "https://sso.example.com/login?next=%2Fv3"})
    with pytest.raises(MalformedResponse, match=r"redirected GET /v3 to https://sso\.example\.com/login \(HTTP 302\)"):
        http.request("GET", "/v3")
    assert len(rsps.calls) == 1  # the token went nowhere else


def test_long_messages_are_clipped(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + "/v3", body="x" * 5000, status=500, content_type=TEXT)
    with pytest.raises(RancherAPIError) as info:
        http.request("GET", "/v3")
    assert len(str(info.value)) < 400 and str(info.value).endswith("…")


@pytest.mark.parametrize(
    ("raised", "fragment"),
    [
        (requests.exceptions.ConnectTimeout("timed out"), "Timed out connecting to rancher.example.com (GET /v3)"),
        (requests.exceptions.ReadTimeout("read timed out"), "did not answer in time (GET /v3)"),
        (
            requests.exceptions.SSLError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in chain"
            ),
            CA_HINT,
        ),
        (
            requests.exceptions.SSLError(
                "certificate verify failed: Hostname mismatch, certificate is not valid for 'rancher.example.com'"
            ),
            "not valid for this host name",
        ),
        (requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS handshake failed"),
        (
            requests.exceptions.ConnectionError(
                NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
            ),
            "the connection was refused",
        ),
        (
            requests.exceptions.ConnectionError(
                NameResolutionError("rancher.example.com", None, OSError("Name or service not known"))  # type: ignore[arg-type]
            ),
            "host name could not be resolved",
        ),
        (
            requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
            "connection was dropped",
        ),
        (requests.exceptions.ChunkedEncodingError("broken"), "broke while reading"),
    ],
    ids=[
        "connect-timeout",
        "read-timeout",
        "untrusted",
        "hostname",
        "tls-other",
        "refused",
        "dns",
        "dropped",
        "chunked",
    ],
)
def test_network_failures_become_unavailable(
    rsps: responses.RequestsMock, http: Transport, raised: Exception, fragment: str
) -> None:
    rsps.get(BASE + "/v3", body=raised)
    with pytest.raises(RancherUnavailable) as info:
        http.request("GET", "/v3")
    assert fragment in str(info.value)
    assert info.value.status is None and info.value.url == BASE + "/v3"
    assert info.value.__cause__ is raised  # kept for the log, never shown to users


def test_certificate_wording_is_exactly_what_users_see(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + "/v3", body=requests.exceptions.SSLError("certificate verify failed: unable to get local issuer"))
    with pytest.raises(RancherUnavailable) as info:
        http.request("GET", "/v3")
    assert str(info.value) == (
        "Cannot connect to rancher.example.com: certificate not trusted — upload the Rancher CA bundle or "
        "choose skip verification (GET /v3)."
    )


def test_a_server_echoing_the_token_is_scrubbed(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + "/v3", json={"type": "error", "status": 400, "message": f"bad header Bearer {TOKEN}"}, status=400)
    with pytest.raises(RancherAPIError) as info:
        http.request("GET", "/v3")
    assert TOKEN not in str(info.value) and "Bearer ***" in str(info.value)


def test_non_json_error_body_keeps_json_payload_fixture_valid() -> None:
    # The fixtures are the shapes the spec documents; keep them parseable so the simulator can reuse them.
    for path in FIXTURES.glob("*.json"):
        json.loads(path.read_text())
