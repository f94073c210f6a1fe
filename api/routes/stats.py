"""GET /v1/stats: the finance bureau's figures (ops)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OpsPrincipal, State
from api.problems import problem_responses
from store.db import json_dumps, json_loads

router = APIRouter(tags=["operations"], responses=problem_responses(401, 403))


@router.get("/v1/stats")
async def stats(who: OpsPrincipal, state: State) -> Any:
    # Decimals become two-place strings through the store's JSON encoder.
    return json_loads(json_dumps(await state.repos.applications.stats()))
