"""docker-compose.yml cannot be run here (no Docker engine), so it is read against the code:
every env name it sets must be a setting the code reads, the platform services must get the
settings they cannot run without, and ports must agree with the settings' defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from domain.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
PLATFORM_SERVICES = ("api", "worker", "simulators", "migrate")
REQUIRED = {"DATABASE_URL", "ZCD_TEMPORAL_ADDRESS", "ZCD_TREASURY_SECRET", "ZCD_PROCUREMENT_SECRET"}


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def _setting_names() -> set[str]:
    names = {f"ZCD_{name.upper()}" for name in Settings.model_fields}
    return names | {"DATABASE_URL"}


def test_every_env_name_is_a_setting_the_code_reads() -> None:
    known = _setting_names()
    for name in PLATFORM_SERVICES:
        env = _services()[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name} sets {unknown}, which no setting reads"


def test_platform_services_get_what_they_need() -> None:
    for name in PLATFORM_SERVICES:
        missing = REQUIRED - set(_services()[name]["environment"])
        assert not missing, f"{name} lacks {missing}"


def test_ports_agree_with_settings() -> None:
    services, defaults = _services(), Settings()
    assert f"{defaults.api_port}:{defaults.api_port}" in services["api"]["ports"]
    for port in (defaults.procurement_port, defaults.bank_port, defaults.treasury_port):
        assert f"{port}:{port}" in services["simulators"]["ports"]
    assert services["worker"]["deploy"]["replicas"] == 2
    env = services["api"]["environment"]
    assert env["ZCD_TEMPORAL_ADDRESS"] == "temporal:7233" and "temporal" in services
    assert env["DATABASE_URL"].split("@")[1].split(":")[0] in services  # the app database's service name
    assert env["ZCD_BANK_URL"].split("//")[1].split(":")[0] in services
