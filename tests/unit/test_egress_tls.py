"""Webhooks over https on this machine, with pobi's own CA: the receiver's certificate is checked against the
name in the URL even though pobi connects to the address it checked, and an untrusted certificate fails."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from foundation.egress import parse_networks, post
from foundation.settings import load_settings
from pobi.stack.tls import ensure_certificates

LOOPBACK = parse_networks("127.0.0.1/32,::1/128")  # localhost may resolve to either


class Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []  # noqa: RUF012 - shared by the handler's instances, reset per test

    def do_POST(self) -> None:
        Receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
    files = ensure_certificates(load_settings(stack_dir=tmp_path))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(files.server_cert, files.server_key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    Receiver.bodies = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], ssl.create_default_context(cafile=str(files.ca_cert))
    httpd.shutdown()
    httpd.server_close()


def test_https_to_an_allowed_receiver_checks_its_certificate_by_name(https: tuple[int, ssl.SSLContext]) -> None:
    port, trusted = https
    answer = post(f"https://localhost:{port}/hook", b"{}", {}, timeout_s=5, allow=LOOPBACK,
                  require_https=True, tls=trusted)
    assert answer.status == 204 and Receiver.bodies == [b"{}"]


def test_a_certificate_pobi_does_not_trust_fails(https: tuple[int, ssl.SSLContext]) -> None:
    port, _trusted = https
    with pytest.raises(ssl.SSLError):
        post(f"https://localhost:{port}/hook", b"{}", {}, timeout_s=5, allow=LOOPBACK,
             tls=ssl.create_default_context())  # the system's CAs only
    assert Receiver.bodies == []
