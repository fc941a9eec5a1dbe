"""The secure profile's private CA and the one server certificate the local services share.

Made on first start and kept: the CA signs a certificate for every name a client may dial (127.0.0.1, the
stack's hosts, localhost and the docker-compose service names). Key files are readable by their owner only.
Clients trust the CA alone (POBI_TLS_CA_FILE), not the system's store.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from foundation.secrets import write_private
from foundation.settings import Settings

__all__ = ["BROKER_PRINCIPAL", "TlsFiles", "ensure_certificates", "tls_files"]

SERVER_NAME = "pobi-local-services"
BROKER_PRINCIPAL = f"User:CN={SERVER_NAME}"  # how Kafka names the broker on its own controller connection
COMPOSE_HOSTS = ("kafka", "clickhouse", "redis", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path  # PKCS#8, unencrypted, 0600


def tls_files(settings: Settings, directory: Path | None = None) -> TlsFiles:
    """Where the CA and the server's certificate and key are (``<stack_dir>/tls`` unless ``directory``)."""
    folder = directory or settings.stack_path / "tls"
    return TlsFiles(folder / "ca.crt", folder / "server.crt", folder / "server.key")


def ensure_certificates(settings: Settings, directory: Path | None = None) -> TlsFiles:
    files = tls_files(settings, directory)
    folder = files.ca_cert.parent
    if all(p.exists() for p in (files.ca_cert, files.server_cert, files.server_key)):
        return files
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (files.ca_cert, files.server_cert, files.server_key, folder / "ca.key"):
        path.unlink(missing_ok=True)  # a half-made set from an interrupted start is made again whole
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pobi local CA")])
    now = dt.datetime.now(dt.UTC)
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(_names(settings)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # client auth too: the broker presents it on its own controller connection (mutual TLS)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(folder / "ca.key", _key_pem(ca_key))
    write_private(files.server_key, _key_pem(server_key))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))  # last: it marks the set done
    return files


def _names(settings: Settings) -> list[x509.GeneralName]:
    hosts = {"127.0.0.1", settings.kafka_host, settings.clickhouse_host, settings.redis_host, *COMPOSE_HOSTS}
    names: list[x509.GeneralName] = []
    for host in sorted(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
