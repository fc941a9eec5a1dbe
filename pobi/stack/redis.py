"""Redis from Debian's ``redis-server``, append-only so dedup reservations survive a restart."""

from __future__ import annotations

import shutil

import redis

from pobi.stack.service import Service

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

    def command(self) -> list[str]:
        return [
            "redis-server", "--bind", self.host, "--port", str(self.settings.redis_port),
            "--dir", str(self.home), "--appendonly", "yes", "--save", "", "--daemonize", "no",
            "--protected-mode", "yes", "--logfile", "",
        ]

    def is_ready(self) -> bool:
        try:
            return bool(redis.Redis(host=self.host, port=self.settings.redis_port,
                                    socket_timeout=1, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False
