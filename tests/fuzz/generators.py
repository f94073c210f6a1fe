"""Hypothesis strategies for requests to every operation of the OpenAPI document, as every
principal, with the edge classes of issue 10 mixed into otherwise well-formed requests (so
that validation deeper than the JSON parser is reached): NUL and other control characters,
lone surrogates and invalid UTF-8 bytes, money beyond the database, exotic dates, `..`, `/` and
whitespace in ids, long strings, 2 MB bodies, wrong content types, malformed JSON, bad
Idempotency-Keys, tampered cursors, forged or stale signatures.

A generated `FuzzRequest` names its principal; the credentials (and a signature over the
final body, with a fresh timestamp) are added when it is sent."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# ---- principals ---------------------------------------------------------------------------

BEARER_PRINCIPALS = ("bank", "other_bank", "ops", "no_key", "bad_key", "malformed_auth", "bank_lowercase_scheme")
SIGNED_PRINCIPALS = (
    "treasury",
    "procurement",
    "sig_wrong_secret",
    "sig_stale",
    "sig_future",
    "sig_garbage",
    "sig_no_v1",
)
PRINCIPALS = BEARER_PRINCIPALS + SIGNED_PRINCIPALS
SIGNED_PATHS = {"/v1/treasury/payments": "treasury", "/v1/procurement/account-changes": "procurement"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, e.g. /v1/applications/{application_id}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    header_params: tuple[str, ...]
    has_body: bool
    form_body: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations_of(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            content = op.get("requestBody", {}).get("content", {})
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in params if p["in"] == "query"),
                    header_params=tuple(p["name"] for p in params if p["in"] == "header"),
                    has_body="requestBody" in op,
                    form_body="application/x-www-form-urlencoded" in content,
                )
            )
    return found


# ---- what the seeded stack holds ----------------------------------------------------------


@dataclass
class World:
    """Real ids of the seeded stack, so that paths and bodies reach past the existence checks."""

    own_ids: list[str]  # the calling bank's applications, in several stages
    other_ids: list[str]  # another bank's
    contracts: list[str]  # contract numbers of the seeded applications
    spare_contracts: list[str]  # known to procurement, never financed
    supplier_codes: list[str]
    accounts: list[str]  # locked collection accounts
    cursors: list[str]  # cursors the platform handed out
    today: date
    ops_key: str = ""
    bank_key: str = ""
    subjects: dict[str, str] = field(default_factory=dict)  # application id -> contract_no


@dataclass
class FuzzRequest:
    operation: Operation
    principal: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes | None
    content_type: bytes | None
    idempotency_key: bytes | None
    touched: set[str] = field(default_factory=set)
    note: str = ""

    def describe(self, limit: int = 600) -> str:
        body = self.body if self.body is not None else b""
        shown = body[:limit] + (f"… ({len(body)} bytes)".encode() if len(body) > limit else b"")
        headers = [f"{n.decode('latin-1')}: {v[:120]!r}" for n, v in self.headers]
        if self.content_type is not None:
            headers.append(f"Content-Type: {self.content_type[:120]!r}")
        if self.idempotency_key is not None:
            headers.append(f"Idempotency-Key: {self.idempotency_key[:300]!r}")
        return (
            f"{self.operation.method} {self.target[:800].decode('latin-1')} as {self.principal}"
            f" [{self.note}]\n    headers: {headers}\n    body: {shown!r}"
        )


# ---- edge values --------------------------------------------------------------------------

CONTROL = ["a\x00b", "\x00", "x\x01y", "\x1f", "tab\tin", "new\nline", "del\x7f", "\r\n"]
SURROGATES = ["\ud800", "a\udfffb", "\udbff\udc00"[0:1], "x\ud83d"]
LONG = ["x" * 501, "中" * 501, "9" * 65, "A" * 65, "x" * 64, "y" * 500, "z" * 5000]
ODD_TEXT = ["", " ", "..", ".", "/", "a/b", "../etc/passwd", " lead", "trail ", "in side", "\u202eevil", "🙂" * 3]
EDGE_STRINGS = CONTROL + SURROGATES + LONG + ODD_TEXT

HUGE_MONEY = [
    "99999999999999999.99",
    "1000000000000.00",
    "9999999999999.99",
    "999999999999.99",
    "1.001",
    "0.001",
    "100.000",
    "1e5",
    "1E+3",
    "-1.00",
    "0.00",
    "0",
    "NaN",
    "Infinity",
    "-0.00",
    "1_000.00",
    " 1.00",
    "1.00 ",
    "０.５０",
    "",
]
RAW_NUMBERS = [  # JSON number tokens, not strings
    "1.5",
    "100",
    "99999999999999999.99",
    "1e400",
    "-1e400",
    "1e-400",
    "1" + "0" * 5000,
    "0.1e1",
    "123456789012345678901234567890",
]
EDGE_DATES = [
    "0001-01-01",
    "9999-12-31",
    "2101-01-01",
    "2100-12-31",
    "1999-12-31",
    "2000-01-01",
    "2026-02-30",
    "2026-13-01",
    "20260101",
    "2026-1-1",
    "+10000-01-01",
    "",
]
EDGE_INSTANTS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2101-01-01T00:00:00+08:00",
    "2100-12-31T23:59:59+08:00",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+25:00",
    "2026-01-01",
    "1e20",
    "",
]
EDGE_INTS: list[Any] = [0, -1, 91, 366, 2**31, 2**63, 10**30, 1.5, "30", True, None, 1e3]
EDGE_TYPES: list[Any] = [None, True, 0, [], {}, ["x"], {"a": 1}, 1.5]

INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"a\xe4\xb8", b"\xf4\x90\x80\x80"]

CONTENT_TYPES: list[bytes | None] = [
    b"application/json",
    b"application/problem+json",
    b"text/plain",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=xyz",
    None,
    b"application/json; charset=latin-1",
    b"application/xml",
    b"\xff\xfe",
    b"",
]


def _path_edges() -> list[str]:
    """Already percent-encoded path segments."""
    return [
        "..",
        ".",
        "%2E%2E",
        "a%2Fb",
        "..%2F..%2Fmetrics",
        "%20x",
        "x%20",
        "%09",
        "%00",
        "a%00b",
        "%01",
        "%7F",
        "%ED%A0%80",
        "%FF",
        "%C0%AF",
        "x" * 65,
        "x" * 501,
        "%E4%B8%AD" * 30,
        "%27%20OR%201%3D1--",
        "0" * 32,
        "no-such-id",
        "%25",
        "%",
        "%zz",
        "~",
    ]


PATH_EDGES = _path_edges()


def flip_one(cursor: str, position: int) -> str:
    """`cursor` with the character at `position` changed to another of its alphabet."""
    if not cursor:
        return "A"
    i = position % len(cursor)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = alphabet[(alphabet.find(cursor[i]) + 1) % len(alphabet)]
    return cursor[:i] + replacement + cursor[i + 1 :]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_values(world: World) -> st.SearchStrategy[str]:
    """Percent-encoded `cursor` values: issued ones, tampered ones and forged ones."""
    issued = st.sampled_from(world.cursors) if world.cursors else st.just("")
    tampered = st.tuples(issued, st.integers(0, 400)).map(lambda t: quote(flip_one(*t), safe=""))
    forged = st.sampled_from(
        [
            _b64(json.dumps(["0001-01-01T00:00:00+00:00", "x"]).encode()),
            _b64(json.dumps(["9999-12-31T23:59:59+00:00", "x\x00y"]).encode()),
            _b64(json.dumps(["2026-01-01T00:00:00+08:00", "\ud800"]).encode()),
            _b64(json.dumps(["2026-01-01T00:00:00", "x"]).encode()),
            _b64(b'["2026-01-01T00:00:00+08:00", 5]'),
            _b64(b"\xff\xfe\xfd"),
            _b64(b"[]"),
            _b64(b"null"),
            _b64(json.dumps({"t": "x"}).encode()),
        ]
    )
    random_b64 = st.binary(min_size=0, max_size=120).map(_b64)
    raw = st.sampled_from(["%00", "a%00b", "%ED%A0%80", "%FF", "", "====", "x" * 2000, "..", "%2F"])
    return st.one_of(issued.map(lambda c: quote(c, safe="")), tampered, forged, random_b64, raw)


# ---- bodies -------------------------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, dict[str, str]] = {
    # field -> kind, per body model; the kind chooses the edge values mixed in
    "application": {
        "contract_no": "id",
        "supplier_credit_code": "id",
        "product_code": "id",
        "requested_amount": "money",
        "collection_account": "object",
    },
    "decision": {
        "decision": "enum",
        "approved_amount": "money",
        "annual_rate": "rate",
        "term_days": "int",
        "reason": "text",
    },
    "withdraw": {"reason": "text"},
    "repayment": {"repayment_id": "id", "amount": "money", "paid_on": "date"},
    "write_off": {"reason": "text"},
    "treasury": {
        "payment_id": "id",
        "contract_no": "id",
        "payee_account_no": "id",
        "amount": "money",
        "paid_on": "date",
    },
    "procurement": {"event_id": "id", "contract_no": "id", "decision": "enum", "decided_at": "instant"},
    "lock": {"decision": "enum", "note": "text"},
    "resend": {"note": "text"},
    "extend": {"days": "int", "note": "text"},
    "cancel": {"reason": "text"},
    "acknowledge": {"reason": "text", "note": "text"},
    "codec": {"payloads": "payloads"},
}


def body_kind(operation: Operation) -> str:
    path = operation.path
    for suffix, kind in (
        ("/decision", "decision"),
        ("/withdraw", "withdraw"),
        ("/repayments", "repayment"),
        ("/write-off", "write_off"),
        ("/account-lock", "lock"),
        ("/resend-to-bank", "resend"),
        ("/extend-deadline", "extend"),
        ("/cancel", "cancel"),
        ("/acknowledge", "acknowledge"),
        ("/treasury/payments", "treasury"),
        ("/procurement/account-changes", "procurement"),
        ("/codec/encode", "codec"),
        ("/codec/decode", "codec"),
        ("/codec/login", "login"),
        ("/bureau/login", "login"),
        ("/v1/applications", "application"),
    ):
        if path.endswith(suffix):
            return kind
    return "empty"


@st.composite
def template(draw: st.DrawFn, kind: str, world: World, serial: int) -> dict[str, Any]:
    """A well-formed body of `kind`, with values that can be right for a seeded application."""
    today = world.today
    contract = draw(st.sampled_from(world.contracts + world.spare_contracts))
    account = draw(st.sampled_from(world.accounts)) if world.accounts else "6222020000000001"
    money = draw(st.sampled_from(["1.00", "100.00", "500000.00", "0.01", "999999999999.99"]))
    if kind == "application":
        return {
            "contract_no": draw(st.sampled_from(world.spare_contracts + world.contracts)),
            "supplier_credit_code": draw(st.sampled_from(world.supplier_codes)),
            "product_code": "STD",
            "requested_amount": money,
            "collection_account": {"account_no": account, "account_name": "无锡某某科技有限公司"},
        }
    if kind == "decision":
        if draw(st.booleans()):
            return {"decision": "reject", "reason": "fuzz"}
        return {"decision": "approve", "approved_amount": money, "annual_rate": "0.0400", "term_days": 90}
    if kind in ("withdraw", "resend"):
        return draw(st.sampled_from([{}, {"reason": "fuzz"}, {"note": "fuzz"}]))
    if kind == "repayment":
        return {"repayment_id": f"FZ-R-{serial}", "amount": money, "paid_on": today.isoformat()}
    if kind in ("write_off", "cancel"):
        return {"reason": "fuzz"}
    if kind == "treasury":
        return {
            "payment_id": f"FZ-T-{serial}",
            "contract_no": contract,
            "payee_account_no": account,
            "amount": money,
            "paid_on": today.isoformat(),
        }
    if kind == "procurement":
        return {
            "event_id": f"FZ-E-{serial}",
            "contract_no": contract,
            "decision": draw(st.sampled_from(["confirmed", "refused"])),
            "decided_at": "2026-06-01T10:00:00+08:00",
        }
    if kind == "lock":
        return {"decision": draw(st.sampled_from(["confirmed", "refused"])), "note": "by phone"}
    if kind == "extend":
        return {"days": draw(st.integers(1, 90)), "note": "fuzz"}
    if kind == "acknowledge":
        return {"reason": draw(st.sampled_from(["deadline", "misdirected:x", "cancel", "nope"])), "note": "done"}
    if kind == "codec":
        payload = {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": "IjEi"}
        return {"payloads": [payload]}
    return {}


def edge_value(kind: str, world: World) -> st.SearchStrategy[Any]:
    today = world.today
    dates = [*EDGE_DATES, (today + timedelta(days=1)).isoformat(), (today + timedelta(days=3650)).isoformat()]
    by_kind: dict[str, list[Any]] = {
        "money": [*HUGE_MONEY, 1.5, 100, 1e20, -5],
        "rate": ["0.0400000001", "1e-2", "-0.04", "NaN", "9" * 30, "0.04", 0.04, ""],
        "date": dates,
        "instant": EDGE_INSTANTS,
        "int": EDGE_INTS,
        "enum": ["approve", "reject", "confirmed", "refused", "APPROVE", "", "approve\x00"],
        "id": EDGE_STRINGS,
        "text": EDGE_STRINGS,
        "object": [{}, {"account_no": "x" * 65, "account_name": "n"}, {"account_no": "a\x00", "account_name": "n"}],
        "payloads": [[], [{"metadata": {"encoding": "!!"}, "data": "%%%"}], [{"data": "\ud800"}], "x", [None] * 3],
    }
    choices = by_kind.get(kind, EDGE_STRINGS) + EDGE_TYPES
    return st.one_of(
        st.sampled_from(choices),
        st.text(min_size=0, max_size=70),  # any code point, surrogates included
        st.sampled_from(EDGE_STRINGS).map(lambda s: s + s),
    )


def dumps(value: Any, escaped: bool) -> bytes:
    """JSON text for `value`: non-ASCII as `\\uXXXX` escapes (a lone surrogate is then valid JSON
    text for an invalid string) or as raw UTF-8 (a lone surrogate is then invalid UTF-8)."""
    text = json.dumps(value, ensure_ascii=escaped, allow_nan=True)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def mutated_body(draw: st.DrawFn, kind: str, world: World, serial: int) -> tuple[bytes, str]:
    body = draw(template(kind, world, serial))
    fields = TEMPLATE_FIELDS.get(kind, {})
    notes = []
    if fields:
        for _ in range(draw(st.integers(0, 2))):
            name = draw(st.sampled_from(sorted(fields)))
            action = draw(st.sampled_from(["edge", "edge", "edge", "drop", "raw_number", "invalid_utf8"]))
            if action == "drop":
                body.pop(name, None)
            elif action == "raw_number":
                body[name] = f"@@RAW{draw(st.sampled_from(RAW_NUMBERS))}@@"
            elif action == "invalid_utf8":
                body[name] = f"@@BYTES{draw(st.integers(0, len(INVALID_UTF8) - 1))}@@"
            else:
                body[name] = draw(edge_value(fields[name], world))
            notes.append(f"{action} {name}")
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["extra", "recorded_by", "bank_code", "\x00", ""]))] = "fuzz"
        notes.append("extra member")
    raw = dumps(body, escaped=draw(st.booleans()))
    raw = re.sub(rb'"@@RAW([^@]*)@@"', lambda m: m.group(1), raw)
    raw = re.sub(rb'"@@BYTES(\d+)@@"', lambda m: b'"a' + INVALID_UTF8[int(m.group(1))] + b'b"', raw)
    return raw, ", ".join(notes) or "valid"


def whole_body(world: World) -> st.SearchStrategy[tuple[bytes | None, str]]:
    big_string = b'{"reason": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    return st.sampled_from(
        [
            (None, "no body"),
            (b"", "empty body"),
            (b"{", "truncated JSON"),
            (b'{"a": }', "malformed JSON"),
            (b"{'a': 1}", "single quotes"),
            (b"null", "null"),
            (b"[]", "array"),
            (b'"x"', "string"),
            (b"\xef\xbb\xbf{}", "BOM"),
            (b"{\x00}", "NUL in JSON text"),
            (b'{"reason": "a\\u0000b", "note": "a\\u0000b"}', "escaped NUL"),
            (b'{"reason": "\\ud800", "note": "\\udfff"}', "escaped lone surrogates"),
            (b'{"reason": "\xff\xfe", "note": "\xed\xa0\x80"}', "invalid UTF-8"),
            (b"[" * 5000 + b"]" * 5000, "nested 5000 deep"),
            (b'{"a": ' * 3000 + b"1" + b"}" * 3000, "objects 3000 deep"),
            (big_string, "2 MB JSON"),
            (b"a" * (2 * 1024 * 1024), "2 MB garbage"),
            (b'{"amount": 1' + b"0" * 5000 + b"}", "5000-digit number"),
            (b"ops_key=" + world.ops_key.encode(), "form with ops key"),
            (b"ops_key=%00&ops_key=x", "form with NUL"),
        ]
    )


# ---- the request --------------------------------------------------------------------------


def query_value(name: str, world: World) -> st.SearchStrategy[str]:
    """Percent-encoded values for a query parameter."""
    edges = st.sampled_from(["%00", "a%00b", "%ED%A0%80", "%FF", "", "x" * 501, "..", "a%2Fb", "%20", "%C0%AF"])
    if name == "cursor":
        return cursor_values(world)
    if name == "limit":
        return st.one_of(
            st.sampled_from(["1", "50", "200", "0", "-1", "201", "1e3", "1.5", "99999999999999999999", "0x10"]), edges
        )
    if name == "stage":
        return st.one_of(st.sampled_from(["bank_review", "repaying", "settled", "SETTLED", "nope"]), edges)
    if name == "status":
        return st.one_of(st.sampled_from(["unmatched", "misdirected", "kept", "accepted", "x"]), edges)
    if name in ("from", "to"):  # the bureau's periods: days, months, and what is neither
        periods = ["2026-11-01", "2026-11-30", "2026-11", "2000-01-01", "2100-12-31", "1999-12-31", "2026-02-30"]
        return st.one_of(st.sampled_from([*periods, "2026-13", "20261101", "2026-11-01T00:00"]), edges)
    if name == "contract_no":
        real = st.sampled_from(world.contracts).map(lambda c: quote(c, safe=""))
        return st.one_of(real, edges, st.sampled_from([p for p in PATH_EDGES if "%2F" not in p]))
    return edges


def idempotency_keys() -> st.SearchStrategy[bytes | None]:
    return st.one_of(
        st.none(),
        st.none(),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40).map(
            lambda s: ("fz-" + s).encode()
        ),
        st.sampled_from(
            [b"", b" ", b"x" * 255, b"x" * 256, b"y" * 5000, "键".encode(), b"\xff\xfe", b"a\tb", b"%00", b"k 1"]
        ),
    )


@st.composite
def fuzz_requests(
    draw: st.DrawFn,
    operations: list[Operation],
    world: World,
    serial: int,
    forced: tuple[Operation, str] | None = None,
) -> FuzzRequest:
    """A request to one of `operations` (or exactly `forced`: an operation and a principal)."""
    operation = forced[0] if forced else draw(st.sampled_from(operations))
    signed = SIGNED_PATHS.get(operation.path)
    if forced:
        principal = forced[1]
    elif signed is not None and draw(st.integers(0, 3)) > 0:
        principal = draw(st.sampled_from([signed, signed, *SIGNED_PRINCIPALS]))
    else:
        principal = draw(st.sampled_from(PRINCIPALS))
    touched: set[str] = set()
    path = operation.path
    for name in operation.path_params:
        choice = draw(st.integers(0, 9))
        if choice < 5:
            value = draw(st.sampled_from(world.own_ids))
            touched.add(value)
        elif choice < 7:
            value = draw(st.sampled_from(world.other_ids))
            touched.add(value)
        elif choice < 8:
            real = draw(st.sampled_from(world.own_ids))
            value = real + draw(st.sampled_from(["%00", "%20", "%2F", "x", "%ED%A0%80", "/.."]))
            touched.add(real)
        else:
            value = draw(st.sampled_from(PATH_EDGES))
        path = path.replace("{" + name + "}", value)
    query = []
    for name in operation.query_params:
        if draw(st.integers(0, 2)) == 0:
            query.append(f"{name}={draw(query_value(name, world))}")
    if draw(st.integers(0, 19)) == 0:
        query.append(draw(st.sampled_from(["limit=1&limit=%00", "cursor=", "x=%00", "%00=1", "stage"])))
    target = (path + ("?" + "&".join(query) if query else "")).encode()

    body: bytes | None = None
    note = ""
    kind = body_kind(operation)
    if operation.has_body or draw(st.integers(0, 9)) == 0:
        if operation.form_body and draw(st.booleans()):
            key = draw(st.sampled_from([world.ops_key, world.bank_key, "", "x" * 5000, "a%00b", "%FF"]))
            body, note = b"ops_key=" + key.encode(), "form"
        elif draw(st.integers(0, 4)) == 0 or kind in ("empty", "login"):
            body, note = draw(whole_body(world))
        else:
            body, note = draw(mutated_body(kind, world, serial))
    if body is not None:
        for subject, contract in world.subjects.items():
            if contract.encode() in body or subject.encode() in body:
                touched.add(subject)
    if b"contract_no=" in target:
        for subject, contract in world.subjects.items():
            if quote(contract, safe="").encode() in target:
                touched.add(subject)

    if operation.form_body and body is not None and draw(st.booleans()):
        content_type: bytes | None = b"application/x-www-form-urlencoded"
    elif draw(st.integers(0, 5)) == 0:
        content_type = draw(st.sampled_from(CONTENT_TYPES))
    else:
        content_type = b"application/json" if body is not None else None
    idempotency_key = draw(idempotency_keys()) if operation.method == "POST" else None
    return FuzzRequest(operation, principal, target, [], body, content_type, idempotency_key, touched, note)
