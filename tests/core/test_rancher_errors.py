"""Every error shape Rancher produces (rancher-api.md §1.4) becomes the right typed error with a readable message,
and each failure is classified once, here in the core, with the exact title and hint users see on every screen."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from urllib3.exceptions import NameResolutionError, NewConnectionError

from ranchersync.kernel.errors import (
    ConflictError,
    MalformedResponse,
    NotFoundError,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    RancherSyncError,
    RancherUnavailable,
)
from ranchersync.rancher import Transport, TransportSettings
from tests.conftest import closed_port_url

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
    with_no_retries = Transport(BASE, TOKEN, settings=TransportSettings(retries=0, backoff=0))
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
        ["refused the API token", "HTTP 401 on GET /v3", "Unauthorized 401: must authenticate"],
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
        ["Conflict", f"HTTP 409 on PATCH {DEPLOY}", "the object has been modified"],
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
    redirected = r"redirected GET /v3 to https://sso\.example\.com/login \(HTTP 302\)"
    with pytest.raises(MalformedResponse, match=redirected) as info:
        http.request("GET", "/v3")
    assert len(rsps.calls) == 1  # the token went nowhere else
    # ...and the advice never sends it there: the site URL must be Rancher's own address.
    assert "sso.example.com" not in info.value.hint and "redirects to" not in str(info.value) + info.value.hint
    assert info.value.hint == (
        "The site URL must be Rancher's own address (its server-url setting). Redirects are not followed, because "
        "the API token would go with them."
    )


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
            "certificate not trusted",
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
    assert str(info.value) == "Cannot connect to rancher.example.com: certificate not trusted (GET /v3)."
    assert info.value.title == "The TLS certificate is not trusted"


def test_a_server_echoing_the_token_is_scrubbed(rsps: responses.RequestsMock, http: Transport) -> None:
    rsps.get(BASE + "/v3", json={"type": "error", "status": 400, "message": f"bad header Bearer {TOKEN}"}, status=400)
    with pytest.raises(RancherAPIError) as info:
        http.request("GET", "/v3")
    assert TOKEN not in str(info.value) and "Bearer ***" in str(info.value)


def test_non_json_error_body_keeps_json_payload_fixture_valid() -> None:
    # The fixtures are the shapes the spec documents; keep them parseable so the simulator can reuse them.
    for path in FIXTURES.glob("*.json"):
        json.loads(path.read_text())


# ---- each failure classified once, with the exact words users read (the CLI's `hint:`, the page's error box) ----

HINT_401 = (
    "Check that you pasted the whole bearer token (token-xxxxx:secret) and that it is not expired or disabled "
    "(Rancher → your avatar → Account & API Keys). A key scoped to one cluster is refused too: it cannot list "
    "clusters, so create a key with the scope 'No scope'."
)
HINT_503 = (
    "Rancher (or a proxy in front of it) answered but cannot serve this now: check that Rancher and the cluster "
    "are up in Rancher's own UI, then try again."
)
KUBE_503 = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "the server is currently unable to handle the request",
                       "reason": "ServiceUnavailable", "details": {}, "code": 503})
NGINX_503 = ("<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body><center>"
             "<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>")
CSRF_422 = json.dumps({"baseType": "error", "code": "InvalidCSRFToken", "message": "Invalid CSRF token",
                       "status": 422, "type": "error"})

# (case, method, path, status, body, content type, title, hint)
ANSWERS = [
    ("401", "GET", "/v3", 401, fixture("error_401_auth_filter"), JSON, "Rancher refused the token", HINT_401),
    ("401 on a cluster's API", "GET", "/k8s/clusters/c-m-9hh7fwlt/v1/namespaces", 401, "", TEXT,
     "Rancher refused the token",
     HINT_401 + " On a cluster's API Rancher also answers 401 when the token's user has no access to that cluster: "
     "add the user to it in Rancher (Cluster → Members)."),
    ("403", "PATCH", DEPLOY, 403, fixture("status_403"), JSON, "Permission denied",
     "The token works, but its user may not do this: use a token of a user whose role in that cluster or project "
     "allows it, or ask a Rancher administrator to grant it."),
    ("404", "GET", DEPLOY, 404, fixture("status_404"), JSON, "Not found in Rancher",
     "It may have been removed or renamed in Rancher: check the app instance's cluster and namespace, then refresh."),
    ("409", "PATCH", DEPLOY, 409, fixture("status_409"), JSON, "The object changed meanwhile",
     "Someone changed it since it was read; nothing was overwritten. Re-read it and plan again."),
    ("422", "PATCH", DEPLOY, 422, fixture("status_422_invalid"), JSON, "Rancher refused the request as invalid",
     "Rancher's validation names what is wrong in the details: correct it (often the source workload's image), "
     "then try again."),
    ("422 CSRF", "POST", "/v3/clusters", 422, CSRF_422, JSON, "Rancher's CSRF check refused the request",
     "Rancher treats a request with a browser's User-Agent ('Mozilla…') as a browser's: connect to Rancher "
     "directly, not through a proxy that rewrites the User-Agent."),
    ("429", "GET", DEPLOY, 429, fixture("status_429"), JSON, "Rancher is limiting requests",
     "Too many requests in a short time: wait a moment, then try again. Rancher asks to wait 1 s."),
    ("503 from the Kubernetes API", "GET", DEPLOY, 503, KUBE_503, JSON, "Rancher or the cluster is unavailable",
     HINT_503),
    ("503 from the ingress", "GET", "/v3", 503, NGINX_503, HTML, "Rancher or the cluster is unavailable", HINT_503),
    ("503 ClusterUnavailable", "GET", DEPLOY, 503, fixture("cluster_unavailable"), JSON, "The cluster is unavailable",
     "Rancher answers, but this cluster is disconnected or not ready: check its state in Rancher's Cluster "
     "Management."),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "status", "body", "ctype", "title", "hint"), ANSWERS, ids=[a[0] for a in ANSWERS]
)
def test_each_answer_has_its_own_title_and_hint(
    rsps: responses.RequestsMock, http: Transport, case: str, method: str, path: str, status: int, body: str,
    ctype: str, title: str, hint: str,
) -> None:
    rsps.add(method, BASE + path, body=body, status=status, content_type=ctype)
    with pytest.raises(RancherAPIError) as info:
        http.request(method, path, json_body={} if method != "GET" else None)
    assert (info.value.title, info.value.hint) == (title, hint), case
    assert info.value.exit_code == 1


def test_a_503_is_never_explained_as_a_disconnected_cluster(rsps: responses.RequestsMock, http: Transport) -> None:
    # Seen by a new user: Rancher's own 503 was explained as "this cluster is disconnected", by word matching.
    for body, ctype in ((KUBE_503, JSON), (NGINX_503, HTML), ("", TEXT)):
        rsps.get(BASE + "/v3", body=body, status=503, content_type=ctype)
        with pytest.raises(RancherUnavailable) as info:
            http.request("GET", "/v3")
        assert "disconnected" not in info.value.title + info.value.hint
        rsps.reset()


DNS = requests.exceptions.ConnectionError(
    NameResolutionError("rancher.example.com", None, OSError("[Errno -2] Name or service not known"))  # type: ignore[arg-type]
)
UNTRUSTED = requests.exceptions.SSLError(ssl.SSLCertVerificationError(
    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain"))
WRONG_HOST = ssl.SSLCertVerificationError(
    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for "
    "'rancher.example.com'.")
WRONG_HOST.verify_code = 62

# (case, raised, title, hint)
NO_ANSWER = [
    ("dns", DNS, "The host name is unknown",
     "Check the host name in the URL for a typo; an internal name may need the company's VPN or DNS."),
    ("connect timeout", requests.exceptions.ConnectTimeout("timed out"), "Rancher did not answer in time",
     "Nothing answered the connection: check that this machine can reach that address (VPN, proxy, firewall), "
     "then try again."),
    ("read timeout", requests.exceptions.ReadTimeout("read timed out"), "Rancher did not answer in time",
     "Rancher accepted the connection but did not answer: it or the cluster may be overloaded. Try again in a "
     "moment."),
    ("untrusted certificate", UNTRUSTED, "The TLS certificate is not trusted",
     "Upload the CA bundle that signed Rancher's certificate (Rancher shows it under Global Settings → cacerts), "
     "or, for a lab server only, choose to skip TLS verification."),
    ("wrong host name", requests.exceptions.SSLError(WRONG_HOST), "The certificate is not valid for this host name",
     "Use the host name the certificate was issued for: the one in Rancher's server-url setting."),
]


@pytest.mark.parametrize(("case", "raised", "title", "hint"), NO_ANSWER, ids=[n[0] for n in NO_ANSWER])
def test_each_network_failure_has_its_own_title_and_hint(
    rsps: responses.RequestsMock, http: Transport, case: str, raised: Exception, title: str, hint: str
) -> None:
    rsps.get(BASE + "/v3", body=raised)
    with pytest.raises(RancherUnavailable) as info:
        http.request("GET", "/v3")
    assert (info.value.title, info.value.hint) == (title, hint), case


REFUSED_HINT = (
    "Check the URL: nothing accepted the connection at that address and port. Is Rancher running there (https uses "
    "port 443 unless the URL names another)?"
)


def test_a_refused_connection_is_explained_as_refused_not_as_a_certificate() -> None:
    # Seen by a new user: "connection refused" was explained as "the TLS certificate is not trusted". A real refusal:
    refused = Transport(closed_port_url(), TOKEN, settings=TransportSettings(retries=0, backoff=0))
    with pytest.raises(RancherUnavailable) as info:
        refused.request("GET", "/v3")
    refused.close()
    assert "the connection was refused" in str(info.value)
    assert (info.value.title, info.value.hint) == ("Rancher cannot be reached", REFUSED_HINT)
    assert "certificate" not in (info.value.title + info.value.hint).lower()
