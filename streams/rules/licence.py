"""Electronic licence identifiers, GB/T 36904-2018 (shared/standards.md §5.2):

    1.2.156.3005.2 . <type: 18-char USCC + 3 digits> . <issuer USCC> . <serial> . <version: 3 digits> . <check>

The check character is ISO 7064 MOD 37,36 over type + issuer + serial + version. Public samples show
non-conformant check characters and issuers, so those are flagged, while a wrong root or shape is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stdnum.cn import uscc
from stdnum.iso7064 import mod_37_36

from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import clean_text

__all__ = ["LICENCE_ROOT", "LicenceId", "normalize_licence_id"]

LICENCE_ROOT = "1.2.156.3005.2"
_BODY = re.compile(r"^([0-9A-Z]{18}[0-9]{3})\.([0-9A-Z]{18})\.([0-9A-Z]+)\.([0-9]{3})\.([0-9A-Z])$", re.ASCII)


@dataclass(frozen=True)
class LicenceId:
    value: str
    type_code: str
    issuer_code: str
    serial: str
    version: str
    flags: tuple[Flag, ...] = field(default=())


def normalize_licence_id(raw: str | None) -> LicenceId:
    text = clean_text(raw)
    if text is None:
        raise RuleViolation("licence_id.missing", "the licence identifier is empty")
    text = text.replace(" ", "").upper()
    if not text.startswith(LICENCE_ROOT + "."):
        raise RuleViolation("licence_id.root", f"a licence identifier starts with {LICENCE_ROOT}.")
    match = _BODY.match(text[len(LICENCE_ROOT) + 1:])
    if not match:
        raise RuleViolation("licence_id.format", "after the root a licence identifier has five dot-separated "
                            "parts: type code (21), issuer code (18), serial, version (3 digits), check character")
    type_code, issuer, serial, version, check = match.groups()
    flags: list[Flag] = []
    expected = mod_37_36.calc_check_digit(type_code + issuer + serial + version)
    if check != expected:
        flags.append(Flag("licence_id.checksum", f"the check character should be {expected}, not {check}"))
    if not uscc.is_valid(issuer):
        flags.append(Flag("licence_id.issuer", f"the issuer part {issuer} is not a valid credit code"))
    return LicenceId(text, type_code, issuer, serial, version, tuple(flags))
