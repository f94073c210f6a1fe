"""What the request handlers share: settings, repositories, the Temporal client, and one HTTP
client for the outside systems the API itself calls (the procurement system and the SMS gateway
of the supplier's channel; everything else is called by the workflows' activities).

The API starts serving before PostgreSQL and Temporal answer (parts wait for each other):
until each is connected its attribute raises a 503 `upstream_unavailable` problem, so every
handler that needs it answers "retry later" instead of failing, while `/healthz` answers and
`/readyz` says what is missing."""

from __future__ import annotations

import httpx
from fastapi import Request
from temporalio.client import Client

from api.problems import upstream_unavailable
from domain.settings import Settings
from store.repositories import Repositories


class AppState:
    def __init__(self, settings: Settings, repos: Repositories | None = None, temporal: Client | None = None) -> None:
        self.settings = settings
        self._repos = repos
        self._temporal = temporal
        self._http: httpx.AsyncClient | None = None

    @property
    def repos(self) -> Repositories:
        if self._repos is None:
            raise upstream_unavailable("the platform database is not reachable yet; retry later")
        return self._repos

    @repos.setter
    def repos(self, repos: Repositories) -> None:
        self._repos = repos

    @property
    def temporal(self) -> Client:
        if self._temporal is None:
            raise upstream_unavailable("the workflow service is not reachable yet; retry later")
        return self._temporal

    @temporal.setter
    def temporal(self, client: Client) -> None:
        self._temporal = client

    @property
    def http(self) -> httpx.AsyncClient:
        """Opened on first use, closed with the app (`aclose`)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.http_timeout_seconds)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def has_database(self) -> bool:
        return self._repos is not None

    @property
    def has_temporal(self) -> bool:
        return self._temporal is not None


async def app_state(request: Request) -> AppState:  # async: FastAPI runs a plain def in a thread
    state: AppState = request.app.state.zcd
    return state
