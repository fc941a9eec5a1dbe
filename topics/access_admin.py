"""Putting the derived users and ACLs on the broker (``pobi access apply``), as the administrator.

Adds what is missing and removes the ACLs that no catalogue entry or contract justifies any more, within
pobi's own principals and this namespace; everything else on the cluster is left alone. A new user's
password is made once and written to an owner-only file (``<secrets_dir>/kafka/<user>.password``) that is
handed to its party; it is never printed or logged. Each publishing department also gets the bearer token
it presents to the HTTP gateway (``<secrets_dir>/gateway/<department>.password``), made the same way.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the stubs do not re-export these
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from foundation.errors import PobiError
from foundation.secrets import ensure_password, new_password, replace_private
from foundation.settings import Settings
from topics.access import Acl, desired_acls, desired_users, diff, is_managed, owning_departments
from topics.catalogue import Catalogue

__all__ = ["AccessReport", "apply_access", "cluster_acls", "scram_users"]

_TIMEOUT_S = 15.0
_ITERATIONS = 8192


@dataclass
class AccessReport:
    users_created: list[str] = field(default_factory=list)
    users_rotated: list[str] = field(default_factory=list)
    users_without_file: list[str] = field(default_factory=list)  # on the broker, but no password file here
    gateway_tokens_created: list[str] = field(default_factory=list)  # departments given an HTTP gateway token
    acls_added: list[Acl] = field(default_factory=list)
    acls_removed: list[Acl] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"users_created": self.users_created, "users_rotated": self.users_rotated,
                "users_without_file": self.users_without_file, "dry_run": self.dry_run,
                "gateway_tokens_created": self.gateway_tokens_created,
                "acls_added": [str(a) for a in self.acls_added], "acls_removed": [str(a) for a in self.acls_removed]}


def _refused(what: str, exc: KafkaException) -> PobiError:
    return PobiError(f"Kafka refused to {what} ({exc.args[0].str()}); run `pobi access` as the administrator "
                     "(POBI_KAFKA_USER=admin) on the secure profile")


def scram_users(admin: AdminClient) -> set[str]:
    try:
        answer = admin.describe_user_scram_credentials()
        described = answer.result() if isinstance(answer, Future) else {}
    except KafkaException as exc:
        raise _refused("list its users", exc) from None
    return set(described)


def cluster_acls(admin: AdminClient) -> set[Acl]:
    """Every ALLOW ACL on the cluster, as pobi's Acl."""
    # None stands for "any" name, principal and host (librdkafka's filter); the stubs say str
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,  # type: ignore[arg-type]
                                  None, None, AclOperation.ANY, AclPermissionType.ANY)  # type: ignore[arg-type]
    try:
        bindings = admin.describe_acls(everything, request_timeout=_TIMEOUT_S).result()
    except KafkaException as exc:
        raise _refused("list its ACLs", exc) from None
    return {Acl(b.principal, b.restype.name, b.resource_pattern_type.name, b.name, b.operation.name)
            for b in bindings if b.permission_type == AclPermissionType.ALLOW and b.host == "*"}


def _binding_args(acl: Acl) -> tuple[Any, ...]:
    return (ResourceType[acl.resource_type], acl.name, ResourcePatternType[acl.pattern], acl.principal, "*",
            AclOperation[acl.operation], AclPermissionType.ALLOW)


def _upsert(admin: AdminClient, user: str, password: str) -> None:
    upsertion = UserScramCredentialUpsertion(user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _ITERATIONS),
                                             password.encode())
    try:
        for future in admin.alter_user_scram_credentials([upsertion]).values():
            future.result()
    except KafkaException as exc:
        raise _refused(f"create user {user}", exc) from None


def apply_access(admin: AdminClient, settings: Settings, catalogue: Catalogue, subscribers: list[str], *,
                 rotate: tuple[str, ...] = (), dry_run: bool = False) -> AccessReport:
    """Make the broker's users and ACLs what the catalogue and the contracts say."""
    report = AccessReport(dry_run=dry_run)
    wanted_users = desired_users(catalogue, subscribers)
    unknown = sorted(set(rotate) - wanted_users)
    if unknown:
        raise PobiError(f"cannot rotate {unknown[0]!r}: no catalogue entry or contract needs that user "
                        f"(users: {', '.join(sorted(wanted_users))})")
    existing_users = scram_users(admin)
    for user in sorted(wanted_users):
        path = settings.password_path("kafka", user)
        if user in rotate:
            report.users_rotated.append(user)
            if not dry_run:
                password = new_password()
                _upsert(admin, user, password)
                replace_private(path, password.encode())
        elif user not in existing_users:
            report.users_created.append(user)
            if not dry_run:
                password = ensure_password(settings, "kafka", user)  # an existing file is reused
                _upsert(admin, user, password)
        elif not path.exists():
            report.users_without_file.append(user)

    for department in sorted(owning_departments(catalogue)):  # <secrets>/gateway/<department>.password
        if not settings.password_path("gateway", department).exists():
            report.gateway_tokens_created.append(department)
            if not dry_run:
                ensure_password(settings, "gateway", department)

    prefix = settings.topics.named("")
    wanted = desired_acls(catalogue, subscribers, settings.topics.named)
    present = {acl for acl in cluster_acls(admin) if is_managed(acl, prefix)}
    report.acls_added, report.acls_removed = diff(wanted, present)
    if dry_run:
        return report
    try:
        if report.acls_added:
            for future in admin.create_acls([AclBinding(*_binding_args(a)) for a in report.acls_added],
                                            request_timeout=_TIMEOUT_S).values():
                future.result()
        if report.acls_removed:
            filters = [AclBindingFilter(*_binding_args(a)) for a in report.acls_removed]
            for future in admin.delete_acls(filters, request_timeout=_TIMEOUT_S).values():
                future.result()
    except KafkaException as exc:
        raise _refused("change its ACLs", exc) from None
    return report

