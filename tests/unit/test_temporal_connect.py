"""runtime/temporal.py connect(): what it hands Client.connect for each way of reaching a cluster
(Client.connect is replaced, nothing is dialled): plain, mTLS, a private CA with a server
name, and Temporal Cloud's API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, TLSConfig

from domain.settings import Settings
from runtime import temporal as client_module


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> Client:
        calls.update(kwargs, target_host=target_host)
        return None  # type: ignore[return-value]  # connect() only passes it on

    monkeypatch.setattr(client_module.Client, "connect", fake_connect)
    return calls


async def test_plain_connection_has_no_tls_and_no_api_key(captured: dict[str, Any]) -> None:
    await client_module.connect(Settings(temporal_address="temporal:7233", temporal_namespace="zcd"))
    assert captured["target_host"] == "temporal:7233" and captured["namespace"] == "zcd"
    assert captured["tls"] is False and captured["api_key"] is None


async def test_mtls_with_a_private_ca_and_server_name(tmp_path: Path, captured: dict[str, Any]) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_bytes(f"-----{name}-----".encode())
    settings = Settings(
        temporal_tls=True,
        temporal_tls_ca=files["ca"],
        temporal_tls_cert=files["cert"],
        temporal_tls_key=files["key"],
        temporal_tls_server_name="temporal.internal.example",
    )
    await client_module.connect(settings)
    assert captured["tls"] == TLSConfig(
        server_root_ca_cert=b"-----ca-----",
        domain="temporal.internal.example",
        client_cert=b"-----cert-----",
        client_private_key=b"-----key-----",
    )
    assert captured["api_key"] is None


async def test_tls_alone_uses_the_system_roots(captured: dict[str, Any]) -> None:
    await client_module.connect(Settings(temporal_tls=True))
    assert captured["tls"] == TLSConfig()


async def test_an_api_key_turns_tls_on(captured: dict[str, Any]) -> None:
    settings = Settings(temporal_address="ns.acct.tmprl.cloud:7233", temporal_api_key="cloud-key")
    await client_module.connect(settings)
    assert captured["api_key"] == "cloud-key"
    assert captured["tls"] == TLSConfig()  # TLS on even though temporal_tls is false


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZCD_TEMPORAL_TLS_CA", "/etc/zcd/ca.pem")
    monkeypatch.setenv("ZCD_TEMPORAL_TLS_SERVER_NAME", "temporal.internal.example")
    monkeypatch.setenv("ZCD_TEMPORAL_API_KEY", "cloud-key")
    settings = Settings()
    assert settings.temporal_tls_ca == Path("/etc/zcd/ca.pem")
    assert settings.temporal_tls_server_name == "temporal.internal.example"
    assert settings.temporal_api_key == "cloud-key"
