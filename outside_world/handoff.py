"""Where everything is and the keys to it: the hand-off file `zcd run` writes (API.md, "The local
stack's hand-off file"), or the same facts given by a test that started its own stack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class HandoffMissing(Exception):
    """No hand-off file, or not one `zcd run` wrote: said in words a person can act on."""


@dataclass(frozen=True)
class Handoff:
    api: str
    procurement: str
    bank: str
    treasury: str
    bank_keys: dict[str, str]
    ops_key: str
    treasury_secret: str
    procurement_secret: str = ""
    sms: str = ""  # the SMS gateway simulator (the supplier's sign-in codes)
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Handoff:
        """dev.json's shape (and tests' `dev` dicts): KeyError/TypeError when it is not."""
        sims, creds = document["simulators"], document["credentials"]
        return cls(
            api=str(document["api"]).rstrip("/"),
            procurement=str(sims["procurement"]).rstrip("/"),
            bank=str(sims["bank"]).rstrip("/"),
            treasury=str(sims["treasury"]).rstrip("/"),
            bank_keys=dict(creds["banks"]),
            ops_key=str(creds["ops"]),
            treasury_secret=str(creds["treasury_secret"]),
            procurement_secret=str(creds.get("procurement_secret", "")),
            sms=str(sims.get("sms", "")).rstrip("/"),
            document=document,
        )

    @classmethod
    def load(cls, data_dir: Path) -> Handoff:
        path = data_dir / "dev.json"
        if not path.exists():
            raise HandoffMissing(f"{path} not found: start the platform with `make run` first")
        try:
            return cls.from_document(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise HandoffMissing(f"{path} is not the hand-off file `zcd run` writes ({error!r})") from None

    @property
    def bank_codes(self) -> list[str]:
        return sorted(self.bank_keys)
