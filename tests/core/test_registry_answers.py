"""Bad registry answers get a clear message (a small fake registry on 127.0.0.1), and the host policy holds."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ranchersync.registry import (
    ImageNotInRegistry,
    RegistryAnswerRefused,
    RegistryAuthFailed,
    RegistryHTTP,
    RegistryUnavailable,
    resolve,
)
from ranchersync.registry.http import Credentials, Secret
from ranchersync.security.host_policy import HostPolicy

FIFTY_MB = 50 * 1024 * 1024


class Fake:
    """Answers each path as `routes` says: (status, headers, body or a size to stream)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes | int]] = {}
        self.hits: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake.hits.append(self.path)
                status, headers, body = fake.routes.get(self.path.split("?")[0], (404, {}, b"{}"))
                self.send_response(status)
                size = body if isinstance(body, int) else len(body)
                for k, v in {"Content-Length": str(size), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    if isinstance(body, int):
                        chunk = b"x" * 65536
                        for _ in range(body // len(chunk)):
                            self.wfile.write(chunk)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def http_to(fake: Fake, **kwargs: Any) -> RegistryHTTP:
    return RegistryHTTP(fake.host, allow_http=True, **kwargs)


def test_404_is_not_in_the_registry(fake: Fake) -> None:
    with pytest.raises(ImageNotInRegistry):
        resolve(http_to(fake), f"{fake.host}/app:1.0")


def test_401_without_credentials_says_so_and_never_echoes_a_password(fake: Fake) -> None:
    fake.routes["/v2/app/manifests/1.0"] = (401, {"WWW-Authenticate": 'Basic realm="x"'}, b"{}")
    with pytest.raises(RegistryAuthFailed, match="wants credentials and none are stored"):
        resolve(http_to(fake), f"{fake.host}/app:1.0")
    creds = Credentials("me", Secret("hunter2-secret"))
    with pytest.raises(RegistryAuthFailed) as caught:
        resolve(http_to(fake, credentials=creds), f"{fake.host}/app:1.0")
    assert "hunter2-secret" not in str(caught.value) and "HTTP 401" in str(caught.value)


def test_429_is_waited_out_once_then_reported_with_its_retry_after(fake: Fake) -> None:
    fake.routes["/v2/app/manifests/1.0"] = (429, {"Retry-After": "1"}, b"")
    with pytest.raises(RegistryUnavailable, match="rate-limiting requests .it asks to wait 1 s") as caught:
        resolve(http_to(fake), f"{fake.host}/app:1.0")
    assert caught.value.title == "The registry is rate-limiting requests"
    assert fake.hits.count("/v2/app/manifests/1.0") == 2  # once, then once more after the wait


def test_a_50_mb_manifest_is_refused_without_reading_it_all(fake: Fake) -> None:
    fake.routes["/v2/app/manifests/1.0"] = (200, {"Content-Type": "application/json"}, FIFTY_MB)
    with pytest.raises(RegistryAnswerRefused, match="larger than 4 MiB"):
        resolve(http_to(fake), f"{fake.host}/app:1.0")
    fake.routes["/v2/app/manifests/1.0"] = (200, {"Content-Type": "application/json", "Content-Length": ""},
                                            FIFTY_MB)  # no length declared: cut while reading
    with pytest.raises(RegistryAnswerRefused, match="larger than 4 MiB"):
        resolve(http_to(fake), f"{fake.host}/app:1.0")


def test_a_manifest_redirected_to_another_host_is_refused(fake: Fake) -> None:
    fake.routes["/v2/app/manifests/1.0"] = (302, {"Location": "http://127.0.0.2:1/v2/app/manifests/1.0"}, b"")
    with pytest.raises(RegistryAnswerRefused, match="redirected .* to 127.0.0.2:1"):
        resolve(http_to(fake), f"{fake.host}/app:1.0")
    assert fake.hits == ["/v2/app/manifests/1.0"]


def test_a_metadata_address_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(RegistryUnavailable, match="Nothing was sent"):
        resolve(RegistryHTTP("169.254.169.254", allow_http=True), "169.254.169.254/app:1.0")
    allow_list = HostPolicy(("registry.corp.test",))
    with pytest.raises(RegistryUnavailable, match="RANCHERSYNC_ALLOWED_HOSTS"):
        resolve(RegistryHTTP("127.0.0.1:9", allow_http=True, host_policy=allow_list), "127.0.0.1:9/app:1.0")


def test_docker_hub_short_names_resolve_as_the_runtime_does() -> None:
    from ranchersync.kernel.images import parse_image
    from ranchersync.registry import api_host

    for text in ("redis", "library/redis", "docker.io/redis", "docker.io/library/redis:latest",
                 "index.docker.io/redis"):
        ref = parse_image(text)
        assert (api_host(ref.registry), ref.repository) == ("registry-1.docker.io", "library/redis")
    assert api_host(parse_image("ghcr.io/acme/web").registry) == "ghcr.io"


def test_https_is_verified_against_the_registrys_ca_bundle(fake: Fake) -> None:
    from ranchersync.simulator.tls import make_tls_files

    tls = make_tls_files("127.0.0.1")
    fake.httpd.socket = tls.server_context().wrap_socket(fake.httpd.socket, server_side=True)
    fake.routes["/v2/app/manifests/1.0"] = (200, {"Content-Type": "application/json"}, b'{"schemaVersion": 2}')
    trusted = RegistryHTTP(fake.host, verify=str(tls.ca_file))
    assert trusted.get("/v2/app/manifests/1.0", scope="s").body == b'{"schemaVersion": 2}'
    with pytest.raises(ImageNotInRegistry):
        trusted.get("/v2/app/manifests/2.0", scope="s")
    with pytest.raises(RegistryUnavailable, match="could not be verified: add its CA"):
        RegistryHTTP(fake.host).get("/v2/app/manifests/1.0", scope="s")


def test_pull_secrets_are_read_as_the_kubelet_reads_them_and_never_repeat_a_value() -> None:
    import base64
    import json

    from ranchersync.registry import UnreadablePullSecret, pull_credentials

    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    config = {"auths": {"https://index.docker.io/v1/": {"auth": b64("hub-user:hub-pass")},
                        "http://127.0.0.1:5000": {"username": "u", "password": "p"},
                        "registry.example.com": {"auth": "not base64!"}}}
    found = pull_credentials("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64(json.dumps(config))})
    assert sorted(found) == ["127.0.0.1:5000", "docker.io"]
    assert (found["docker.io"].username, found["docker.io"].password.reveal()) == ("hub-user", "hub-pass")
    assert "hub-pass" not in repr(found)
    legacy = pull_credentials("kubernetes.io/dockercfg", {".dockercfg": b64(json.dumps({"ghcr.io": {
        "username": "bot", "password": "tok"}}))})
    assert list(legacy) == ["ghcr.io"]
    for kind, data in (("Opaque", {".dockerconfigjson": b64("{}")}),
                       ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("secret-value-not-json")})):
        with pytest.raises(UnreadablePullSecret) as refused:
            pull_credentials(kind, data)
        assert "secret-value" not in str(refused.value)
