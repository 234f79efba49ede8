"""Which hosts a site may point at: never link-local or cloud-metadata addresses; optionally only an allow-list.

The rule is pure: it takes the resolver as a callable, so tests stub it and never touch DNS or the network. It is
checked when a site is registered or changed (by name and by every address the name resolves to), and again by the
transport each time it opens a connection (it then connects to the very address that was checked, so a name that
now resolves to 169.254.169.254 — DNS rebinding — is refused before any byte leaves).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ranchersync.kernel.config import parse_allowed_hosts

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]  # host name -> addresses; raises OSError when the name is unknown

_LINK_LOCAL: Final = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Instance-metadata services outside the link-local ranges: AWS over IPv6, Alibaba Cloud, Azure's wire server.
_METADATA: Final = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: the last 32 bits are IPv4
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d, still routed by some stacks
_METADATA_NAMES: Final = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
# The numeric spellings inet_aton accepts (2852039166, 0xa9fea9fe, 169.254.43518): resolvers treat them as addresses.
_NUMERIC_V4: Final = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


class HostRefused(ValueError):
    """A host the policy refuses; the message says why and names the host, never the rest of the URL."""


def system_resolve(host: str) -> list[str]:
    """The addresses the operating system resolves a host name to, in its order of preference."""
    found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class HostPolicy:
    """The host rule: `allowed` globs (empty means any host that is not denied) and the resolver to use."""

    allowed: tuple[str, ...] = ()
    # Looked up at call time, so a test can replace `system_resolve` in this module for the whole process.
    resolve: Resolver = field(default=lambda host: system_resolve(host), compare=False)

    def check_name(self, host: str) -> None:
        """Refuse a host by its spelling alone (no DNS): metadata names and addresses, and the allow-list."""
        name = _bare(host)
        if not name:
            raise HostRefused("the address has no host")
        if name in _METADATA_NAMES:
            raise HostRefused(f"{name} is a cloud metadata service, not a Rancher server")
        literal = literal_address(name)
        if literal is not None:
            _check_address(name, literal)
        if self.allowed and not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.allowed):
            raise HostRefused(
                f"{name} is not among the hosts this installation may reach (RANCHERSYNC_ALLOWED_HOSTS)"
            )

    def vetted_addresses(self, host: str) -> list[str]:
        """Check a host and return the addresses to connect to; every one of them is allowed.

        Raises:
            HostRefused: the host, or any address it resolves to, is refused.
            OSError: the name could not be resolved (socket.gaierror from the resolver).
        """
        self.check_name(host)
        name = _bare(host)
        literal = literal_address(name)
        if literal is not None:
            return [str(literal)]
        addresses = list(self.resolve(name))
        for text in addresses:
            _check_address(name, _parse(text))
        return addresses

    def check_host(self, host: str) -> None:
        """The registration check: the name, then every address it resolves to; an unknown name passes here
        (connecting to it will say it cannot be resolved)."""
        try:
            self.vetted_addresses(host)
        except OSError:
            pass


def default_policy(environ: dict[str, str] | None = None) -> HostPolicy:
    """The policy of this installation: RANCHERSYNC_ALLOWED_HOSTS, and the operating system's resolver."""
    env = os.environ if environ is None else environ
    return HostPolicy(parse_allowed_hosts(env.get("RANCHERSYNC_ALLOWED_HOSTS", "")))


def literal_address(host: str) -> Address | None:
    """The address a host spells directly (in any of the forms a resolver accepts), else None."""
    name = _bare(host)
    try:
        return _unmapped(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        pass
    if _NUMERIC_V4.match(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def refused_reason(address: Address) -> str | None:
    """Why an address may not be a site's, or None when it may."""
    address = _unmapped(address)
    if address in _METADATA:
        return "a cloud metadata address"
    if any(address in network for network in _LINK_LOCAL if network.version == address.version):
        return "a link-local address (where cloud metadata services live)"
    if address.is_unspecified or address.is_multicast:
        return "not the address of a server"
    return None


def _check_address(name: str, address: Address) -> None:
    reason = refused_reason(address)
    if reason is not None:
        shown = name if name == str(address) else f"{name} ({address})"
        raise HostRefused(f"{shown} is {reason}: a site may not point there")


def _parse(text: str) -> Address:
    return _unmapped(ipaddress.ip_address(text.split("%", 1)[0]))


def _unmapped(address: Address) -> Address:
    """The IPv4 address an IPv6 spelling carries (mapped, IPv4-compatible, NAT64, 6to4), else the address itself."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _bare(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
