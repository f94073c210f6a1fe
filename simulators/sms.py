"""The SMS gateway (短信网关), simulated: it "sends" the one-time codes suppliers sign in with.

A real gateway delivers a templated text to the phone number registered for the supplier's
unified social credit code; here the messages are kept, and a test (or a person trying the
phone pages locally) reads them back through the hook below instead of a phone.

Own API (faults apply; every POST needs an `Idempotency-Key`, and a repeated key sends nothing
twice):
- `POST /messages` `{"to": <credit code>, "template": "login_code", "params": {"code": "123456",
  "minutes": 5}}` → 202 `{"message_id", "to", "accepted_at"}`. Only the `login_code` template
  exists; its `code` is 4–8 digits.

Test hooks (never faulted):
- `GET /sim/messages?to=<credit code>` → `{"items": [{"to", "code", "sent_at", "message_id",
  "template"}]}`, newest first (every message when `to` is left out).

The codes are what a phone would show: they are never written to a log.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.settings import Settings
from simulators.clock import now
from simulators.idempotency import Answer, IdempotencyKey, IdempotentAnswers, StoredAnswer
from simulators.service import new_system_app
from simulators.state import StateStore

log = structlog.get_logger("simulators.sms")

Recipient = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Z]+$")]


class LoginCodeParams(BaseModel):
    code: str = Field(pattern=r"^[0-9]{4,8}$")
    minutes: int = Field(default=5, ge=1, le=60)


class MessageRequest(BaseModel):
    to: Recipient
    template: Literal["login_code"]
    params: LoginCodeParams


class SentMessage(BaseModel):
    message_id: str
    to: str
    template: str
    code: str
    sent_at: datetime


class MessageAccepted(BaseModel):
    message_id: str
    to: str
    accepted_at: datetime


class MessageItems(BaseModel):
    items: list[SentMessage]


class SmsState(BaseModel):
    messages: list[SentMessage] = Field(default_factory=list)
    sequence: int = 0
    idempotency: dict[str, StoredAnswer] = Field(default_factory=dict)


class SmsSimulator:
    def __init__(self, state_file: Path | None) -> None:
        self.store = StateStore(SmsState, state_file)
        self.answers = IdempotentAnswers(self.store.state.idempotency, self.store.save)

    @property
    def state(self) -> SmsState:
        return self.store.state

    def send(self, request: MessageRequest) -> Answer:
        self.state.sequence += 1
        message = SentMessage(
            message_id=f"SMS{self.state.sequence:08d}",
            to=request.to,
            template=request.template,
            code=request.params.code,
            sent_at=now(),
        )
        self.state.messages.append(message)
        log.info("sms.sent", message_id=message.message_id, template=message.template)  # never the code
        accepted = MessageAccepted(message_id=message.message_id, to=message.to, accepted_at=message.sent_at)
        return Answer(status_code=202, body=accepted.model_dump(mode="json"))

    def sent_to(self, to: str | None) -> list[SentMessage]:
        mine = [m for m in self.state.messages if to is None or m.to == to]
        return sorted(mine, key=lambda m: (m.sent_at, m.message_id), reverse=True)


def create_sms_app(settings: Settings, state_file: Path | None = None, *, fault_seed: int | None = None) -> FastAPI:
    sim = SmsSimulator(state_file)
    app = new_system_app("sms", "SMS gateway (simulator)", __doc__ or "", fault_seed=fault_seed)
    app.state.simulator = sim
    own = APIRouter(tags=["sms"])

    @own.post("/messages", status_code=202, response_model=MessageAccepted)
    async def send_message(body: MessageRequest, key: IdempotencyKey) -> JSONResponse:
        return sim.answers.answer(key, "message", body, lambda: sim.send(body))

    hooks = APIRouter(prefix="/sim", tags=["sim"])

    @hooks.get("/messages")
    async def messages(to: Annotated[str | None, Query(max_length=64)] = None) -> MessageItems:
        return MessageItems(items=sim.sent_to(to))

    app.include_router(own)
    app.include_router(hooks)
    return app
