"""docker-compose.yml cannot be run here (no Docker engine), so it is read, as Compose itself
normalises it, against the code: every env name it sets must be a setting the code reads, the
platform services must get the settings they cannot run without, and ports must agree with
the settings' defaults. tests/unit/test_compose.py checks the deployment's own properties."""

from __future__ import annotations

from typing import Any

from domain.settings import Settings
from tests.fixtures import deployment_files as compose
from workflows import search_attributes as sa

PLATFORM_SERVICES = ("api", "worker", "simulators", "migrate")
REQUIRED = {
    "DATABASE_URL",
    "ZCD_TEMPORAL_ADDRESS",
    "ZCD_TREASURY_SECRET",
    "ZCD_PROCUREMENT_SECRET",
    "ZCD_CURSOR_SECRET",
    "ZCD_CODEC_KEYS",  # Temporal must store only encrypted payloads
}


def _services(*, overlays: tuple[Any, ...] = ()) -> dict[str, Any]:
    return dict(compose.config(overlays=overlays, profiles=("simulators",), env=_env())["services"])


def _env() -> dict[str, str]:
    return {**compose.required_values(), "ZCD_TLS_DIR": "/srv/zcd/tls"}


def _setting_names() -> set[str]:
    names = {f"ZCD_{name.upper()}" for name in Settings.model_fields}
    return names | {"DATABASE_URL"}


def _published(service: dict[str, Any]) -> set[tuple[int, int]]:
    return {(int(port["published"]), int(port["target"])) for port in service.get("ports", [])}


def test_every_env_name_is_a_setting_the_code_reads() -> None:
    known = _setting_names()
    for overlays in ((), (compose.TLS_OVERLAY,)):
        for name in PLATFORM_SERVICES:
            env = _services(overlays=overlays)[name]["environment"]
            unknown = set(env) - known
            assert not unknown, f"{name} sets {unknown}, which no setting reads"


def test_platform_services_get_what_they_need() -> None:
    for name in PLATFORM_SERVICES:
        missing = REQUIRED - set(_services()[name]["environment"])
        assert not missing, f"{name} lacks {missing}"


def test_the_settings_compose_gives_are_valid_settings() -> None:
    for overlays in ((), (compose.TLS_OVERLAY,)):
        for name in ("api", "worker"):
            env = _services(overlays=overlays)[name]["environment"]
            settings = Settings.model_validate(
                {key.removeprefix("ZCD_").lower(): value for key, value in env.items() if key != "DATABASE_URL"}
            )
            assert settings.temporal_address == "temporal:7233"


def test_ports_agree_with_settings() -> None:
    services, defaults = _services(), Settings()
    api_env = services["api"]["environment"]
    assert int(api_env["ZCD_API_PORT"]) == defaults.api_port
    assert (defaults.api_port, defaults.api_port) in _published(services["api"])
    for port in (defaults.procurement_port, defaults.bank_port, defaults.treasury_port):
        assert (port, port) in _published(services["simulators"])
    assert services["worker"]["deploy"]["replicas"] == 2
    assert api_env["ZCD_TEMPORAL_ADDRESS"] == "temporal:7233" and "temporal" in services
    assert api_env["DATABASE_URL"].split("@")[1].split(":")[0] in services  # the app database's service name
    assert api_env["ZCD_BANK_URL"].split("//")[1].split(":")[0] in services
    assert api_env["ZCD_API_URL"] == f"http://api:{defaults.api_port}"


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
    words = compose.shell_script(_services()["temporal-setup"]["command"]).replace("\\\n", " ").split()
    registered = {f"{words[i + 1]}={words[i + 3].rstrip(';')}" for i, word in enumerate(words) if word == "--name"}
    assert registered == set(sa.cli_flags()[1::2])
    listed = compose.shell_script(_services()["temporal-setup"]["command"]).split("for name in ")[1].split(";")[0]
    assert set(listed.split()) == {key.name for key in sa.ALL_KEYS}


def test_platform_starts_after_the_namespace_and_search_attributes_exist() -> None:
    for name in ("api", "worker"):
        condition = _services()[name]["depends_on"]["temporal-setup"]["condition"]
        assert condition == "service_completed_successfully"


def test_the_ui_decodes_through_the_api_codec_endpoint_it_may_call() -> None:
    services = _services()
    ui_env, api_env = services["temporal-ui"]["environment"], services["api"]["environment"]
    (ui_port, _), (api_port, _) = (next(iter(_published(services[name]))) for name in ("temporal-ui", "api"))
    # the defaults: a browser on the Docker host itself (both are published on loopback)
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{api_port}/codec"
    assert api_env["ZCD_CODEC_CORS_ORIGIN"] == f"http://localhost:{ui_port}" == ui_env["TEMPORAL_CORS_ORIGINS"]


def test_worker_metrics_are_exposed_inside_the_network_only() -> None:
    worker = _services()["worker"]
    port = int(worker["environment"]["ZCD_WORKER_METRICS_PORT"])
    assert port == Settings().worker_metrics_port
    assert worker["environment"]["ZCD_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable by the scraper
    assert str(port) in worker["expose"] and "ports" not in worker  # two replicas, no host port to clash on


def test_secrets_and_keys_must_be_given_not_defaulted() -> None:
    """`docker compose up` refuses to start without them, rather than running with a known
    development secret or without payload encryption."""
    for name in ("ZCD_TREASURY_SECRET", "ZCD_PROCUREMENT_SECRET", "ZCD_CURSOR_SECRET", "ZCD_CODEC_KEYS"):
        env = {key: value for key, value in compose.required_values().items() if key != name}
        refused = compose.run_compose("config", "--quiet", env=env)
        assert refused.returncode != 0 and name in refused.stderr, f"{name} has a default"


def test_long_running_services_have_healthchecks() -> None:
    services = _services()
    for name in ("temporal-db", "temporal", "temporal-ui", "app-db", "api", "worker", "simulators", "prometheus"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        assert services[name].get("restart") == "unless-stopped", f"{name} is not restarted"
