"""`make run` encrypts payloads: the platform started as `zcd run` does, one financing driven
through the API from submission to settlement, and its history read from Temporal with a
plain client (no codec) holds only `binary/encrypted` payloads — inputs, results, update
arguments and results, signals, activity inputs and results (local ones too), summaries, memo
and header fields where present. The API, which holds the key, still answers with the
application; the UI's codec endpoint is wired and decodes for an operator's session — on the
UI's own origin (the proxy of `zcd run`), where the browser sends the session cookie by default."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionStatus

from domain.contracts import Contract, ContractStatus, Purchaser, Supplier
from runtime.codec import ENCODING, NULL_ENCODING
from tests.e2e.local_stack import LocalStack
from tests.fixtures.simulators import supplier_credit_code, unique

pytestmark = pytest.mark.e2e

ACCOUNT_NO = "6222020000000777"
ACCOUNT_NAME = "无锡加密测试科技有限公司"


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in a protobuf message, with where it was found. Search attributes
    are left out: the server indexes them, so they are never encrypted (and hold no personal data)."""
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        if field.message_type is None or field.name == "search_attributes":
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            items: list[tuple[str, Any]] = [(f"{where}[{key}]", item) for key, item in value.items()]
        elif not isinstance(value, Message):  # a repeated field
            items = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
        else:
            items = [(where, value)]
        for item_path, item in items:
            if isinstance(item, Payload):
                yield item_path, item
            else:
                yield from payloads_in(item, item_path)


def _until(http: httpx.Client, path: str, headers: dict[str, str], stage: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = http.get(path, headers=headers).json()
        if body.get("stage") == stage:
            return body
        time.sleep(0.2)  # polling the API for a stage another process reaches
    raise AssertionError(f"never reached {stage}: {body}")


@pytest.fixture(scope="module")
def platform() -> Iterator[tuple[LocalStack, dict[str, Any]]]:
    stack = LocalStack.in_temporary_directory()
    try:
        yield stack, stack.start()
        assert stack.interrupt() == 0, stack.output()
    finally:
        stack.remove()


def _drive_one_financing(dev: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Submit, approve, lock (the purchaser confirms), pay in full: every kind of Temporal call."""
    bank = {"Authorization": f"Bearer {dev['credentials']['banks']['ICBC']}"}
    contract = Contract(
        contract_no=unique("WX-2026-ENC"),
        project_name="加密历史测试采购",
        purchaser=Purchaser(code="WX-LX-EDU", name="无锡市梁溪区教育局", district="梁溪区"),
        supplier=Supplier(credit_code=supplier_credit_code(), name=ACCOUNT_NAME),
        amount=Decimal("1000000.00"),
        paid_amount=Decimal("0.00"),
        signed_on=date(2026, 9, 1),
        expected_payment_date=date(2027, 3, 31),
        status=ContractStatus.EFFECTIVE,
        payee_account_no="6222000000000001",
    )
    sims = dev["simulators"]
    with httpx.Client(base_url=dev["api"], timeout=60) as http:
        made = http.post(f"{sims['procurement']}/sim/contracts", json=contract.model_dump(mode="json"))
        assert made.status_code == 201, made.text
        request = {
            "contract_no": contract.contract_no,
            "supplier_credit_code": contract.supplier.credit_code,
            "product_code": "STD",
            "requested_amount": "700000.00",
            "collection_account": {"account_no": ACCOUNT_NO, "account_name": ACCOUNT_NAME},
        }
        submitted = http.post("/v1/applications", json=request, headers={**bank, "Idempotency-Key": "enc-1"})
        assert submitted.status_code == 201, submitted.text
        app_id = submitted.json()["application_id"]
        decision = {"decision": "approve", "approved_amount": "700000.00", "annual_rate": "0.0385", "term_days": 180}
        decided = http.post(f"/v1/applications/{app_id}/decision", json=decision, headers=bank)
        assert decided.status_code == 200, decided.text
        _until(http, f"/v1/applications/{app_id}", bank, "account_lock")
        change = http.post(
            f"{sims['procurement']}/sim/contracts/{contract.contract_no}/account-change", json={"decision": "confirmed"}
        )
        assert change.status_code < 300, change.text
        _until(http, f"/v1/applications/{app_id}", bank, "repaying")
        paid = http.post(
            f"{sims['treasury']}/sim/pay", json={"contract_no": contract.contract_no, "amount": "1000000.00"}
        )
        assert paid.status_code < 300 and paid.json()["platform_status"] == "accepted", paid.text
        return app_id, _until(http, f"/v1/applications/{app_id}", bank, "settled")


async def test_make_run_stores_only_ciphertext_and_the_api_still_reads_it(
    platform: tuple[LocalStack, dict[str, Any]],
) -> None:
    stack, dev = platform
    # the key was generated into credentials.json (0600) and handed over in dev.json
    credentials_file = stack.data_dir / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    stored = json.loads(credentials_file.read_text())
    assert stored["codec_keys"].startswith("local1:")
    assert dev["credentials"]["codec_keys"] == stored["codec_keys"]
    assert {"banks", "ops", "treasury_secret", "procurement_secret"} <= set(dev["credentials"])

    app_id, settled = _drive_one_financing(dev)
    # the API decrypts what the workflow returns: the application is exact
    assert settled["application_id"] == app_id and settled["bank_code"] == "ICBC"
    assert settled["approved_amount"] == "700000.00" and settled["interest_paid"] == "74.86"
    assert settled["principal_repaid"] == "700000.00" and settled["surplus_released"] == "299925.14"

    plain = await Client.connect(dev["temporal"])  # no codec: what anyone with Temporal access sees
    handle = plain.get_workflow_handle(f"financing-{app_id}")
    # `settled` is recorded before the closing steps run: wait for the process to complete
    for _ in range(600):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            break
        await asyncio.sleep(0.1)
    history = await handle.fetch_history()
    found: dict[str, list[str]] = {}
    for event in history.events:
        for where, payload in payloads_in(event):
            if where.startswith("marker_recorded_event_attributes.details[data]"):
                # a local activity's marker: core's own bookkeeping (ids, attempt, times) in plain
                # JSON beside the result, which is encrypted (details[result]); no data of ours
                bookkeeping = json.loads(payload.data)
                assert {"seq", "activity_id", "activity_type"} <= set(bookkeeping), bookkeeping
                continue
            if payload.metadata.get("encoding") == NULL_ENCODING:
                assert payload.data == b"", f"event {event.event_id} {where}: a null with data"
                continue  # a step that returned nothing: no data to hide (runtime/codec.py)
            found.setdefault(event.WhichOneof("attributes") or "?", []).append(where)
            assert payload.metadata.get("encoding") == ENCODING, f"event {event.event_id} {where}: {payload.metadata}"
            assert payload.metadata.get("encryption-key-id") == b"local1"
            assert ACCOUNT_NO.encode() not in payload.data and ACCOUNT_NAME.encode() not in payload.data
    kinds = set(found)
    markers = found.get("marker_recorded_event_attributes", [])
    assert any(where.startswith("marker_recorded_event_attributes.details[result]") for where in markers), markers
    expected = {
        "workflow_execution_started_event_attributes",  # the workflow's input
        "workflow_execution_update_accepted_event_attributes",  # update arguments
        "workflow_execution_update_completed_event_attributes",  # update results
        "workflow_execution_signaled_event_attributes",  # the purchaser's confirmation, the payment
        "activity_task_scheduled_event_attributes",  # activity inputs
        "activity_task_completed_event_attributes",  # activity results
        "workflow_execution_completed_event_attributes",  # the workflow's result
        "timer_started_event_attributes",  # static summaries (user metadata) too
    }
    assert expected <= kinds, f"payloads found only in {sorted(kinds)}"

    # the UI is pointed at the codec on its own origin (proxied to the API), which decodes for
    # an operator's session only
    async with httpx.AsyncClient(timeout=30) as http:
        settings = (await http.get(f"{dev['temporal_ui']}/api/v1/settings")).json()
        assert settings["Codec"]["Endpoint"] == f"{dev['temporal_ui']}/codec"
        assert dev["codec_login"] == f"{dev['temporal_ui']}/codec/login"
        started = next(e for e in history.events if e.HasField("workflow_execution_started_event_attributes"))
        [first] = started.workflow_execution_started_event_attributes.input.payloads
        wire = {
            "payloads": [
                {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in first.metadata.items()},
                    "data": base64.b64encode(first.data).decode(),
                }
            ]
        }
        ui = {"Origin": dev["temporal_ui"]}
        refused = await http.post(f"{dev['api']}/codec/decode", json=wire, headers=ui)
        assert refused.status_code == 401
        login = await http.post(
            f"{dev['api']}/codec/login",
            content=f"ops_key={dev['credentials']['ops']}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert login.status_code == 200, login.text
        decoded = await http.post(f"{dev['api']}/codec/decode", json=wire, headers=ui)
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-origin"] == dev["temporal_ui"]
        payload = decoded.json()["payloads"][0]
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
        assert ACCOUNT_NO in base64.b64decode(payload["data"]).decode()

    # through the UI's origin, as the browser does: sign in there, the cookie lands on that
    # origin, and the UI's same-origin decode request carries it (no CORS, no UI setting)
    async with httpx.AsyncClient(base_url=dev["temporal_ui"], timeout=30) as browser:
        page = await browser.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "<html" in page.text.lower()
        assert (await browser.post("/codec/decode", json=wire)).status_code == 401
        login_page = await browser.get("/codec/login")
        assert login_page.status_code == 200 and "name='ops_key'" in login_page.text
        assert "nothing to set in the UI" in login_page.text
        login = await browser.post(dev["codec_login"], data={"ops_key": dev["credentials"]["ops"]})
        assert login.status_code == 200, login.text
        [cookie] = login.headers.get_list("set-cookie")
        assert cookie.startswith("zcd_codec_session=") and "Path=/codec" in cookie and "HttpOnly" in cookie
        decoded = await browser.post("/codec/decode", json=wire, headers={"Origin": dev["temporal_ui"]})
        assert decoded.status_code == 200, decoded.text
        payload = decoded.json()["payloads"][0]
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
        assert ACCOUNT_NO in base64.b64decode(payload["data"]).decode()
    # the proxy keeps no session of its own: another browser without the cookie is refused
    async with httpx.AsyncClient(base_url=dev["temporal_ui"], timeout=30) as another_browser:
        assert (await another_browser.post("/codec/decode", json=wire)).status_code == 401
    async with httpx.AsyncClient(base_url=dev["temporal_ui"], timeout=30) as browser:
        # the UI's own API passes through too (what its pages fetch)
        described = await browser.get(f"/api/v1/namespaces/default/workflows/financing-{app_id}")
        assert described.status_code == 200, described.text
