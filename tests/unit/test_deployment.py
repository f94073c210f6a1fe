"""docker-compose.yml cannot be run here (no Docker engine), so it is read against the code:
every env name it sets must be a setting the code reads, the platform services must get the
settings they cannot run without, and ports must agree with the settings' defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from domain.settings import Settings
from workflows import search_attributes as sa

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
PLATFORM_SERVICES = ("api", "worker", "simulators", "migrate")
REQUIRED = {
    "DATABASE_URL",
    "ZCD_TEMPORAL_ADDRESS",
    "ZCD_TREASURY_SECRET",
    "ZCD_PROCUREMENT_SECRET",
    "ZCD_CODEC_KEYS",  # Temporal must store only encrypted payloads
}


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


def test_temporal_runs_on_postgresql_with_schema_from_the_admin_tools() -> None:
    services = _services()
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")  # auto-setup is deprecated
    assert temporal["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    schema = services["temporal-schema"]
    assert schema["image"].startswith("temporalio/admin-tools:")
    assert "update-schema" in schema["command"][0]
    # the same Temporal version for the server and the tools that migrate its schema
    assert schema["image"].split(":")[1] == temporal["image"].split(":")[1]
    assert temporal["environment"]["POSTGRES_SEEDS"] in services


def test_the_setup_job_registers_exactly_the_workflows_search_attributes() -> None:
    words = _services()["temporal-setup"]["command"][0].split()
    registered = {f"{words[i + 1]}={words[i + 3]}" for i, word in enumerate(words) if word == "--name"}
    assert registered == set(sa.cli_flags()[1::2])


def test_platform_starts_after_the_namespace_and_search_attributes_exist() -> None:
    for name in ("api", "worker"):
        condition = _services()[name]["depends_on"]["temporal-setup"]["condition"]
        assert condition == "service_completed_successfully"


def test_the_ui_decodes_through_the_api_codec_endpoint_it_may_call() -> None:
    services = _services()
    ui_env, api_env = services["temporal-ui"]["environment"], services["api"]["environment"]
    ui_port = services["temporal-ui"]["ports"][0].split(":")[0]
    api_port = services["api"]["ports"][0].split(":")[0]
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{api_port}/codec"
    assert api_env["ZCD_CODEC_CORS_ORIGIN"] == f"http://localhost:{ui_port}"


def test_worker_metrics_are_exposed_inside_the_network_only() -> None:
    worker = _services()["worker"]
    port = int(worker["environment"]["ZCD_WORKER_METRICS_PORT"])
    assert port == Settings().worker_metrics_port
    assert worker["environment"]["ZCD_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable by the scraper
    assert str(port) in worker["expose"] and "ports" not in worker  # two replicas, no host port to clash on


def test_secrets_and_keys_must_be_given_not_defaulted() -> None:
    """`docker compose up` refuses to start without them, rather than running with a known
    development secret or without payload encryption."""
    env = _services()["api"]["environment"]
    for name in ("ZCD_TREASURY_SECRET", "ZCD_PROCUREMENT_SECRET", "ZCD_CODEC_KEYS"):
        assert str(env[name]).startswith(f"${{{name}:?"), f"{name} = {env[name]!r} has a default"


def test_long_running_services_have_healthchecks() -> None:
    services = _services()
    for name in ("temporal-db", "temporal", "temporal-ui", "app-db", "api", "worker", "simulators"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        assert services[name].get("restart") == "unless-stopped", f"{name} is not restarted"
