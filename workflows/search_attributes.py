"""Typed search attributes of a financing — what ops filter on in the Temporal UI.

No personal data: no account numbers, names or credit codes, only business keys and
classifications. Registered by the local stack, by tests, and on a real cluster with:

    temporal operator search-attribute create --namespace default \\
      --name ZcdStage --type Keyword --name ZcdBank --type Keyword \\
      --name ZcdDistrict --type Keyword --name ZcdContract --type Keyword \\
      --name ZcdStageSince --type Datetime --name ZcdNeedsAttention --type Bool
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

from domain import workflow_api as names

STAGE = SearchAttributeKey.for_keyword(names.SA_STAGE)
BANK = SearchAttributeKey.for_keyword(names.SA_BANK)
DISTRICT = SearchAttributeKey.for_keyword(names.SA_DISTRICT)
CONTRACT = SearchAttributeKey.for_keyword(names.SA_CONTRACT)
STAGE_SINCE = SearchAttributeKey.for_datetime(names.SA_STAGE_SINCE)
NEEDS_ATTENTION = SearchAttributeKey.for_bool(names.SA_NEEDS_ATTENTION)

ALL_KEYS: list[SearchAttributeKey[Any]] = [STAGE, BANK, DISTRICT, CONTRACT, STAGE_SINCE, NEEDS_ATTENTION]


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {STAGE: "Keyword", BANK: "Keyword", DISTRICT: "Keyword", CONTRACT: "Keyword"}
    flags: list[str] = []
    for key in ALL_KEYS:
        kind = kinds.get(key) or ("Datetime" if key is STAGE_SINCE else "Bool")
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags
