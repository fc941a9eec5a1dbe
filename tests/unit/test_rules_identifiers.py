"""The identifier rules against the verified examples of shared/standards.md and their mutations."""

from datetime import date

import pytest
from stdnum.cn import ric

from streams.rules.credit_code import normalize_uscc, organisation_code_valid
from streams.rules.identity import normalize_id_number, ric15_to_18
from streams.rules.outcome import RuleViolation
from streams.rules.text import clean_text, compact_identifier

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(("number", "born", "gender"), [
    ("11010519491231002X", date(1949, 12, 31), "2"),
    ("440524188001010014", date(1880, 1, 1), "1"),
    ("360426199101010071", date(1991, 1, 1), "1"),
    ("44011320141005001X", date(2014, 10, 5), "1"),
    ("350102199003071234", date(1990, 3, 7), "1"),
    ("350203200002290029", date(2000, 2, 29), "2"),
    ("35058219851111456X", date(1985, 11, 11), "2"),
    ("350902197001010010", date(1970, 1, 1), "1"),
    ("350681199512318883", date(1995, 12, 31), "2"),
])
def test_valid_id_numbers(number: str, born: date, gender: str) -> None:
    result = normalize_id_number(number, today=TODAY)
    assert (result.value, result.birth_date, result.gender) == (number, born, gender)


def test_dirty_spellings_clean_to_the_canonical_number() -> None:
    for dirty in ("４４０１１３２０１４１００５００１ｘ", " 440113 2014 1005 001x ", "\ufeff44011320141005001x\u200b"):
        assert normalize_id_number(dirty, today=TODAY).value == "44011320141005001X"


@pytest.mark.parametrize(("number", "code"), [
    ("36042619910102009X", "id_number.checksum"),
    ("360426199113010079", "id_number.birth_date"),
    ("350102190002290011", "id_number.birth_date"),       # 1900 is not a leap year
    ("350102203001010010", "id_number.birth_date"),       # born in the future
    ("3.50102E+17", "id_number.excel_precision_loss"),
    ("35010219900307123", "id_number.format"),
    ("", "id_number.missing"),
    ("无", "id_number.missing"),
])
def test_invalid_id_numbers(number: str, code: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_id_number(number, today=TODAY)
    assert err.value.code == code


def test_every_single_digit_mutation_of_a_valid_number_is_caught() -> None:
    valid = "350102199003071234"
    for i in range(17):
        for d in "0123456789":
            if d == valid[i]:
                continue
            mutated = valid[:i] + d + valid[i + 1:]
            with pytest.raises(RuleViolation):
                normalize_id_number(mutated, today=TODAY)


def test_flags_for_old_and_residence_permit_numbers() -> None:
    assert [f.code for f in normalize_id_number("440524188001010014", today=TODAY).flags] == [
        "id_number.born_before_1900"]
    body = "83000019900101002"
    from stdnum.cn import ric
    permit = normalize_id_number(body + ric.calc_check_digit(body + "0"), today=TODAY)
    assert permit.residence_permit_region == "台湾"
    assert "id_number.residence_permit" in [f.code for f in permit.flags]


def test_legacy_15_digit_numbers() -> None:
    assert ric15_to_18("110105491231002") == "11010519491231002X"
    assert ric15_to_18("350102900307123") == "350102199003071234"
    converted = normalize_id_number("350102900307123", today=TODAY)
    assert converted.value == "350102199003071234"
    assert [f.code for f in converted.flags] == ["id_number.converted_from_15"]
    with pytest.raises(RuleViolation) as err:
        ric15_to_18("350102050307997")
    assert err.value.code == "id_number.legacy_centenarian"
    from stdnum.cn import ric

    with_century = ric15_to_18("350102050307997", century="18")
    # (stdnum's is_valid also checks the county existed in 1805, which 350102 did not; the check digit is ours)
    assert with_century.startswith("35010218050307997")
    assert with_century[-1] == ric.calc_check_digit(with_century)


@pytest.mark.parametrize("code", [
    "91350100M000100Y43", "91110000600037341L", "91310115MA1K3BTP2B", "91310230MA1K314J7C", "91310230MA1K314K57",
    "121200004013590816", "9144030071526726XG", "92340602MA2PBQAH7E", "91350200MA31ABCD0D", "123500000031000157",
    "52350100MJ00000180", "92350582MA2YQ0T16R", "11350000003000006R",
])
def test_valid_credit_codes(code: str) -> None:
    result = normalize_uscc(code)
    assert result.value == code and result.division_code == code[2:8]
    assert not [f for f in result.flags if f.code != "uscc.unknown_type"]


@pytest.mark.parametrize(("code", "reason"), [
    ("91350100M000100Y4Z", "uscc.format"), ("91110000600037341N", "uscc.checksum"),
    ("9111000060003IOZSV", "uscc.format"), ("91350100M000100Y4", "uscc.format"), ("", "uscc.missing"),
])
def test_invalid_credit_codes(code: str, reason: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_uscc(code)
    assert err.value.code == reason


@pytest.mark.parametrize("code", ["91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"])
def test_fujian_pilot_codes_are_flagged_not_rejected(code: str) -> None:
    assert [f.code for f in normalize_uscc(code).flags] == ["uscc.checksum_mismatch_pilot"]


def test_a_non_pilot_code_failing_only_the_outer_check_is_rejected() -> None:
    with pytest.raises(RuleViolation):
        normalize_uscc("91110000600037341M")


def test_organisation_code_vectors() -> None:
    for code in ("D2143569X", "MA1FL0LY9", "123456788", "876543210", "600037341", "M000100Y4", "743719761",
                 "L18322123"):
        assert organisation_code_valid(code)
    assert not organisation_code_valid("876543211")


def test_text_cleaning() -> None:
    assert clean_text("\u3000福州市\u200b  鼓楼区\xa0") == "福州市 鼓楼区"
    assert clean_text("ＡＢＣ１２３") == "ABC123"
    for placeholder in ("无", " 暂无 ", "/", "NULL", "", "   "):
        assert clean_text(placeholder) is None
    assert compact_identifier(" 9135-0100 M000 100Y43 ") == "91350100M000100Y43"


def test_division_codes_with_names_and_history() -> None:
    from streams.rules.division import normalize_division_code

    gulou = normalize_division_code("350102", year=2026)
    assert (gulou.province, gulou.city, gulou.county, gulou.flags) == ("福建省", "福州市", "鼓楼区", ())
    meilie = normalize_division_code("３５０４０２", year=2026)
    assert meilie.county == "梅列区" and [f.code for f in meilie.flags] == ["division_code.retired"]
    assert normalize_division_code("350402", year=2020).flags == ()
    fuzhou = normalize_division_code("350100", year=2026)
    assert (fuzhou.city, fuzhou.county) == ("福州市", None)
    assert [f.code for f in normalize_division_code("359999", year=2026).flags] == ["division_code.unknown"]
    for bad in ("35010", "0350102", "35O102"):
        with pytest.raises(RuleViolation) as err:
            normalize_division_code(bad, year=2026)
        assert err.value.code == "division_code.format"


# GB 32100 §2.4's table of registration authorities and their organisation types, and the check character
# computed as standards §2.3 writes it (independently of python-stdnum)
_AUTHORITY_TYPES = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "129",
                    "8": "19", "9": "123", "A": "19", "N": "1239", "Y": "1"}
_ALPHABET31 = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS31 = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _uscc(body17: str) -> str:
    total = sum(_ALPHABET31.index(c) * w for c, w in zip(body17, _WEIGHTS31, strict=True))
    return body17 + _ALPHABET31[(31 - total % 31) % 31]


@pytest.mark.parametrize(("authority", "kind"), [(a, k) for a, kinds in _AUTHORITY_TYPES.items() for k in kinds])
def test_every_authority_and_type_of_the_standards_table_is_accepted(authority: str, kind: str) -> None:
    code = _uscc(f"{authority}{kind}350100M000100Y4")  # the standard's worked example's body, GB 11714 valid
    result = normalize_uscc(code)
    assert result.value == code and result.organisation_code == "M000100Y4"
    assert [f.code for f in result.flags] == []


@pytest.mark.parametrize("authority", ["A", "N", "Y"])
def test_a_wrong_check_character_names_the_right_one(authority: str) -> None:
    code = _uscc(f"{authority}1350100M000100Y4")
    wrong = _ALPHABET31[(_ALPHABET31.index(code[-1]) + 1) % 31]
    with pytest.raises(RuleViolation) as err:
        normalize_uscc(code[:-1] + wrong)
    assert err.value.code == "uscc.checksum"
    assert f"should be {code[-1]}, not {wrong}" in err.value.message


@pytest.mark.parametrize(("code", "typo"), [
    ("91350100M0001TGQXM", "91359100M0001TGQXM"),  # division 359100 does not exist
    ("91350211M0000XUF46", "91350211M0000XUF56"),  # a typo in the organisation body: GB 11714 fails
])
def test_the_pilot_exception_does_not_excuse_typos(code: str, typo: str) -> None:
    assert [f.code for f in normalize_uscc(code).flags] == ["uscc.checksum_mismatch_pilot"]
    with pytest.raises(RuleViolation) as err:
        normalize_uscc(typo)
    assert err.value.code == "uscc.checksum"


def _id_number(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def test_an_id_number_outside_every_province_is_refused() -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_id_number(_id_number("99010219800101001"), today=TODAY)
    assert err.value.code == "id_number.address_code"


def test_an_unknown_county_in_a_real_province_is_flagged_not_refused() -> None:
    unknown = normalize_id_number(_id_number("35019919800101001"), today=TODAY)  # no county 350199
    assert "id_number.address_unknown" in [f.code for f in unknown.flags]
    retired = normalize_id_number(_id_number("35040219800101001"), today=TODAY)  # 梅列区, retired in 2021
    assert [f.code for f in retired.flags] == []
    taiwan = normalize_id_number(_id_number("83000019800101001"), today=TODAY)  # a residence permit
    assert [f.code for f in taiwan.flags] == ["id_number.residence_permit"]
