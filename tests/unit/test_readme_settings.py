"""README's configuration table is the operator's reference: every setting the code reads
must be in it under its environment name, and it must name no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from domain.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _env_names() -> set[str]:
    names = {f"ZCD_{name.upper()}" for name in Settings.model_fields if name != "database_url"}
    return names | {"DATABASE_URL"}


def _configuration_table() -> str:
    text = README.read_text()
    start = text.index("## Configuration")
    end = text.index("\n## ", start + 1) if "\n## " in text[start + 1 :] else len(text)
    return text[start:end]


def test_every_setting_is_documented_in_the_configuration_table() -> None:
    rows = [line for line in _configuration_table().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`((?:ZCD_)?[A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert _env_names() - documented == set(), "settings missing from README's configuration table"
    assert documented - _env_names() == set(), "README documents settings the code does not read"
