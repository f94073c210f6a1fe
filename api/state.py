"""What the request handlers share: settings, repositories and the Temporal client."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from temporalio.client import Client

from domain.settings import Settings
from store.repositories import Repositories


@dataclass
class AppState:
    settings: Settings
    repos: Repositories
    temporal: Client


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.zcd
    return state
