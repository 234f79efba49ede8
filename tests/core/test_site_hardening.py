"""A stored token never follows an edited URL, nor weaker TLS; URL errors never quote what was typed.

A local listener plays "the new URL" and records every Authorization header it receives."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.validation import normalize_rancher_url
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN

ROOT = Path(__file__).resolve().parents[2]
NEW_TOKEN = "token-n3w42:newsecretvalue0123456789abcdefghijklmnopqrstuvwxyz01"


class Listener:
    """An HTTP server on 127.0.0.1 that answers 401 to everything and records the Authorization headers."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                seen.append(self.headers.get("Authorization", ""))
                body = b'{"type":"error","status":"401","message":"must authenticate"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as server:
        yield server


def _add(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name="eu", connection=sites.make_connection(rancher.url, rancher.token),
                       actor=ADMIN)


# ---- the rule ---------------------------------------------------------------------------------------------------

R = sites.Reach
BASE = R("https://rancher.example.com")


@pytest.mark.parametrize(
    ("new", "needs"),
    [
        (R("https://rancher.example.com/rancher"), None),  # a path on the same server
        (R("https://RANCHER.example.com:443"), None),  # the same origin, spelt differently
        (R("https://evil.example.com"), "address changes from https://rancher.example.com to https://evil"),
        (R("https://rancher.example.com:8443"), "address changes"),
        (R("http://rancher.example.com", allow_http=True), "address changes"),
        (R("https://rancher.example.com", insecure=True), "TLS verification would be skipped"),
        (R("https://rancher.example.com", ca_bundle="PEM"), "CA bundle"),
        (R("https://rancher.example.com", allow_http=True), "plain HTTP would be allowed"),
    ],
)
def test_what_needs_a_new_token(new: sites.Reach, needs: str | None) -> None:
    reason = sites.token_rebind_reason(BASE, new)
    assert (reason is None) if needs is None else (reason is not None and needs in reason)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (R(BASE.url, insecure=True), R(BASE.url)),  # verifying again
        (R(BASE.url, insecure=True), R(BASE.url, ca_bundle="PEM")),  # any CA checks more than none
        (R(BASE.url, allow_http=True), R(BASE.url)),  # plain HTTP no longer allowed
    ],
)
def test_tightening_keeps_the_token(old: sites.Reach, new: sites.Reach) -> None:
    assert sites.token_rebind_reason(old, new) is None


# ---- the core ---------------------------------------------------------------------------------------------------


def test_an_edited_url_without_a_new_token_is_refused_and_never_gets_the_old_one(
    ctx: AppContext, rancher: SimulatedRancher, listener: Listener
) -> None:
    _add(ctx, rancher)
    with pytest.raises(ValidationError, match="address changes .* new setting in the same change"):
        with ctx.session() as session:
            sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(url=listener.url, name="renamed"),
                              actor=ADMIN)
    with ctx.session() as session:
        site = sites.get_site(session, "eu")  # nothing changed, not even the name
        assert site.url == rancher.url
        assert sites.test_site(session, ctx.cipher, "eu").success  # still works where it was
    assert listener.seen == []

    with ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(url=listener.url, token=NEW_TOKEN), actor=ADMIN)
    with ctx.session() as session:
        assert not sites.test_site(session, ctx.cipher, "eu").success  # the listener is no Rancher
    assert listener.seen and set(listener.seen) == {f"Bearer {NEW_TOKEN}"}


@pytest.mark.parametrize(
    "change",
    [{"insecure": True}, {"ca_bundle": "ca"}, {"allow_http": True}],
)
def test_weaker_tls_without_a_new_token_is_refused(
    ctx: AppContext, rancher: SimulatedRancher, change: dict[str, object], ca_pem: str
) -> None:
    _add(ctx, rancher)
    if change.get("ca_bundle") == "ca":
        change = {"ca_bundle": ca_pem}
    with pytest.raises(ValidationError, match="API token for the new setting"), ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(**change), actor=ADMIN)  # type: ignore[arg-type]
    with ctx.session() as session:
        site = sites.get_site(session, "eu")
        assert (site.insecure, site.ca_bundle, site.allow_http) == (False, None, False)


@pytest.fixture
def ca_pem() -> str:
    """A real CA certificate (what /v3/settings/cacerts holds)."""
    return str(json.loads((ROOT / "tests" / "fixtures" / "rancher" / "settings_cacerts.json").read_text())["value"])


# ---- the CLI ----------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "RANCHERSYNC_SECRET_KEY": Fernet.generate_key().decode(), "RANCHERSYNC_USER": "tester"}


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ranchersync", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_refuses_an_edited_url_without_a_new_token(
    cli_env: dict[str, str], rancher: SimulatedRancher, listener: Listener
) -> None:
    added = _cli(cli_env, "sites", "add", "--name", "eu", "--url", rancher.url, "--token-stdin", stdin=rancher.token)
    assert added.returncode == 0, added.stderr

    moved = _cli(cli_env, "sites", "update", "eu", "--url", listener.url)
    assert moved.returncode == 2, moved.stderr
    assert "address changes" in moved.stderr and "token" in moved.stderr
    tested = _cli(cli_env, "sites", "test", "eu")
    assert tested.returncode == 0, tested.stdout + tested.stderr  # still the simulator
    assert listener.seen == []

    moved = _cli(cli_env, "sites", "update", "eu", "--url", listener.url, "--token-stdin", stdin=NEW_TOKEN)
    assert moved.returncode == 0, moved.stderr
    assert _cli(cli_env, "sites", "test", "eu").returncode == 1  # the listener refuses it
    assert listener.seen and set(listener.seen) == {f"Bearer {NEW_TOKEN}"}
    assert rancher.token.split(":")[1] not in moved.stdout + moved.stderr


# ---- URL errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        (NEW_TOKEN, "must start with https://"),
        (f"rancher.example.com/{NEW_TOKEN}", "must start with https://"),
        (f"https://rancher.example.com:{NEW_TOKEN.split(':')[1]}", "https://rancher.example.com has an invalid port"),
        (f"https://[{NEW_TOKEN}", "is not a URL"),
        ("https:///" + NEW_TOKEN, "has no host"),
    ],
)
def test_url_errors_never_quote_what_was_typed(typed: str, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalize_rancher_url(typed)
    assert says in str(refused.value)
    assert NEW_TOKEN.split(":")[1] not in str(refused.value)
