"""Every setting the platform reads, from the environment (prefix `ZCD_`, plus the plain
`DATABASE_URL`). Defaults are the embedded local stack of `make run`; docker-compose.yml sets
the same names for a real deployment (a test checks the two agree)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public development values of the callback secrets: fine for tests and local tools, never
# for an API others can reach (see `public_default_secrets`).
DEV_TREASURY_SECRET = "dev-treasury-secret"
DEV_PROCUREMENT_SECRET = "dev-procurement-secret"
DEV_CURSOR_SECRET = "dev-cursor-secret"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZCD_", extra="ignore")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "financing"
    # open loans the worker keeps in memory between their tasks (each ~0.2 MB); one evicted is
    # replayed from its history (~60 events) when its next message comes, months later for most
    worker_max_cached_workflows: int = Field(default=300, ge=1)
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None  # the server's root CA (a self-hosted cluster with a private CA)
    temporal_tls_server_name: str | None = None  # the name the server certificate is verified against (and SNI)
    temporal_api_key: str | None = None  # Temporal Cloud API-key auth; turns TLS on
    temporal_ui_port: int = 8233  # the UI ops open: in `zcd run`, a proxy that also serves /codec
    temporal_ui_backend_port: int = 8234  # `zcd run`: the dev server's own UI, behind that proxy
    # the worker's Temporal SDK metrics (Prometheus text at http://<host>:<port>/metrics); 0 turns them off
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 9464

    # PostgreSQL: unset means the embedded server of the local stack
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "ZCD_DATABASE_URL"))
    database_port: int = 5433  # the embedded server's port

    # the platform API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = "http://127.0.0.1:8000"  # where the simulators send their signed callbacks

    # how long POST /v1/applications waits for verification and the bank's acknowledgement
    # before answering 503 + Retry-After (the process carries on; a retry with the same
    # Idempotency-Key gets the 201)
    submission_wait_seconds: float = 25.0

    # how often the API hands over inbox notices whose signal did not get through
    redelivery_interval_seconds: float = 15.0

    # the external systems (simulated locally)
    procurement_url: str = "http://127.0.0.1:8101"
    bank_url: str = "http://127.0.0.1:8102"
    treasury_url: str = "http://127.0.0.1:8103"
    sms_url: str = "http://127.0.0.1:8104"  # the SMS gateway that sends suppliers their sign-in codes
    simulators_host: str = "127.0.0.1"
    procurement_port: int = 8101
    bank_port: int = 8102
    treasury_port: int = 8103
    sms_port: int = 8104
    http_timeout_seconds: float = 10.0
    # the bank simulator follows each bank's GET /v1/events (simulators/bank_feed.py) with the keys
    # in this JSON file's `banks` member (the local stack passes its credentials.json); unset: it does not
    bank_feed_credentials: Path | None = None
    bank_feed_idle_seconds: float = Field(default=5.0, gt=0)  # the longest pause between polls of a quiet feed

    # shared secrets of the signed callbacks (the local stack generates them into .zcd/).
    # The defaults are public development values: `zcd api` refuses them on a non-loopback host.
    treasury_secret: str = DEV_TREASURY_SECRET
    procurement_secret: str = DEV_PROCUREMENT_SECRET
    signature_tolerance_seconds: int = 300
    # signs the list and event-feed cursors the API hands out (api/cursors.py); its own secret, so a
    # rotation of the callback secrets leaves the cursors banks have stored valid. "new,old" while
    # rotating it: cursors are signed with the first and any listed one is accepted
    cursor_secret: str = DEV_CURSOR_SECRET

    # payload encryption: "kid:base64key,kid2:base64key"; the first is used to encrypt
    codec_keys: str = ""
    codec_cors_origin: str = "http://127.0.0.1:8233"

    # deadlines (days) of the waiting stages; review attention comes from the product
    review_sla_days: int | None = None  # overrides the product's, e.g. in tests
    review_expiry_days: int = 30
    lock_attention_days: int = 5
    lock_expiry_days: int = 20
    disbursement_attention_minutes: int = Field(default=30, ge=1)  # payout not confirmed by then: flag it
    # a supplier's financing request still open at the end of this many working days (State Council
    # calendar) after the day it was made expires: its offers lapse and the contract is free again
    financing_request_open_working_days: int = Field(default=7, ge=1, le=250)

    # local stack
    data_dir: Path = Path(".zcd")
    log_format: str = "auto"  # json | console | auto (console on a terminal)
    log_level: str = "INFO"

    @field_validator("cursor_secret")
    @classmethod
    def _a_cursor_secret(cls, value: str) -> str:
        if not any(part.strip() for part in value.split(",")):
            raise ValueError("ZCD_CURSOR_SECRET needs at least one secret")
        return value


def public_default_secrets(settings: Settings) -> list[str]:
    """The environment names of the secrets (callbacks, cursors) still at their public development
    value when the API is bound beyond loopback (empty when it is safe to serve)."""
    if settings.api_host.strip("[]").lower() in LOOPBACK_HOSTS:
        return []
    defaults = {
        "ZCD_TREASURY_SECRET": (settings.treasury_secret, DEV_TREASURY_SECRET),
        "ZCD_PROCUREMENT_SECRET": (settings.procurement_secret, DEV_PROCUREMENT_SECRET),
        "ZCD_CURSOR_SECRET": (settings.cursor_secret, DEV_CURSOR_SECRET),
    }
    return [name for name, (value, public) in defaults.items() if value == public]


@lru_cache
def get_settings() -> Settings:
    return Settings()
