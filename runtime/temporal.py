"""One way to connect to Temporal, shared by the worker, the API and the tools: the pydantic
data converter (Decimal money stays exact), the payload codec when keys are configured, and
TLS when a real cluster asks for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import structlog
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.settings import Settings

log = structlog.get_logger("zcd.worker")


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def payload_codec(
    settings: Settings, *, refuse_plaintext: bool = False, on_refused: Callable[[bytes], None] | None = None
) -> PayloadCodec | None:
    """The encryption codec when keys are configured (see runtime/codec.py); the worker's
    refuses plain payloads (they can only come from around the API)."""
    if not settings.codec_keys:
        return None
    from runtime.codec import EncryptionCodec

    return EncryptionCodec.from_setting(settings.codec_keys, refuse_plaintext=refuse_plaintext, on_refused=on_refused)


def metrics_runtime(host: str, port: int) -> Runtime:
    """An SDK runtime that serves the Temporal SDK metrics (workflow/activity task latency,
    failures, poller and slot gauges) as Prometheus text on http://<host>:<port>/metrics.
    Durations in seconds, counters ending in `_total`: the Prometheus conventions."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}", counters_total_suffix=True, durations_as_seconds=True
            )
        )
    )


def worker_runtime(settings: Settings) -> Runtime | None:
    """The worker's runtime with metrics on `worker_metrics_port`; None (the SDK's default
    runtime, no metrics endpoint) when the port is 0."""
    if not settings.worker_metrics_port:
        return None
    return metrics_runtime(settings.worker_metrics_host, settings.worker_metrics_port)


def metrics_url(settings: Settings) -> str | None:
    """Where the worker's SDK metrics are scraped (None when turned off)."""
    if not settings.worker_metrics_port:
        return None
    return f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics"


def tls_config(settings: Settings) -> TLSConfig | bool:
    """How `connect` speaks TLS: off unless `temporal_tls` or an API key asks for it; then the
    client cert/key (mTLS), the server's root CA (a private CA; otherwise the system roots)
    and the server name to verify (and send as SNI) when it differs from the address's host."""
    if not (settings.temporal_tls or settings.temporal_api_key):
        return False

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path else None

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        domain=settings.temporal_tls_server_name or None,
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
    )


def plaintext_refusals(runtime: Runtime | None) -> Callable[[bytes], None]:
    """Log and count each plain payload the worker refused (see runtime/codec.py)."""
    meter = (runtime or Runtime.default()).metric_meter
    counter = meter.create_counter(
        "zcd_plaintext_payloads_refused", "plain payloads refused by the worker (sent around the API)"
    )

    def refused(encoding: bytes) -> None:
        log.warning("plaintext_payload_refused", encoding=encoding.decode(errors="replace"))
        counter.add(1)

    return refused


async def connect(settings: Settings, *, runtime: Runtime | None = None, worker: bool = False) -> Client:
    """A client; the worker's (`worker=True`) decodes strictly: no plain payload is applied."""
    codec = payload_codec(settings, refuse_plaintext=worker, on_refused=plaintext_refusals(runtime) if worker else None)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key or None,
        data_converter=data_converter(codec),
        tls=tls_config(settings),
        runtime=runtime,
    )
