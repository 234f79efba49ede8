"""Which hosts a site may point at: never link-local or metadata addresses, by any spelling or through DNS; an
optional allow-list. Every resolver here is a stub and every connection attempt is watched: no test of this rule
opens a connection to anything but 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import urllib3.util.connection

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.kernel.errors import RancherUnavailable, ValidationError
from ranchersync.rancher import Transport, TransportSettings
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN

TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"


def stub(table: dict[str, Sequence[str]]) -> Callable[[str], Sequence[str]]:
    """A resolver answering from a table; unknown names fail like DNS does."""

    def resolve(host: str) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every address urllib3 opens a socket to; anything but loopback fails the test before it is reached."""
    real = urllib3.util.connection.create_connection
    seen: list[tuple[str, int]] = []

    def watched(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        assert address[0] in ("127.0.0.1", "::1", "localhost"), f"a test tried to connect to {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", watched)
    monkeypatch.setattr("urllib3.connection.connection.create_connection", watched)
    yield seen


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
        "169.254.0.1",
        "169.254.255.255",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fe80::1",
        "::ffff:169.254.169.254",  # IPv4-mapped IPv6
        "2852039166",  # 169.254.169.254 as one number
        "0xa9fea9fe",
        "0251.0376.0251.0376",  # octal
        "169.254.43518",
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure's wire server
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "[64:ff9b::169.254.169.254]",
        "::169.254.169.254",  # IPv4-compatible
        "::a9fe:a9fe",
        "2002:a9fe:a9fe::",  # 6to4
        "2002:a9fe:a9fe:1::1",
        "::ffff:168.63.129.16",
        "64:ff9b::6464:64c8",  # NAT64 of Alibaba's 100.100.100.200
        "metadata.google.internal",
        "METADATA.google.internal.",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_link_local_and_metadata_hosts_are_refused_by_spelling(host: str) -> None:
    def no_dns(name: str) -> Sequence[str]:
        raise AssertionError("a literal address or a metadata name needs no DNS lookup")

    with pytest.raises(HostRefused, match="may not point there|metadata service"):
        HostPolicy(resolve=no_dns).check_host(host)


@pytest.mark.parametrize(
    "addresses",
    [["169.254.169.254"], ["10.0.0.5", "169.254.169.254"], ["fd00:ec2::254"], ["::ffff:169.254.169.254"],
     ["64:ff9b::a9fe:a9fe"], ["2002:a9fe:a9fe::"], ["::169.254.169.254"], ["168.63.129.16"]],
)
def test_a_name_that_resolves_to_a_metadata_address_is_refused(addresses: list[str]) -> None:
    policy = HostPolicy(resolve=stub({"rancher.corp.example": addresses}))
    with pytest.raises(HostRefused, match=r"rancher\.corp\.example \(.*\) is .*: a site may not point there"):
        policy.check_host("rancher.corp.example")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "localhost", "10.1.2.3", "172.16.0.9", "192.168.1.20", "rancher.corp.example",
             "2002:a00:1::", "64:ff9b::a00:5", "2001:db8::1"]
)
def test_private_and_loopback_hosts_stay_allowed(host: str) -> None:
    policy = HostPolicy(resolve=stub({"localhost": ["127.0.0.1"], "rancher.corp.example": ["10.20.30.40"]}))
    policy.check_host(host)


def test_an_unknown_name_passes_registration_and_fails_when_connecting() -> None:
    policy = HostPolicy(resolve=stub({}))
    policy.check_host("not-yet-in-dns.example")
    with pytest.raises(OSError):
        policy.vetted_addresses("not-yet-in-dns.example")


def test_the_allow_list_accepts_only_matching_hosts() -> None:
    policy = default_policy({"RANCHERSYNC_ALLOWED_HOSTS": "*.corp.example, 127.0.0.1"})
    assert policy.allowed == ("*.corp.example", "127.0.0.1")
    HostPolicy(policy.allowed, resolve=stub({"rancher.corp.example": ["10.0.0.1"]})).check_host("rancher.corp.example")
    policy.check_host("127.0.0.1")
    with pytest.raises(HostRefused, match="RANCHERSYNC_ALLOWED_HOSTS"):
        policy.check_host("rancher.elsewhere.example")
    with pytest.raises(HostRefused, match="RANCHERSYNC_ALLOWED_HOSTS"):
        policy.check_host("localhost")


def test_registering_a_metadata_host_is_refused_before_any_connection(connects: list[tuple[str, int]]) -> None:
    policy = HostPolicy(resolve=stub({"evil.example": ["169.254.169.254"]}))
    for url in ("http://169.254.169.254/latest/meta-data", "https://evil.example", "https://[fd00:ec2::254]"):
        with pytest.raises(ValidationError, match="may not point there"):
            sites.make_connection(url, TOKEN, allow_http=True, policy=policy)
    assert connects == []


def test_the_allow_list_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_ALLOWED_HOSTS", "rancher.corp.example")
    with pytest.raises(ValidationError, match="not among the hosts"):
        sites.make_connection("https://rancher.other.example", TOKEN)


def test_moving_a_site_to_a_metadata_host_is_refused_even_with_a_new_token(
    ctx: AppContext, rancher: SimulatedRancher, connects: list[tuple[str, int]]
) -> None:
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name="eu", connection=sites.make_connection(rancher.url, rancher.token),
                       actor=ADMIN)
    with pytest.raises(ValidationError, match="link-local"), ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(url="http://169.254.169.254", token=TOKEN,
                                                                      allow_http=True), actor=ADMIN)
    with ctx.session() as session:
        assert sites.get_site(session, "eu").url == rancher.url
    assert connects == []


def test_a_name_that_now_resolves_to_metadata_is_refused_when_connecting(
    rancher: SimulatedRancher, connects: list[tuple[str, int]]
) -> None:
    """DNS rebinding: the name pointed at the Rancher server when the site was saved, and later elsewhere."""
    port = rancher.url.rsplit(":", 1)[1]
    table: dict[str, Sequence[str]] = {"rancher.test": ["127.0.0.1"]}
    policy = HostPolicy(resolve=stub(table))
    url = f"http://rancher.test:{port}"
    sites.make_connection(url, rancher.token, allow_http=True, policy=policy)  # accepted: it points at loopback

    first = Transport(url, rancher.token, settings=TransportSettings(retries=0), host_policy=policy)
    assert first.request("GET", "/v3")["type"] == "apiRoot"  # connected to the address the stub gave
    first.close()
    assert connects == [("127.0.0.1", int(port))]

    table["rancher.test"] = ["169.254.169.254"]
    again = Transport(url, rancher.token, settings=TransportSettings(retries=0), host_policy=policy)
    with pytest.raises(RancherUnavailable, match=r"Refused to connect to rancher\.test:\d+: .*169\.254\.169\.254"):
        again.request("GET", "/v3")
    again.close()
    assert connects == [("127.0.0.1", int(port))], "no connection was attempted to the new address"


def test_tls_still_checks_the_name_while_connecting_to_the_checked_address(
    connects: list[tuple[str, int]],
) -> None:
    with SimulatedRancher(rollout_seconds=0, tls=True) as server:
        port = server.url.rsplit(":", 1)[1]
        policy = HostPolicy(resolve=stub({"localhost": ["127.0.0.1"], "rancher.test": ["127.0.0.1"]}))
        good = Transport(f"https://localhost:{port}", server.token, verify=str(server.ca_file), host_policy=policy)
        assert good.request("GET", "/v3")["type"] == "apiRoot"  # the certificate names localhost
        good.close()
        wrong = Transport(f"https://rancher.test:{port}", server.token, settings=TransportSettings(retries=0),
                          verify=str(server.ca_file), host_policy=policy)
        with pytest.raises(RancherUnavailable, match="not valid for this host name|certificate"):
            wrong.request("GET", "/v3")  # same address, but the certificate is not for rancher.test
        wrong.close()
    assert {address for address, _ in connects} == {"127.0.0.1"}


def test_the_default_policy_is_used_by_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_ALLOWED_HOSTS", "rancher.corp.example")
    transport = Transport("http://127.0.0.1:9", TOKEN, settings=TransportSettings(retries=0))
    with pytest.raises(RancherUnavailable, match="not among the hosts"):
        transport.request("GET", "/v3")
    transport.close()
