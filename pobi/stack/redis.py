"""Redis from Debian's ``redis-server``, append-only so dedup reservations survive a restart.

In the secure profile it speaks TLS only (the plaintext port is 0), the passwordless ``default`` user is off,
and pobi's one ACL user may touch only ``pobi:*`` keys and no administrative command."""

from __future__ import annotations

import hashlib
import shutil

import redis

from foundation.connect import redis_client
from foundation.errors import PobiError
from foundation.secrets import ensure_password, replace_private
from pobi.stack.profile import REDIS_USER
from pobi.stack.service import Service
from pobi.stack.tls import ensure_certificates

__all__ = ["RedisService"]


class RedisService(Service):
    name = "redis"

    @property
    def host(self) -> str:
        return self.settings.redis_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.redis_port]

    def missing_packages(self) -> list[str]:
        return [] if shutil.which("redis-server") else ["redis-server"]

    def prepare(self) -> None:
        if self.settings.secure:
            password = ensure_password(self.settings, "redis", REDIS_USER)
            digest = hashlib.sha256(password.encode()).hexdigest()  # the ACL file holds a hash, not the password
            replace_private(self.home / "users.acl", (
                "user default off\n"
                f"user {REDIS_USER} on #{digest} ~pobi:* resetchannels -@all +@read +@write +@keyspace "
                "+@scripting +@transaction +@connection -@dangerous\n").encode())

    def command(self) -> list[str]:
        common = ["--dir", str(self.home), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                  "--daemonize", "no", "--protected-mode", "yes", "--logfile", "", "--bind", self.host]
        if not self.settings.secure:
            return ["redis-server", "--port", str(self.settings.redis_port), *common]
        tls = ensure_certificates(self.settings)
        return ["redis-server", "--port", "0", "--tls-port", str(self.settings.redis_port),
                "--tls-cert-file", str(tls.server_cert), "--tls-key-file", str(tls.server_key),
                "--tls-ca-cert-file", str(tls.ca_cert), "--tls-auth-clients", "no",
                "--aclfile", str(self.home / "users.acl"), *common]

    def is_ready(self) -> bool:
        try:
            return bool(redis_client(self.settings, socket_timeout=1, socket_connect_timeout=1).ping())
        except (redis.RedisError, OSError, PobiError):
            return False
