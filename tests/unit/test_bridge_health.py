"""The bridge's health endpoint, served by the real aiohttp app on a real port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import requests
from aiohttp import web

from bot.store.database import Database
from handoff.bridge.app import BridgeHealth, build_app
from tests.conftest import free_port


def serve_once(app: web.Application, port: int, url: str) -> requests.Response:
    async def scenario() -> requests.Response:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            return await asyncio.to_thread(requests.get, url, timeout=5)
        finally:
            await runner.cleanup()

    return asyncio.run(scenario())


def test_healthy_with_a_database_and_rasa_down(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    port = free_port()
    health = BridgeHealth(database, f"http://127.0.0.1:{free_port()}/")
    response = serve_once(build_app(health), port, f"http://127.0.0.1:{port}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "rasa": "unreachable"}


def test_unhealthy_when_the_database_is_unreachable() -> None:
    database = Database("postgresql://nobody@127.0.0.1:1/none")
    port = free_port()
    health = BridgeHealth(database, f"http://127.0.0.1:{free_port()}/")
    response = serve_once(build_app(health), port, f"http://127.0.0.1:{port}/health")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")
