"""A real registry for the tests: Debian's `docker-registry` (CNCF Distribution) on 127.0.0.1, three ways.

One storage folder, three registry processes over it: anonymous, htpasswd basic auth, and a token realm served by a
small token server of the tests (RS256 JWTs whose certificate the registry trusts). Images are pushed by the tests
through the registry API (blobs, configs and manifests written in Python): single-platform with OCI labels, without
labels, and a multi-platform index. PYTEST_DONT_REWRITE: loaded as a plugin module.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import require

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
USER, PASSWORD = "puller", "s3cret-registry-pass"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SOURCE = "https://github.com/acme/web"
REV_OLD, REV_NEW = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


# ---- the token server ---------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A token realm: checks basic credentials, answers {"token": JWT} granting pull (and push) on the scope."""

    def __init__(self, folder: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ranchersync test token issuer")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
                     .sign(self.key, hashes.SHA256()))
        self.bundle = folder / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[str] = []  # Authorization headers received (to prove what was sent where)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                server.requests.append(self.headers.get("Authorization", ""))
                query = parse_qs(urlsplit(self.path).query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.jwt(query.get("service", [""])[0],
                                                       query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwt(self, service: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": "ranchersync-tests", "sub": USER, "aud": service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": _b64(hashlib.sha256(str(time.time_ns()).encode()).digest()), "access": access}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64(signature)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the registries -----------------------------------------------------------------------------------------------


@dataclass
class Registries:
    """The three registries (host:port each) over one storage, and the images pushed to them."""

    anonymous: str
    basic: str
    token: str
    token_server: TokenServer
    images: dict[str, str] = field(default_factory=dict)  # name -> digest of what was pushed

    def push_blob(self, repository: str, body: bytes) -> str:
        digest = _digest(body)
        base = f"http://{self.anonymous}"
        started = requests.post(f"{base}/v2/{repository}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        url = location if location.startswith("http") else base + location
        done = requests.put(url, params={"digest": digest}, data=body,
                            headers={"Content-Type": "application/octet-stream"}, timeout=10)
        assert done.status_code == 201, done.text
        return digest

    def push_manifest(self, repository: str, reference: str, document: dict[str, Any], media_type: str) -> str:
        body = json.dumps(document).encode()
        answer = requests.put(f"http://{self.anonymous}/v2/{repository}/manifests/{reference}", data=body,
                              headers={"Content-Type": media_type}, timeout=10)
        assert answer.status_code == 201, answer.text
        return _digest(body)

    def push_image(self, repository: str, tag: str, *, labels: dict[str, str] | None = None,
                   architecture: str = "amd64", layer: bytes | None = None) -> str:
        """A single-platform OCI image (one layer, a config with these labels); its manifest's digest."""
        layer = layer or f"{repository}:{tag}:{architecture}:{time.time_ns()}".encode()
        layer_digest = self.push_blob(repository, layer)
        config = json.dumps({"architecture": architecture, "os": "linux", "created": "2026-12-01T10:00:00Z",
                             "config": {"Labels": labels} if labels else {},
                             "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
        config_digest = self.push_blob(repository, config)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                               "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                                "size": len(layer)}]}
        digest = self.push_manifest(repository, tag, manifest, OCI_MANIFEST)
        self.images[f"{repository}:{tag}"] = digest
        return digest

    def push_index(self, repository: str, tag: str, architectures: tuple[str, ...],
                   labels: dict[str, str] | None = None) -> str:
        """A multi-platform OCI index over one image per architecture; the index's digest."""
        manifests = []
        for arch in architectures:
            digest = self.push_image(repository, f"{tag}-{arch}", labels=labels, architecture=arch)
            body = requests.get(f"http://{self.anonymous}/v2/{repository}/manifests/{digest}",
                                headers={"Accept": OCI_MANIFEST}, timeout=10).content
            manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                              "platform": {"os": "linux", "architecture": arch}})
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
                 "annotations": {"org.opencontainers.image.version": tag}}
        digest = self.push_manifest(repository, tag, index, OCI_INDEX)
        self.images[f"{repository}:{tag}"] = digest
        return digest


def _config(folder: Path, port: int, auth: dict[str, Any] | None) -> Path:
    lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
             f"    rootdirectory: {folder / 'storage'}", "  delete:", "    enabled: true",
             "http:", f"  addr: 127.0.0.1:{port}", f"  secret: {hashlib.sha256(str(port).encode()).hexdigest()}"]
    if auth:
        lines.append("auth:")
        for kind, options in auth.items():
            lines.append(f"  {kind}:")
            lines += [f"    {k}: {v}" for k, v in options.items()]
    path = folder / f"config-{port}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait(host: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry on {host} exited: {log.read_text()[-2000:]}")
        try:
            requests.get(f"http://{host}/v2/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry on {host} did not start")


@contextlib.contextmanager
def running_registries(folder: Path) -> Iterator[Registries]:
    """The three registries over storage in `folder`, with the images every test reads pushed (also used by
    scripts/screenshots.py); stopped on exit."""
    (folder / "htpasswd").write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()}\n")
    tokens = TokenServer(folder)
    ports = [_free_port() for _ in range(3)]
    configs = [
        _config(folder, ports[0], None),
        _config(folder, ports[1], {"htpasswd": {"realm": "ranchersync-tests", "path": folder / "htpasswd"}}),
        _config(folder, ports[2], {"token": {"realm": tokens.url, "service": "ranchersync-registry",
                                              "issuer": "ranchersync-tests", "rootcertbundle": tokens.bundle}}),
    ]
    log = (folder / "registry.log").open("wb")
    processes = [subprocess.Popen([BINARY, "serve", str(c)], stdout=subprocess.DEVNULL, stderr=log)
                 for c in configs]
    try:
        hosts = [f"127.0.0.1:{p}" for p in ports]
        for host, process in zip(hosts, processes, strict=True):
            _wait(host, process, folder / "registry.log")
        found = Registries(*hosts, token_server=tokens)
        labels_old = {"org.opencontainers.image.revision": REV_OLD, "org.opencontainers.image.source": SOURCE,
                      "org.opencontainers.image.version": "2.3.0",
                      "org.opencontainers.image.created": "2026-11-30T09:00:00Z"}
        labels_new = {**labels_old, "org.opencontainers.image.revision": REV_NEW,
                      "org.opencontainers.image.version": "2.4.0",
                      "org.opencontainers.image.created": "2026-12-01T10:00:00Z"}
        found.push_image("shop/web", "2.3.0", labels=labels_old)
        found.push_image("shop/web", "2.4.0", labels=labels_new)
        found.push_image("shop/plain", "1.0", labels=None)
        found.push_index("shop/multi", "3.0", ("amd64", "arm64"), labels=labels_new)
        found.push_index("shop/armonly", "1.0", ("arm64",))
        yield found
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        tokens.close()


@pytest.fixture(scope="session")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registries]:
    """The three registries, with the images every test reads (pushed once per session)."""
    require("registry", shutil.which("docker-registry") is not None,
            "Debian's docker-registry is not installed (apt-get install docker-registry)")
    with running_registries(tmp_path_factory.mktemp("registry")) as found:
        yield found
