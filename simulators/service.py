"""What every simulated system shares: problem+json refusals, fault injection with its
`/sim/faults` hooks, and a `/healthz` that faults never touch."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.offline_docs import offline_docs_app
from simulators.faults import FaultInjector, FaultMiddleware, fault_routes
from simulators.problems import install_problem_handlers


def new_system_app(system: str, title: str, description: str, fault_seed: int | None = None) -> FastAPI:
    # Swagger UI and ReDoc from assets the app serves itself (runtime/offline_docs.py): no CDN
    app = offline_docs_app(title=title, description=description, version="sim")
    injector = FaultInjector(seed=fault_seed)
    app.state.faults = injector
    install_problem_handlers(app)
    app.add_middleware(FaultMiddleware, injector=injector, system=system)
    app.include_router(fault_routes(injector))

    @app.get("/healthz", tags=["sim"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "system": system}

    return app
