"""Fixtures for the handoff tests that need no Rasa: a migrated store with the demo shop, the
fake Slack API, and the real bridge (aiohttp + slack-bolt + workers) running in-process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from aiohttp import web

from bot.settings import Settings
from bot.store.database import Database
from bot.store.seed import load_export
from handoff.bridge.app import Bridge
from handoff.domain.escalation import EscalationDecision, Priority, Reason, Route
from handoff.domain.ticket_views import TicketRequest, TicketView
from handoff.domain.transcript import Line
from handoff.store.tickets import TicketStore
from tests.conftest import free_port
from tests.handoff.fake_slack import FakeSlack

DEMO = Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json"
AGENTS = {"W111": "Maya Lopez", "W222": "Sam Okoro"}
OUTSIDER = "W999"


@pytest.fixture
def fake_slack_api() -> Iterator[FakeSlack]:
    with FakeSlack(users={**AGENTS, OUTSIDER: "Eve Outsider"}) as fake:
        yield fake


@pytest.fixture
def handoff_settings(tmp_path: Path, fake_slack_api: FakeSlack) -> Settings:
    settings = Settings.from_env({}).replace(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        rasa_port=free_port(),  # nothing listens: deliveries to shoppers wait in the outbox
        rasa_token="test-token",
        bridge_port=free_port(),
    )
    return fake_slack_api.configure(settings, tmp_path, agents=frozenset(AGENTS))


@pytest.fixture
def database(handoff_settings: Settings) -> Iterator[Database]:
    """Migrated, no shop data (tickets need none)."""
    database = Database(handoff_settings.database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The demo shop, loaded once per module; tests may add tickets (unique conversations)."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'store.db'}")
    database.migrate()
    load_export(DEMO, database)
    yield database
    database.dispose()


@pytest.fixture
def tickets(database: Database) -> TicketStore:
    return TicketStore(database, slack_enabled=True)


def open_ticket(
    tickets: TicketStore,
    conversation_id: str = "shopper-1",
    reasons: tuple[Reason, ...] = (Reason.ITEM_PROBLEM,),
    priority: Priority = Priority.P2,
    route: Route = Route.RETURNS,
    lines: tuple[Line, ...] = (Line(1.0, "shopper", "the jacket arrived torn"),),
    channel: str = "webchat",
) -> TicketView:
    opening = tickets.open(
        TicketRequest(
            conversation_id=conversation_id,
            channel=channel,
            decision=EscalationDecision(reasons, priority, route),
            context={"customer": None, "orders": [], "intent": "complaint", "confidence": 0.9,
                     "sentiment": -0.4, "sentiment_label": "negative", "summary": "torn"},
            customer_id=None,
            transcript=lines,
            transcript_until=max((line.timestamp for line in lines), default=0.0),
        )
    )  # fmt: skip
    return opening.ticket


class RunningBridge:
    """The bridge app on a real port, in a background thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.bridge_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.bridge: Bridge | None = None

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.bridge = Bridge(self.settings)
        runner = web.AppRunner(self.bridge.application())
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self.bridge.database.dispose()

    def __enter__(self) -> RunningBridge:
        self._thread.start()
        assert self._ready.wait(15), "bridge did not start"
        assert requests.get(f"http://127.0.0.1:{self.port}/health", timeout=5).ok
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)


@pytest.fixture
def running_bridge(handoff_settings: Settings, database: Database) -> Iterator[RunningBridge]:
    with RunningBridge(handoff_settings) as bridge:
        yield bridge
