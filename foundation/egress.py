"""Where the hub may send a tenant's data: the one place that turns a subscriber's webhook URL into a
connection, after checking every address the host resolves to.

A contract names a URL; nothing stops its author from naming ClickHouse's HTTP port, the cloud metadata
service or ``http://2130706433/``. So a delivery resolves the host itself, refuses it if *any* address is
loopback, link-local, private, multicast, reserved, unspecified or otherwise not public (the shared address
space where some clouds keep their metadata service; IPv4-mapped IPv6 judged as IPv4) unless
the administrator allow-listed that network (``POBI_WEBHOOK_ALLOW``), then connects to the very address it
checked — so a DNS answer that changes between check and connect (rebinding) gains nothing. Redirects are
never followed: a 3xx is the receiver's refusal.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["EgressRefused", "HttpAnswer", "Network", "blocked_reason", "literal_address", "parse_networks",
           "post"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(Exception):  # noqa: N818 - a refusal of the destination, not a bug
    """The URL may not be delivered to; the message says why, naming the address."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    reason: str


def parse_networks(text: str) -> list[Network]:
    """``POBI_WEBHOOK_ALLOW``: comma-separated addresses or networks (``127.0.0.1/32,10.20.0.0/16``)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def blocked_reason(address: Address, allow: Sequence[Network] = ()) -> str | None:
    """Why the hub must not connect to ``address``, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allow if network.version == address.version):
        return None
    for kind in ("loopback", "link_local", "unspecified", "multicast", "site_local", "private", "reserved"):
        if getattr(address, f"is_{kind}", False):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:  # shared address space 100.64/10 (a cloud's metadata service: 100.100.100.200)…
        return f"{address} is not a public address"
    return None


def literal_address(host: str) -> Address | None:
    """The address a host written as an IP literal stands for, in any spelling a resolver accepts
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``[::1]``); None for a name."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def _checked_connection(allow: Sequence[Network]) -> Any:
    def create_connection(address: tuple[str, int], timeout: float | None = None,
                          source_address: tuple[str, int] | None = None) -> socket.socket:
        host, port = address
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = [(family, sockaddr) for family, _t, _p, _c, sockaddr in found]
        for _family, sockaddr in addresses:
            reason = blocked_reason(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]), allow)
            if reason is not None:
                raise EgressRefused(f"{host} resolves to {reason}; webhooks may not reach it "
                                    "(an administrator can allow a network with POBI_WEBHOOK_ALLOW)")
        error: OSError | None = None
        for family, sockaddr in addresses:  # connect to an address that was checked, never to the name
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError(f"{host} has no address")
    return create_connection


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float, allow: Sequence[Network] = (),
         require_https: bool = False, tls: ssl.SSLContext | None = None) -> HttpAnswer:
    """POST ``body`` to ``url`` through the checks above. EgressRefused for a destination the hub may not
    reach; OSError (and its kin) when it could not be reached; otherwise the receiver's answer, redirects
    included (they are not followed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused(f"{url[:200]!r} is not an http(s) URL")
    if require_https and parts.scheme != "https":
        raise EgressRefused("the secure profile delivers over https only")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout_s,
                                                 context=tls or ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout_s)
    connection._create_connection = _checked_connection(allow)  # type: ignore[attr-defined]
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return HttpAnswer(response.status, response.reason)
    finally:
        connection.close()
