"""The HTTP funnel: headers, TLS verification per request, timeouts, retries, and no token anywhere it could leak."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from ranchersync.kernel.errors import MalformedResponse, RancherAPIError, RancherUnavailable, ValidationError
from ranchersync.rancher import USER_AGENT, RancherClient, Transport
from ranchersync.rancher.transport import TransportSettings, retry_delay

BASE = "https://rancher.example.com"
TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
SECRET = TOKEN.split(":")[1]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rancher"
PEM = json.loads((FIXTURES / "settings_cacerts.json").read_text())["value"] + "\n"  # what /v3/settings/cacerts holds
DEPLOY = "/k8s/clusters/c-m-9hh7fwlt/apis/apps/v1/namespaces/prod/deployments/web"
STATUS_503 = {"kind": "Status", "status": "Failure", "message": "the server is currently unable", "code": 503}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def ordered() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True, registry=OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def env_bundle(monkeypatch: pytest.MonkeyPatch) -> str:
    """This machine (and CI) set REQUESTS_CA_BUNDLE; point it somewhere recognisable."""
    other = "/etc/ssl/certs/some-other-bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    monkeypatch.setenv("CURL_CA_BUNDLE", other)
    return other


def fast(**settings: Any) -> Transport:
    return Transport(BASE, TOKEN, settings=TransportSettings(**{"backoff": 0, **settings}))


# ---- what every request carries -------------------------------------------------------------------------------


def test_every_request_carries_token_agent_accept_and_timeout(rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "/v3", json={"type": "apiRoot"})
    http = fast(timeout=(2.5, 12.0))
    assert http.request("GET", "/v3") == {"type": "apiRoot"}
    sent = rsps.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["User-Agent"] == USER_AGENT == "rancher-sync-manager/0.1.0"
    assert "mozilla" not in sent.headers["User-Agent"].lower()  # would trigger Rancher's CSRF check
    assert sent.headers["Accept"] == "application/json"
    assert sent.req_kwargs["timeout"] == (2.5, 12.0)  # type: ignore[attr-defined]


def test_the_token_is_never_stored_on_the_session() -> None:
    http = fast()
    assert "Authorization" not in http._session.headers
    assert http._session.auth is None


def test_json_bodies_are_sent_compact_with_their_content_type(rsps: responses.RequestsMock) -> None:
    rsps.patch(BASE + DEPLOY, json={"ok": True})
    fast().request("PATCH", DEPLOY, json_body={"a": [1, 2]}, content_type="application/strategic-merge-patch+json")
    sent = rsps.calls[0].request
    assert sent.body == b'{"a":[1,2]}'
    assert sent.headers["Content-Type"] == "application/strategic-merge-patch+json"


def test_query_parameters_are_encoded(rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "/api", json={})
    fast().request("GET", "/api", params={"labelSelector": "app=web,tier in (a,b)", "limit": 5})
    assert rsps.calls[0].request.params == {"labelSelector": "app=web,tier in (a,b)", "limit": "5"}  # type: ignore[attr-defined]


# ---- TLS verification is passed on every request ---------------------------------------------------------------


def test_ca_bundle_path_beats_requests_ca_bundle(rsps: responses.RequestsMock, env_bundle: str) -> None:
    rsps.get(BASE + "/v3", json={})
    rsps.get(BASE + "/v3/clusters", json={"data": []})
    rsps.patch(BASE + DEPLOY, json={})
    client = RancherClient(BASE, TOKEN, ca_bundle=PEM)
    client._http.request("GET", "/v3")
    client._http.request("GET", "/v3/clusters")
    client._http.request("PATCH", DEPLOY, json_body={})
    verifies = [call.request.req_kwargs["verify"] for call in rsps.calls]  # type: ignore[attr-defined]
    assert len(set(verifies)) == 1 and verifies[0] != env_bundle
    assert Path(verifies[0]).read_text() == PEM


def test_insecure_sends_verify_false_despite_the_environment(rsps: responses.RequestsMock, env_bundle: str) -> None:
    rsps.get(BASE + "/v3", json={})
    RancherClient(BASE, TOKEN, insecure=True)._http.request("GET", "/v3")
    assert rsps.calls[0].request.req_kwargs["verify"] is False  # type: ignore[attr-defined]


def test_default_verification_uses_the_system_trust(rsps: responses.RequestsMock, env_bundle: str) -> None:
    # verify=True lets requests pick the environment's bundle: that *is* the system trust store on this machine.
    rsps.get(BASE + "/v3", json={})
    RancherClient(BASE, TOKEN)._http.request("GET", "/v3")
    assert rsps.calls[0].request.req_kwargs["verify"] == env_bundle  # type: ignore[attr-defined]


def test_ca_bundle_files_are_shared_by_content() -> None:
    first = RancherClient(BASE, TOKEN, ca_bundle=PEM)._http._verify
    again = RancherClient("https://other.example.com", TOKEN, ca_bundle="\n" + PEM + "\n\n")._http._verify
    bundle = RancherClient(BASE, TOKEN, ca_bundle=PEM + PEM)._http._verify  # a bundle of two is another file
    assert first == again != bundle
    assert isinstance(first, str) and (Path(first).parent.stat().st_mode & 0o077) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ca_bundle": PEM, "insecure": True}, "not both"),
        ({"ca_bundle": "just some text"}, "PEM"),
        ({"ca_bundle": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"}, "not a readable"),
    ],
)
def test_tls_options_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RancherClient(BASE, TOKEN, **kwargs)  # type: ignore[arg-type]


# ---- retries ----------------------------------------------------------------------------------------------------


def test_503_503_200_is_retried_to_success(ordered: responses.RequestsMock) -> None:
    ordered.get(BASE + "/v3", json=STATUS_503, status=503)
    ordered.get(BASE + "/v3", json=STATUS_503, status=503)
    ordered.get(BASE + "/v3", json={"type": "apiRoot"})
    assert fast(retries=3).request("GET", "/v3") == {"type": "apiRoot"}
    assert len(ordered.calls) == 3


def test_429_with_retry_after_is_retried(ordered: responses.RequestsMock) -> None:
    ordered.get(BASE + DEPLOY, json={"kind": "Status", "code": 429}, status=429, headers={"Retry-After": "0"})
    ordered.get(BASE + DEPLOY, json={"metadata": {"name": "web"}})
    assert fast().request("GET", DEPLOY) == {"metadata": {"name": "web"}}
    assert len(ordered.calls) == 2


def test_retries_give_up_with_the_last_answer(ordered: responses.RequestsMock) -> None:
    for _ in range(3):
        ordered.get(BASE + "/v3", body="<html><title>502 Bad Gateway</title></html>", status=502)
    with pytest.raises(RancherUnavailable, match=r"\(HTTP 502 on GET /v3\): 502 Bad Gateway") as info:
        fast(retries=2).request("GET", "/v3")
    assert info.value.status == 502 and len(ordered.calls) == 3


def test_retries_zero_means_one_attempt(ordered: responses.RequestsMock) -> None:
    ordered.get(BASE + "/v3", json=STATUS_503, status=504)
    with pytest.raises(RancherUnavailable):
        fast(retries=0).request("GET", "/v3")
    assert len(ordered.calls) == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_patch_is_never_retried(ordered: responses.RequestsMock, status: int) -> None:
    ordered.patch(BASE + DEPLOY, json={"kind": "Status", "code": status}, status=status, headers={"Retry-After": "0"})
    with pytest.raises(RancherAPIError) as info:
        fast(retries=3).request("PATCH", DEPLOY, json_body={})
    assert info.value.status == status and len(ordered.calls) == 1


def test_put_is_idempotent_and_retried(ordered: responses.RequestsMock) -> None:
    ordered.put(BASE + DEPLOY, json=STATUS_503, status=503)
    ordered.put(BASE + DEPLOY, json={"metadata": {"name": "web"}})
    fast().request("PUT", DEPLOY, json_body={})
    assert len(ordered.calls) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_read_rides_through_server_errors(ordered: responses.RequestsMock, status: int) -> None:
    # A kube-apiserver behind Rancher's proxy answers a transient 500 as a Status; a GET is safe to send again.
    ordered.get(BASE + DEPLOY, json={"kind": "Status", "status": "Failure", "message": "etcdserver: leader changed",
                                     "reason": "InternalError", "code": status}, status=status)
    ordered.get(BASE + DEPLOY, json={"metadata": {"name": "web"}})
    assert fast(retries=3).request("GET", DEPLOY) == {"metadata": {"name": "web"}}
    assert len(ordered.calls) == 2


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_client_errors_are_not_retried(ordered: responses.RequestsMock, status: int) -> None:
    ordered.get(BASE + "/v3", json={"type": "error", "status": status, "message": "boom"}, status=status)
    with pytest.raises(RancherAPIError, match="boom"):
        fast(retries=3).request("GET", "/v3")
    assert len(ordered.calls) == 1


def test_retry_delays_back_off_with_jitter() -> None:
    delays = [retry_delay(attempt, 0.25) for attempt in range(8) for _ in range(20)]
    for attempt in range(8):
        ceiling = min(10.0, 0.25 * 2**attempt)
        group = delays[attempt * 20:(attempt + 1) * 20]
        assert all(ceiling / 2 <= d <= ceiling for d in group)  # never past the cap, never at once
        assert len(set(group)) > 1  # jittered: clients that failed together do not come back together
    assert retry_delay(0, 0.25, retry_after=2) == 2 and retry_delay(0, 0.25, retry_after=600) == 30


def test_retries_stop_at_the_deadline(ordered: responses.RequestsMock) -> None:
    # A retry that could not finish within the request's deadline is not started: the error comes at once.
    ordered.get(BASE + "/v3", json=STATUS_503, status=503)
    http = Transport(BASE, TOKEN, settings=TransportSettings(retries=5, backoff=8, deadline=1.0))
    with pytest.raises(RancherUnavailable):
        http.request("GET", "/v3")
    assert len(ordered.calls) == 1


def test_timeouts_become_unavailable(rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "/v3", body=requests.exceptions.ReadTimeout("read timed out (read timeout=30)"))
    with pytest.raises(RancherUnavailable, match="did not answer in time"):
        fast().request("GET", "/v3")


# ---- URLs and tokens --------------------------------------------------------------------------------------------


def test_links_to_other_servers_are_not_followed(rsps: responses.RequestsMock) -> None:
    with pytest.raises(MalformedResponse, match="another server"):
        fast().request("GET", "https://evil.example.net/v3/clusters?marker=x")
    with pytest.raises(MalformedResponse, match="another server"):
        Transport(BASE + "/rancher", TOKEN).request("GET", BASE + "/v3/clusters")
    assert len(rsps.calls) == 0


def test_links_back_to_the_same_server_are_followed(rsps: responses.RequestsMock) -> None:
    rsps.get(BASE + "/v3/clusters?marker=c-1", json={"data": []})
    assert fast().request("GET", BASE + "/v3/clusters?marker=c-1") == {"data": []}


# ---- the token appears nowhere ----------------------------------------------------------------------------------


def test_token_never_leaks(rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.get(BASE + "/v3", json={"type": "apiRoot"})
    rsps.get(BASE + "/v3/users", json={"type": "error", "status": "401", "message": "must authenticate"}, status=401)
    rsps.get(BASE + "/v3/tokens", json={"message": f"echo {TOKEN}"}, status=500)
    rsps.get(BASE + "/v3/settings", body=requests.exceptions.ConnectTimeout(f"timeout for {BASE}/v3/settings"))
    rsps.get(BASE + "/v3/nodes", body="<html><title>Oops</title></html>", status=200)
    client = RancherClient(BASE, TOKEN, retries=0)
    client._http.request("GET", "/v3")
    errors: list[BaseException] = []
    for path in ("/v3/users", "/v3/tokens", "/v3/settings", "/v3/nodes"):
        with pytest.raises(RancherAPIError) as info:
            client._http.request("GET", path)
        errors.append(info.value)
    texts = [repr(client), repr(client._http), str(vars(client)), str(vars(client._http))]
    for err in errors:
        texts += [str(err), repr(err), str(err.args)]
        cause = err.__cause__
        while cause is not None:
            texts.append(str(cause))
            cause = cause.__cause__
    texts += [record.getMessage() for record in caplog.records]
    texts += [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert caplog.records, "the funnel logs each request at DEBUG"
    for text in texts:
        assert SECRET not in text, text
    assert repr(client) == "RancherClient(url='https://rancher.example.com')"
