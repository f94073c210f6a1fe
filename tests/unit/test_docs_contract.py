"""The guides in docs/ name only what the API really has.

- every `/v1/...` path in docs/banks.md, docs/callbacks.md and docs/ops.md is an operation of
  the running app's OpenAPI document, with the method the guide uses;
- a curl example that sends `Idempotency-Key` calls an operation that declares it;
- every error `code` the guides pair with a status is one of domain/errors.py's, with that status;
- the event types in banks.md are domain/events.py's;
- the signature examples in callbacks.md are what domain/signing.py computes.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from domain.errors import HTTP_STATUS, ErrorCode
from domain.events import EventType
from domain.settings import Settings
from domain.signing import signature_header, verify_signature

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ("banks.md", "callbacks.md", "ops.md", "bureau.md", "suppliers.md")

# a path: /v1 then segments that are literal, {templated} or a shell $VARIABLE
_PATH = r"/v1(?:/(?:\{[^}/\s]+\}|\$[A-Z_]+|[A-Za-z0-9_.\-]+))+"
_METHOD_PATH = re.compile(rf"\b(GET|POST|PUT|PATCH|DELETE) ({_PATH})")
_ANY_PATH = re.compile(_PATH)
_CODE_AFTER_STATUS = re.compile(r"\b([1-5]\d\d)\b\**\s*(?:\|\s*)?`([a-z_]+)`")


def _text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def _pattern(path: str) -> re.Pattern[str]:
    parts = [r"[^/]+" if part.startswith(("{", "$")) else re.escape(part) for part in path.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "$")


def _operations(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    """The OpenAPI operations of the documented path (templated segments match any id)."""
    wanted = _pattern(path)
    found: dict[str, Any] = {}
    for candidate, operations in openapi["paths"].items():
        templated = re.sub(r"\{[^}]+\}", "x", candidate)
        if wanted.match(templated) or wanted.match(candidate):
            found |= operations
    return found


def _curl_calls(text: str) -> list[tuple[str, str, str]]:
    """(method, path, the whole command) of each curl example, continuation lines joined."""
    commands = re.sub(r"\\\n\s*", " ", text).splitlines()
    calls = []
    for command in commands:
        if "curl " not in command:
            continue
        for path in _ANY_PATH.findall(command):
            method = re.search(r"-X (GET|POST|PUT|PATCH|DELETE)", command)
            calls.append((method.group(1) if method else "GET", path, command))
    return calls


@pytest.mark.parametrize("guide", GUIDES)
def test_every_documented_path_is_in_the_openapi_document(guide: str, openapi: dict[str, Any]) -> None:
    text = _text(guide)
    paths = set(_ANY_PATH.findall(text))
    assert paths, f"{guide} names no /v1 path"
    missing = sorted(p for p in paths if not _operations(openapi, p))
    assert not missing, f"{guide} documents paths the API does not have: {missing}"


@pytest.mark.parametrize("guide", GUIDES)
def test_every_documented_method_is_an_operation(guide: str, openapi: dict[str, Any]) -> None:
    text = _text(guide)
    used = {(m, p) for m, p in _METHOD_PATH.findall(text)} | {(m, p) for m, p, _ in _curl_calls(text)}
    wrong = sorted(f"{m} {p}" for m, p in used if m.lower() not in _operations(openapi, p))
    assert not wrong, f"{guide} documents operations the API does not have: {wrong}"


def test_idempotency_keys_go_where_the_api_takes_them(openapi: dict[str, Any]) -> None:
    keyed = [(m, p) for m, p, command in _curl_calls(_text("banks.md")) if "Idempotency-Key" in command]
    assert len({p for _, p in keyed}) >= 5, "banks.md shows Idempotency-Key on every change a bank makes"
    for method, path in keyed:
        operation = _operations(openapi, path)[method.lower()]
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        assert "idempotency-key" in names, f"{method} {path} takes no Idempotency-Key"


@pytest.mark.parametrize("guide", GUIDES)
def test_every_documented_code_is_real_and_has_its_status(guide: str) -> None:
    pairs = _CODE_AFTER_STATUS.findall(_text(guide))
    assert pairs or guide == "ops.md"
    codes = {c.value for c in ErrorCode}
    unknown = sorted({code for _, code in pairs if code not in codes})
    assert not unknown, f"{guide} names error codes domain/errors.py does not have: {unknown}"
    wrong = sorted({f"{s} {c}" for s, c in pairs if HTTP_STATUS[ErrorCode(c)] != int(s)})
    assert not wrong, f"{guide} pairs codes with the wrong status: {wrong}"


def test_the_bank_guide_lists_every_code_a_bank_can_meet() -> None:
    text = _text("banks.md")
    for code in ErrorCode:
        if code in (ErrorCode.BAD_SIGNATURE, ErrorCode.INTERNAL_ERROR, ErrorCode.TOO_MANY_ATTEMPTS):
            continue  # signed callbacks only; never answered on purpose; a supplier's sign-in (suppliers.md)
        assert f"`{code.value}`" in text, f"banks.md does not explain {code.value}"


def test_the_event_types_are_the_feeds() -> None:
    text = _text("banks.md")
    documented = set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(typing.get_args(EventType))


TREASURY_BODY = (
    b'{"payment_id":"T20270331-0001","contract_no":"WX-2026-000123",'
    b'"payee_account_no":"6222020000000001","amount":"1000000.00","paid_on":"2027-03-31"}'
)
PROCUREMENT_BODY = (
    b'{"event_id":"PC-20261127-0001","contract_no":"WX-2026-000123","decision":"confirmed",'
    b'"decided_at":"2026-11-27T10:00:00+08:00"}'
)


def test_the_worked_signatures_are_what_the_platform_computes() -> None:
    text = _text("callbacks.md")
    assert TREASURY_BODY.decode() in text and PROCUREMENT_BODY.decode() in text
    assert f"{len(TREASURY_BODY)} bytes" in text
    one = signature_header("example-treasury-secret", 1806480000, TREASURY_BODY)
    assert f"Zcd-Signature: {one}" in text
    assert one.split("v1=")[1] in text.split("openssl dgst")[1]  # the OpenSSL check shows it too
    rotated = signature_header(["example-treasury-secret-2027", "example-treasury-secret"], 1806480000, TREASURY_BODY)
    assert f"Zcd-Signature: {rotated}" in text
    procurement = signature_header("example-procurement-secret", 1795744800, PROCUREMENT_BODY)
    assert f"Zcd-Signature: {procurement}" in text
    # and the API's check takes them, within its 300 s
    assert verify_signature(one, TREASURY_BODY, ["example-treasury-secret"], 1806480000 + 300)
    assert not verify_signature(one, TREASURY_BODY, ["example-treasury-secret"], 1806480000 + 301)
    assert verify_signature(rotated, TREASURY_BODY, ["example-treasury-secret-2027"], 1806480000)
    assert "300 seconds" in text
