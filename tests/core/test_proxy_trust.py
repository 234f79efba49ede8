"""Proxy mode believes identity headers only from RANCHERSYNC_TRUSTED_PROXIES (issue 18, item 1): the rules of
people.directory, without a server (the AppTest and Chromium tests drive them through the dashboard)."""

from __future__ import annotations

import pytest

from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import ValidationError
from ranchersync.people import directory as people


def settings(**env: str) -> Settings:
    return Settings.from_env({"RANCHERSYNC_AUTH": "proxy", **env})


def test_trusted_proxies_parse_addresses_and_cidrs() -> None:
    found = settings(RANCHERSYNC_TRUSTED_PROXIES="10.42.0.0/16, 127.0.0.2 [fd00::1]").trusted_proxies
    assert [str(n) for n in found] == ["10.42.0.0/16", "127.0.0.2/32", "fd00::1/128"]
    with pytest.raises(ValidationError, match="RANCHERSYNC_TRUSTED_PROXIES must list IP addresses"):
        settings(RANCHERSYNC_TRUSTED_PROXIES="proxy.example")


@pytest.mark.parametrize("address", ["0.0.0.0", "", "10.0.0.7"])
def test_proxy_mode_beyond_loopback_needs_trusted_proxies(address: str) -> None:
    with pytest.raises(people.ProxyNotTrusted) as refused:
        people.auth_mode(settings(), address)
    assert refused.value.title == "Proxy mode needs RANCHERSYNC_TRUSTED_PROXIES"
    assert people.auth_mode(settings(RANCHERSYNC_TRUSTED_PROXIES="10.42.0.0/16"), address) == "proxy"
    assert people.auth_mode(settings(), "127.0.0.1") == "proxy"


@pytest.mark.parametrize(("trusted", "peer", "believed"), [
    ("10.42.0.0/16", "10.42.3.4", True),
    ("10.42.0.0/16", "::ffff:10.42.3.4", True),  # a dual-stack socket's spelling of the same peer
    ("10.42.0.0/16", "10.43.0.1", False),
    ("10.42.0.0/16", "127.0.0.1", False),  # loopback is not trusted once proxies are named
    ("", "127.0.0.1", True),  # unset: loopback only
    ("", "::1", True),
    ("", "192.168.1.9", False),
    ("127.0.0.2/32", "127.0.0.1", False),  # another loopback address is another peer
    ("10.42.0.0/16", None, False),
    ("10.42.0.0/16", "not-an-address", False),
])
def test_identity_headers_are_believed_only_from_a_trusted_peer(trusted: str, peer: str | None,
                                                                believed: bool) -> None:
    rules = settings(RANCHERSYNC_TRUSTED_PROXIES=trusted)
    if believed:
        people.check_proxy_peer(rules, peer)
        return
    with pytest.raises(people.ProxyNotTrusted) as refused:
        people.check_proxy_peer(rules, peer)
    assert refused.value.exit_code == 3 and (peer is None or peer in str(refused.value))


def test_an_address_the_server_took_from_x_forwarded_for_is_not_believed() -> None:
    rules = settings(RANCHERSYNC_TRUSTED_PROXIES="10.42.0.0/16")
    with pytest.raises(people.ProxyNotTrusted, match="FORWARDED_ALLOW_IPS"):
        people.check_proxy_peer(rules, "10.42.3.4", forwarded_for=True, rewritten_from=("127.0.0.1", "::1"))
    people.check_proxy_peer(rules, "10.42.3.4", forwarded_for=True, rewritten_from=())  # FORWARDED_ALLOW_IPS=
    people.check_proxy_peer(rules, "10.42.3.4", forwarded_for=False, rewritten_from=("127.0.0.1",))
