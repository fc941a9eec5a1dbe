"""What the command line prints when its output goes to a file or another program: every value whole."""

from __future__ import annotations

import pytest

from pobi.cli.output import print_table


def test_a_piped_table_keeps_every_value_whole(capsys: pytest.CaptureFixture[str]) -> None:
    long_id = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"
    print_table("licences", ["licence_id", "holder", "valid_until"],
                [(long_id, "福州市鼓楼区某某某某有限公司" * 3, "2026-12-02T00:34:57.123+08:00")])
    out = capsys.readouterr().out
    assert "…" not in out and long_id in out and "2026-12-02T00:34:57.123+08:00" in out
