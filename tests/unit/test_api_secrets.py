"""`zcd api` refuses the public development callback secrets once the API is reachable from
other hosts; on loopback (tests, `zcd run`, local tools) they keep working."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import api.main
import runtime.logging
from cli import main as cli
from domain.settings import DEV_PROCUREMENT_SECRET, DEV_TREASURY_SECRET, Settings, public_default_secrets

REAL: dict[str, Any] = {
    "treasury_secret": "t-" + "x" * 40,
    "procurement_secret": "p-" + "y" * 40,
    "cursor_secret": "c-" + "z" * 40,
}


def test_the_defaults_are_the_public_values() -> None:
    settings = Settings()
    assert (settings.treasury_secret, settings.procurement_secret) == (DEV_TREASURY_SECRET, DEV_PROCUREMENT_SECRET)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_loopback_accepts_the_defaults(host: str) -> None:
    assert public_default_secrets(Settings(api_host=host)) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "api.example.com"])
def test_beyond_loopback_names_each_default_secret(host: str) -> None:
    assert public_default_secrets(Settings(api_host=host)) == [
        "ZCD_TREASURY_SECRET",
        "ZCD_PROCUREMENT_SECRET",
        "ZCD_CURSOR_SECRET",
    ]
    only_treasury = Settings(
        api_host=host, procurement_secret=REAL["procurement_secret"], cursor_secret=REAL["cursor_secret"]
    )
    assert public_default_secrets(only_treasury) == ["ZCD_TREASURY_SECRET"]
    assert public_default_secrets(Settings(api_host=host, **REAL)) == []


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """`api.main.serve` replaced: the settings it was started with, nothing listens."""
    started: list[Settings] = []

    async def fake_serve(settings: Settings) -> None:
        started.append(settings)

    monkeypatch.setattr(api.main, "serve", fake_serve)
    return started


def run_api(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Any:
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(**settings))
    # logging is left alone: handlers bound to the runner's captured stdout would outlive it
    monkeypatch.setattr(runtime.logging, "configure_logging", lambda settings: None)
    return CliRunner().invoke(cli.app, ["api"])


def test_zcd_api_refuses_public_secrets_on_a_public_host(
    monkeypatch: pytest.MonkeyPatch, served: list[Settings]
) -> None:
    result = run_api(monkeypatch, api_host="0.0.0.0", treasury_secret=REAL["treasury_secret"])
    assert result.exit_code == 1 and served == []
    text = " ".join(result.output.split())
    assert "refuses to start" in text and "ZCD_PROCUREMENT_SECRET" in text and "0.0.0.0" in text
    assert "ZCD_TREASURY_SECRET" not in text  # only the one still at its default is named


def test_zcd_api_starts_with_real_secrets_or_on_loopback(
    monkeypatch: pytest.MonkeyPatch, served: list[Settings]
) -> None:
    assert run_api(monkeypatch, api_host="0.0.0.0", **REAL).exit_code == 0
    assert run_api(monkeypatch, api_host="127.0.0.1").exit_code == 0
    assert [settings.api_host for settings in served] == ["0.0.0.0", "127.0.0.1"]
