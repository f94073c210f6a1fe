"""Unified social credit code (统一社会信用代码) validation.

GB 32100-2015: 18 characters from the alphabet 0-9 A-H J-N P-R T-U W-Y (no I, O, Z, S, V);
the last one is a check character, weights 3^i mod 31. Characters 9-17 are the embedded
organisation code (GB 11714-1997), which carries its own check character (mod 11, 'X' for 10).
"""

from __future__ import annotations

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, ...
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def credit_code_check_char(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    # GB 11714 uses 0-9 and A-Z with A=10 … Z=35 for the body.
    def value(ch: str) -> int:
        return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10

    total = sum(value(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_problem(code: str) -> str | None:
    """None when `code` is a valid credit code, otherwise a sentence saying what is wrong."""
    if len(code) != 18:
        return "a unified social credit code has 18 characters"
    if any(ch not in _VALUE for ch in code):
        return "a unified social credit code uses only 0-9 and A-Y without I, O, S, V, Z"
    if code[17] != credit_code_check_char(code[:17]):
        return "the check character of the unified social credit code does not match (GB 32100-2015)"
    org = code[8:17]
    if org[8] != org_code_check_char(org[:8]):
        return "the embedded organisation code's check character does not match (GB 11714)"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(code) is None


def make_credit_code(head8: str, org_body8: str) -> str:
    """Build a valid code from its first 8 characters (registration authority, type and region,
    e.g. "91320200" for a Wuxi company) and the 8-character organisation code body.

    The simulators and tests use it to mint codes that pass both check characters.
    """
    if len(head8) != 8 or len(org_body8) != 8:
        raise ValueError("head8 and org_body8 must have 8 characters each")
    if any(ch not in _VALUE for ch in head8 + org_body8):
        raise ValueError("a unified social credit code uses only 0-9 and A-Y without I, O, S, V, Z")
    first17 = head8 + org_body8 + org_code_check_char(org_body8)
    return first17 + credit_code_check_char(first17)
