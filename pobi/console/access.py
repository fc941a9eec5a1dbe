"""Who uses the console on the secure profile, and what each role may see.

Users are files, as every secret of pobi: ``<secrets_dir>/console/<role>/<user>.password`` (0600), made by
`pobi access console-user NAME --role viewer|operator`. A login gives a session cookie (HttpOnly, Secure,
SameSite=Strict) signed with a key derived from the hub key, valid for eight hours. A **viewer** searches and
reads files with personal and sensitive fields shown partially (`350102********1234`, `陈**`), as a contract masks them;
an **operator** also sees them in clear and opens the operator's desk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from foundation.connect import require_owner_only
from foundation.secrets import secret_digest
from foundation.settings import Settings
from schemas.registry import SchemaRegistry
from streams.fanout.masking import mask_value
from streams.normalize.classify import ENTITY_TYPES

__all__ = ["ROLES", "SESSION_COOKIE", "ConsoleUser", "ConsoleUsers", "Gate", "Sessions", "role_masks", "shown_to"]

ROLES = ("viewer", "operator")
SESSION_COOKIE = "pobi_session"
SESSION_S = 8 * 3600
# what a viewer sees of a field, by its sensitivity (an operator sees every field in clear)
_VIEWER_MASKS = {"personal": "partial", "sensitive": "partial"}  # enough to recognise a person, not to use the data


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str  # viewer, operator, or api (the bearer token: a program, not a person)

    @property
    def operates(self) -> bool:
        return self.role in ("operator", "api")


class ConsoleUsers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def check(self, name: str, password: str) -> ConsoleUser | None:
        if not name or "/" in name or name.startswith("."):
            return None
        for role in ROLES:
            path = self._settings.secrets_path / "console" / role / f"{name}.password"
            if path.is_file():
                require_owner_only(path)
                known = path.read_text(encoding="utf-8").strip()
                if hmac.compare_digest(secret_digest(known), secret_digest(password)):
                    return ConsoleUser(name, role)
                return None
        return None


class Sessions:
    """Signed, expiring session tokens: ``<payload>.<signature>``, nothing kept on the server."""

    def __init__(self, key: bytes, clock: Any = time.time) -> None:
        self._key = hmac.new(key, b"console-session", hashlib.sha256).digest()
        self._clock = clock

    def issue(self, user: ConsoleUser) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(
            {"u": user.name, "r": user.role, "e": int(self._clock()) + SESSION_S}).encode()).decode()
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str | None) -> ConsoleUser | None:
        payload, _, signature = (token or "").partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None
        if claims.get("e", 0) < self._clock() or claims.get("r") not in ROLES:
            return None
        return ConsoleUser(str(claims["u"]), str(claims["r"]))

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()


def role_masks(registry: SchemaRegistry) -> dict[str, dict[str, tuple[str, str | None]]]:
    """entity type → field → (what a viewer sees of it, its rule), for the fields a viewer may not see in clear."""
    masks: dict[str, dict[str, tuple[str, str | None]]] = {}
    for dataset in registry.datasets:
        mine = masks.setdefault(ENTITY_TYPES.get(dataset, dataset), {})
        for spec in registry.latest(dataset).fields:
            if spec.sensitivity in _VIEWER_MASKS:
                mine.setdefault(spec.name, (_VIEWER_MASKS[spec.sensitivity], spec.rule))
    return masks


def shown_to(user: ConsoleUser, view: str, body: Any, masks: dict[str, dict[str, tuple[str, str | None]]]) -> Any:
    """``body`` as ``user`` may see it: for a viewer, the 360° view's protected attributes (and what is derived
    from them, and other departments' words) and the names in search results masked. Pure."""
    if user.role != "viewer":
        return body
    if view == "object" and isinstance(body, dict):
        fields = masks.get(str(body.get("entity_type")), {})

        def hide(name: str, value: Any) -> Any:
            mask, rule = fields.get(name.split(".")[0], ("clear", None))
            return mask_value(mask, value, rule, b"")

        attributes = {name: {**a, "value": hide(name, a["value"]),
                             "others": [{**o, "value": hide(name, o["value"])} for o in a.get("others", [])]}
                      for name, a in body["attributes"].items()}
        return {**body, "attributes": attributes,
                "derived": {name: hide(name, value) for name, value in body.get("derived", {}).items()}}
    if view == "search" and isinstance(body, list):
        return [{**found, "label": hide_label(found, masks)} for found in body]
    return body


def hide_label(found: dict[str, Any], masks: dict[str, dict[str, tuple[str, str | None]]]) -> Any:
    """A search result's label is the attribute that matched (an enterprise found by its legal
    representative's name shows that name), or the name for an id match."""
    attribute = "name" if found.get("matched") == "id" else str(found.get("matched"))
    mask, rule = masks.get(str(found.get("entity_type")), {}).get(attribute, ("clear", None))
    return mask_value(mask, found.get("label"), rule, b"")


class Gate:
    """Who is calling the API: the bearer token's holder (a program: role ``api``), a console user by their
    session cookie, or — on the plaintext profile, where the API answers loopback only and has no token —
    whoever reached it, as an operator named by their address. None: nobody the secure profile lets in."""

    def __init__(self, token: str | None, sessions: Sessions | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None
        self.sessions = sessions

    @property
    def secure(self) -> bool:
        return self._expected is not None

    def identify(self, authorization: str, cookie: str | None, channel: str, address: str) -> ConsoleUser | None:
        if self._expected is None:
            return ConsoleUser(f"{channel}@{address}", "operator")
        if hmac.compare_digest(authorization.encode(), self._expected):
            return ConsoleUser("api-token", "api")
        return self.sessions.verify(cookie) if self.sessions is not None else None
