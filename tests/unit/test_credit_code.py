"""Unified social credit code (GB 32100-2015) with its embedded organisation code (GB 11714)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.application import ApplicationRequest
from domain.credit_code import (
    credit_code_check_char,
    credit_code_problem,
    is_valid_credit_code,
    make_credit_code,
    org_code_check_char,
)
from tests.unit.strategies import CREDIT_CODE_ALPHABET, eight_chars

# An oracle written independently of domain/credit_code.py: the weights as the standard
# prints them, and the character values as its table gives them.
GB32100_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
GB11714_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def oracle_is_valid(code: str) -> bool:
    if len(code) != 18 or any(ch not in CREDIT_CODE_ALPHABET for ch in code):
        return False
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(code[:17], GB32100_WEIGHTS, strict=True))
    if CREDIT_CODE_ALPHABET[(31 - total % 31) % 31] != code[17]:
        return False
    org_total = sum(int(ch, 36) * w for ch, w in zip(code[8:16], GB11714_WEIGHTS, strict=True))
    c9 = 11 - org_total % 11
    return code[16] == {10: "X", 11: "0"}.get(c9, str(c9))


VALID = [
    "91350100M000100Y43",  # the standard's own example
    make_credit_code("91320200", "MA1MXY3K"),  # the workflow tests' supplier
    make_credit_code("91320200", "MA2NQ7PL"),
    make_credit_code("12320200", "46600000"),
    make_credit_code("92320213", "L00000X0"),
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code: str) -> None:
    assert oracle_is_valid(code)
    assert credit_code_problem(code) is None
    assert is_valid_credit_code(code)


def test_the_standards_example_check_characters() -> None:
    assert org_code_check_char("M000100Y") == "4"
    assert credit_code_check_char("91350100M000100Y4") == "3"


def test_org_code_check_char_known_values() -> None:
    # GB 11714: C9 = 11 - (Σ Ci·Wi mod 11); 10 is written X and 11 is written 0.
    assert org_code_check_char("D2143569") == "X"  # Σ = 199, 199 mod 11 = 1 → 10 → X
    assert org_code_check_char("00000000") == "0"  # Σ = 0 → 11 → 0
    assert org_code_check_char("10000000") == "8"  # Σ = 3 → 8


def _is_sentence(problem: str | None) -> bool:
    return isinstance(problem, str) and " " in problem and len(problem) > 20


def _with(code: str, index: int, ch: str) -> str:
    return code[:index] + ch + code[index + 1 :]


def test_wrong_check_char_fails_with_a_sentence() -> None:
    code = "91350100M000100Y43"
    for ch in CREDIT_CODE_ALPHABET:
        if ch == "3":
            continue
        problem = credit_code_problem(_with(code, 17, ch))
        assert _is_sentence(problem)
        assert problem is not None and "check character" in problem


def test_wrong_org_code_check_char_fails_with_a_sentence() -> None:
    # Right GB 32100 check character, wrong GB 11714 one: only the inner check catches it.
    first17 = "91350100M000100Y" + "5"
    code = first17 + credit_code_check_char(first17)
    problem = credit_code_problem(code)
    assert _is_sentence(problem)
    assert problem is not None and "organisation code" in problem
    assert not is_valid_credit_code(code)


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_forbidden_letters_fail(letter: str) -> None:
    for index in (0, 2, 8, 12, 17):
        problem = credit_code_problem(_with("91350100M000100Y43", index, letter))
        assert _is_sentence(problem)
        assert problem is not None and "without I, O, S, V, Z" in problem


def test_lowercase_fails() -> None:
    problem = credit_code_problem("91350100m000100y43")
    assert _is_sentence(problem)
    assert not is_valid_credit_code("91350100m000100y43")


@pytest.mark.parametrize("code", ["", "9", "91350100M000100Y4", "91350100M000100Y433", "91350100M000100Y43 "])
def test_wrong_length_fails(code: str) -> None:
    problem = credit_code_problem(code)
    assert _is_sentence(problem)
    assert problem is not None and "18 characters" in problem


@pytest.mark.parametrize("code", ["91350100M000100Y4３", "91350100M000100Y4-", "９1350100M000100Y43"])
def test_non_ascii_and_punctuation_fail(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_make_credit_code_refuses_bad_parts() -> None:
    with pytest.raises(ValueError):
        make_credit_code("9132020", "MA1MXY3K")
    with pytest.raises(ValueError):
        make_credit_code("91320200", "MA1MXY3KK")
    with pytest.raises(ValueError):
        make_credit_code("91320200", "MA1MXYIK")  # I is not in the alphabet
    with pytest.raises(ValueError):
        make_credit_code("91320200", "ma1mxy3k")


def _application(code: str) -> dict[str, object]:
    return {
        "contract_no": "WX-2026-000123",
        "supplier_credit_code": code,
        "product_code": "STD",
        "requested_amount": "700000.00",
        "collection_account": {"account_no": "6222020000000001", "account_name": "无锡某某科技有限公司"},
    }


def test_application_refuses_a_malformed_code_with_the_sentence() -> None:
    assert ApplicationRequest.model_validate(_application("91350100M000100Y43"))
    with pytest.raises(ValidationError, match="check character"):
        ApplicationRequest.model_validate(_application("91350100M000100Y44"))


# ---- properties -----------------------------------------------------------------------------

PROPERTY = settings(derandomize=True, database=None, max_examples=300, deadline=None)


@PROPERTY
@given(eight_chars, eight_chars)
def test_every_minted_code_validates(head: str, body: str) -> None:
    code = make_credit_code(head, body)
    assert len(code) == 18
    assert code.startswith(head + body)
    assert credit_code_problem(code) is None
    assert oracle_is_valid(code)


@PROPERTY
@given(eight_chars, eight_chars, st.integers(min_value=0, max_value=17), st.data())
def test_any_single_substitution_is_caught(head: str, body: str, index: int, data: st.DataObject) -> None:
    code = make_credit_code(head, body)
    replacement = data.draw(st.sampled_from(CREDIT_CODE_ALPHABET).filter(lambda ch: ch != code[index]))
    mutated = _with(code, index, replacement)
    assert not is_valid_credit_code(mutated)
    assert _is_sentence(credit_code_problem(mutated))
    # The mod-31 check character alone catches it: 31 is prime and no weight is 0 mod 31.
    assert credit_code_check_char(mutated[:17]) != mutated[17]


@PROPERTY
@given(eight_chars, eight_chars, st.integers(min_value=0, max_value=17), st.characters())
def test_any_single_character_change_is_caught(head: str, body: str, index: int, replacement: str) -> None:
    code = make_credit_code(head, body)
    if replacement == code[index]:
        return
    assert not is_valid_credit_code(_with(code, index, replacement))


@PROPERTY
@given(st.text(alphabet=CREDIT_CODE_ALPHABET + "IOSVZa-", min_size=16, max_size=20))
def test_validation_agrees_with_the_oracle(code: str) -> None:
    assert is_valid_credit_code(code) == oracle_is_valid(code)
