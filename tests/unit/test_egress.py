"""Webhook egress against real HTTP servers on this machine: every spelling of the hub's own addresses is
refused before a byte is sent, a redirect is never followed, an allow-listed network is reached."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from foundation.egress import EgressRefused, blocked_reason, literal_address, parse_networks, post


class Target(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []
    redirect_to: ClassVar[str | None] = None

    def do_POST(self) -> None:
        Target.hits.append(self.path)
        self.rfile.read(int(self.headers["Content-Length"]))
        if Target.redirect_to:
            self.send_response(307)
            self.send_header("Location", Target.redirect_to)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    Target.hits, Target.redirect_to = [], None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]"])
def test_the_hub_itself_is_refused_in_every_spelling(server: int, host: str) -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        post(f"http://{host}:{server}/hook", b"{}", {}, timeout_s=2)
    assert Target.hits == []


def test_an_allow_listed_network_is_reached_and_redirects_are_not_followed(server: int) -> None:
    allow = parse_networks("127.0.0.1/32,::1/128")  # localhost may resolve to either
    assert post(f"http://127.0.0.1:{server}/hook", b"{}", {}, timeout_s=2, allow=allow).status == 204
    Target.redirect_to = f"http://127.0.0.1:{server}/?query=INSERT%20INTO%20t%20VALUES"
    answer = post(f"http://localhost:{server}/hook", b"{}", {}, timeout_s=2, allow=allow)
    assert answer.status == 307 and Target.hits == ["/hook", "/hook"]  # the Location was never requested


def test_https_only_in_the_secure_profile(server: int) -> None:
    with pytest.raises(EgressRefused, match="https only"):
        post(f"http://127.0.0.1:{server}/hook", b"{}", {}, timeout_s=2, require_https=True,
             allow=parse_networks("127.0.0.0/8"))


@pytest.mark.parametrize(("host", "kind"), [
    ("169.254.169.254", "link-local"), ("10.0.0.8", "private"), ("192.168.1.1", "private"), ("[::1]", "loopback"),
    ("0.0.0.0", "unspecified"), ("[fe80::1]", "link-local"), ("224.0.0.1", "multicast")])
def test_literal_addresses_of_private_networks(host: str, kind: str) -> None:
    address = literal_address(host)
    assert address is not None and kind in (blocked_reason(address) or "")


def test_public_addresses_and_names_pass_the_literal_check() -> None:
    assert blocked_reason(literal_address("8.8.8.8")) is None  # type: ignore[arg-type]
    assert literal_address("alerts.example") is None


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "http:///nohost", "gopher://a/b"])
def test_only_http_urls_with_a_host_are_posted_to(url: str) -> None:
    with pytest.raises(EgressRefused, match="is not an http"):
        post(url, b"{}", {}, timeout_s=1)


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("127.0.1", "127.0.0.1"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1"), ("example.org", None),
])
def test_every_spelling_of_an_address_is_recognised(host: str, expected: str | None) -> None:
    address = literal_address(host)
    assert (str(address) if address is not None else None) == expected


@pytest.mark.parametrize(("address", "kind"), [
    ("fc00::1", "private"), ("fd12:3456::1", "private"), ("ff02::1", "multicast"), ("fec0::1", "site-local"),
    ("100.100.100.200", "not a public address"), ("198.18.0.1", "private"), ("240.0.0.1", "private"),
    ("::", "unspecified"),
])
def test_the_hub_s_own_networks_in_ipv6_and_the_odd_ranges(address: str, kind: str) -> None:
    import ipaddress

    assert kind in (blocked_reason(ipaddress.ip_address(address)) or "")
