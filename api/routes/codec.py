"""The Temporal UI's remote codec endpoint (`<api>/codec`), for operations staff only.

Temporal stores payloads encrypted (worker/codec.py); the UI posts them here to show them
decrypted. Request and answer follow the UI's remote-codec format:
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`. Without configured keys
the payloads pass through unchanged."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.auth import OpsPrincipal, State
from api.problems import Problem, problem_responses
from domain.errors import ErrorCode
from worker.client import payload_codec

router = APIRouter(prefix="/codec", tags=["operations"], responses=problem_responses(401, 403, 422))


class CodecPayload(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload]


def _to_temporal(body: CodecPayloads) -> list[Payload]:
    try:
        return [
            Payload(
                metadata={k: base64.b64decode(v, validate=True) for k, v in p.metadata.items()},
                data=base64.b64decode(p.data, validate=True),
            )
            for p in body.payloads
        ]
    except (binascii.Error, ValueError) as err:
        raise Problem(ErrorCode.VALIDATION_ERROR, "payload metadata and data must be base64") from err


def _from_temporal(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def _codec(state: State) -> PayloadCodec | None:
    return payload_codec(state.settings)


@router.post("/encode")
async def encode(body: CodecPayloads, who: OpsPrincipal, state: State) -> CodecPayloads:
    payloads = _to_temporal(body)
    codec = _codec(state)
    return _from_temporal(list(await codec.encode(payloads)) if codec else payloads)


@router.post("/decode")
async def decode(body: CodecPayloads, who: OpsPrincipal, state: State) -> CodecPayloads:
    payloads = _to_temporal(body)
    codec = _codec(state)
    try:
        return _from_temporal(list(await codec.decode(payloads)) if codec else payloads)
    except Exception as err:  # unknown key id, tampered ciphertext: the caller's payload is wrong
        raise Problem(ErrorCode.VALIDATION_ERROR, f"cannot decode: {type(err).__name__}") from err
