"""The gateway's pure parts: a body as records, and who the caller is."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.settings import load_settings
from pobi.gateway.callers import CallerBook, CallerRefused
from pobi.gateway.intake import records_of_body
from pobi.publish.adapters import Draft, Rejected
from topics.catalogue import load_catalogue


def test_a_record_has_one_identity_however_it_was_spelt() -> None:
    as_array = list(records_of_body(b'[{"name": "\\u9648", "id_number": "1"}, {"op": "d", "before": {}}]'))
    as_lines = list(records_of_body('{"id_number":"1",  "name":"陈"}\n\n{"op":"d","before":{}}\n'.encode()))
    assert [d.raw for d in as_array] == [d.raw for d in as_lines]
    assert [d.line for d in as_lines] == [0, 1] and isinstance(as_lines[1], Draft) and as_lines[1].op == "d"


def test_one_object_is_one_record_and_garbage_lines_are_refused_alone() -> None:
    [single] = records_of_body(b'{"id_number": "1"}')
    assert isinstance(single, Draft) and single.after == {"id_number": "1"}
    mixed = list(records_of_body(b'{"id_number": "1"}\nnot json\n[1, 2]\n'))
    assert [type(r).__name__ for r in mixed] == ["Draft", "Rejected", "Draft"]
    assert isinstance(mixed[1], Rejected) and mixed[1].reason == "json.malformed" and mixed[1].line == 1


def test_plaintext_callers_name_themselves(tmp_path: Path) -> None:
    book = CallerBook(load_settings(stack_dir=tmp_path), load_catalogue())
    book.setup()
    caller = book.identify(None, "public-security", None)
    assert (caller.department, caller.system) == ("public-security", "gateway")
    for department, system in ((None, "s"), ("  ", "s"), ("a b", "s"), ("ok", "x/y")):
        with pytest.raises(CallerRefused) as refused:
            book.identify(None, department, system)
        assert refused.value.status == 400


def test_secure_callers_are_their_token_and_publish_only_what_they_own(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path, security="secure")
    folder = settings.secrets_path / "gateway"
    folder.mkdir(parents=True)
    (folder / "public-security.password").write_text("s3cret-token\n")
    book = CallerBook(settings, load_catalogue())
    book.setup()
    caller = book.identify("Bearer s3cret-token", "market-regulation", "hukou")
    assert caller.department == "public-security"  # the header does not speak for the caller
    book.check_may_publish(caller, "person")
    with pytest.raises(CallerRefused) as refused:
        book.check_may_publish(caller, "enterprise")
    assert refused.value.status == 403
    for authorization in (None, "Bearer wrong", "Basic s3cret-token", "s3cret-token"):
        with pytest.raises(CallerRefused) as refused:
            book.identify(authorization, "public-security", None)
        assert refused.value.status == 401
