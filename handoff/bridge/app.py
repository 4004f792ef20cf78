"""The bridge process (`relaydesk bridge`): the human handoff between Rasa and the agents.

One aiohttp server on 127.0.0.1 with
- `/health`: store and Rasa reachability, for the run command and deployment probes, and how
  many broker events were skipped as unhandleable (`skipped_events`, handoff/bridge/events.py);
- `/slack/events`: the Slack app (events and interactivity), when Slack is configured;
and background tasks:
- the event source: shopper messages of handed-off conversations, from Rasa's event broker,
  logged on their ticket (handoff/bridge/broker_sources.py reads it on a worker thread,
  handoff/bridge/events.py logs them);
- the Slack worker and the shopper worker: the outbox, delivered in order with retries;
- the SLA watcher: re-alerts for tickets nobody has claimed in time.

Without Slack credentials everything but `/slack/events` still runs: tickets queue in the
database and agents work them with `relaydesk agent ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import requests
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.settings import Settings
from bot.store.database import Database
from handoff.bridge.broker_sources import RabbitSource, SqlBrokerSource
from handoff.bridge.events import Cursors, ShopperRelay, SkipLog, skipped_events
from handoff.bridge.file_watch import FileWatch, ThrottledCall, sqlite_files
from handoff.bridge.rasa_client import RasaClient
from handoff.bridge.slack_app import AgentDesk, build_slack_app
from handoff.bridge.slack_gateway import SlackGateway
from handoff.bridge.slack_http import slack_handler
from handoff.bridge.workers import ShopperWorker, SlackWorker, SlaWatcher, run_forever
from handoff.domain.hours import BusinessHours
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore

logger = logging.getLogger(__name__)

#: Work queued by other processes (action server, CLI) is noticed within this time: the workers
#: look this often, or, with the store in a SQLite file, are woken by its changes (no more often
#: than this) and look every WATCHED_IDLE_POLL_SECONDS as a safety net.
IDLE_POLL_SECONDS = 0.25
WATCHED_IDLE_POLL_SECONDS = 5.0
SLA_CHECK_SECONDS = 15.0


class BridgeHealth:
    def __init__(
        self, database: Database, rasa_url: str, skipped: Callable[[], int] | None = None
    ) -> None:
        self._database = database
        self._rasa_url = rasa_url
        #: Broker events the bridge gave up on (handoff/bridge/events.py), reported when given.
        self._skipped = skipped

    def check(self) -> dict[str, Any]:
        report: dict[str, Any] = {"status": "ok", "database": "ok", "rasa": "ok"}
        try:
            with self._database.session() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not healthy", with the reason
            report.update(status="degraded", database=f"error: {type(error).__name__}")
        try:
            requests.get(self._rasa_url, timeout=1).raise_for_status()
        except requests.RequestException:
            # Rasa starts slower than the bridge; the bridge is still able to queue work.
            report["rasa"] = "unreachable"
        if self._skipped is not None:
            try:
                report["skipped_events"] = self._skipped()
            except Exception:  # the database error is reported above
                report["skipped_events"] = None
        return report


def build_app(
    health: BridgeHealth, slack: AsyncApp | None = None, signing_secret: str = ""
) -> web.Application:
    async def health_handler(_request: web.Request) -> web.Response:
        report = await asyncio.to_thread(health.check)
        status = 200 if report["database"] == "ok" else 503
        return web.json_response(report, status=status)

    app = web.Application()
    app.router.add_get("/health", health_handler)
    if slack is not None:
        # Signature first (401), then the body's shape (400), then bolt (bridge/slack_http.py).
        app.router.add_post("/slack/events", slack_handler(slack, signing_secret))
    return app


class Bridge:
    """Everything the bridge runs, built from `Settings` (tests build it the same way)."""

    def __init__(self, settings: Settings) -> None:
        config = settings.handoff
        self.settings = settings
        self.database = Database(settings.database_url)
        self.tickets = TicketStore(
            self.database, slack_enabled=config.slack_enabled, store_name=settings.store_name
        )
        self.outbox = Outbox(self.database)
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_token)
        self.wake_slack, self.wake_shopper = asyncio.Event(), asyncio.Event()
        self.gateway = (
            SlackGateway.connect(config.slack_bot_token, config.slack_api_url)
            if config.slack_enabled
            else None
        )
        self.relay = ShopperRelay(self.tickets, on_relayed=self.wake_slack.set)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._store_wake = ThrottledCall(self._wake_all, IDLE_POLL_SECONDS)
        self.sla = SlaWatcher(
            self.tickets, BusinessHours.parse(config.business_hours, config.timezone), config
        )
        self.shopper_worker = ShopperWorker(
            self.outbox, self.tickets, self.rasa, on_slack_work=self.wake_slack.set
        )
        self.slack_worker = (
            SlackWorker(self.outbox, self.tickets, self.gateway, config) if self.gateway else None
        )
        self.slack_app = (
            build_slack_app(
                AgentDesk(self.tickets, self.gateway, config, self._wake_all),
                self.gateway,
                config.slack_signing_secret,
            )
            if self.gateway
            else None
        )

    def _wake_all(self) -> None:
        self.wake_shopper.set()
        self.wake_slack.set()

    def _react(self, ticket_id: int, message: dict[str, str], name: str) -> None:
        self.tickets.queue_reaction(ticket_id, message, name)
        self.wake_slack.set()

    def event_source(self) -> SqlBrokerSource | RabbitSource:
        config = self.settings.handoff
        if self.settings.profile == "production":
            skipped = SkipLog(Cursors(self.database))
            return RabbitSource(config.rabbitmq_url, config.rabbitmq_queue, self.relay, skipped)
        return SqlBrokerSource(config.events_db_path, Cursors(self.database), self.relay)

    def application(self) -> web.Application:
        app = build_app(
            BridgeHealth(
                self.database, self.settings.rasa_url, lambda: skipped_events(self.database)
            ),
            self.slack_app,
            self.settings.handoff.slack_signing_secret,
        )
        app.cleanup_ctx.append(self._background)
        # aiohttp's run_app waits (up to 60 s) for every task still running before it runs the
        # cleanup contexts, so the background tasks must stop at shutdown, before that wait.
        # aiohttp 3.9 declares its signals in the older aiosignal's generic form, which the
        # pinned aiosignal reads as the handler's argument types: a typing mismatch only.
        app.on_shutdown.append(self._stop_background)  # type: ignore[arg-type]
        return app

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        source = self.event_source()
        store_watch = self._watch_store()
        idle = WATCHED_IDLE_POLL_SECONDS if store_watch else IDLE_POLL_SECONDS
        self._stop = stop
        shopper = self.shopper_worker.run_once
        self._tasks = [
            asyncio.create_task(source.run(stop), name="event-source"),
            self._loop(shopper, self.wake_shopper, stop, "shopper worker", idle),
            self._loop(self._sla_step, asyncio.Event(), stop, "SLA watcher", SLA_CHECK_SECONDS),
        ]
        if self.slack_worker is not None:
            self._tasks.append(
                self._loop(self.slack_worker.run_once, self.wake_slack, stop, "Slack", idle)
            )
        else:
            logger.info("Slack is not configured: tickets queue for `relaydesk agent`")
        try:
            yield
        finally:
            await self._stop_background(_app)
            if store_watch is not None:
                store_watch.close()
                self._store_wake.cancel()
            await self.rasa.close()
            if isinstance(source, SqlBrokerSource):
                source.close()

    async def _stop_background(self, _app: web.Application) -> None:
        tasks, self._tasks = self._tasks, []
        self._stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _watch_store(self) -> FileWatch | None:
        """With the store in a SQLite file, the workers are woken when another process (the
        action server opening a ticket, `relaydesk agent`) writes to it, at most every
        IDLE_POLL_SECONDS, instead of looking every IDLE_POLL_SECONDS."""
        url = make_url(self.settings.database_url)
        database = url.database
        if not url.drivername.startswith("sqlite") or not database or database == ":memory:":
            return None
        path = Path(database).resolve()
        # Writes only: the workers open and close the store, so closes are mostly their own.
        self._store_wake = ThrottledCall(self._wake_all, IDLE_POLL_SECONDS)
        watch = FileWatch(path.parent, sqlite_files(path), self._store_wake)
        return watch if watch.start() else None

    async def _sla_step(self) -> int:
        self.sla.run_once()
        self.wake_slack.set()
        return 0

    @staticmethod
    def _loop(
        step: Callable[[], Awaitable[int]],
        wake: asyncio.Event,
        stop: asyncio.Event,
        name: str,
        idle: float = IDLE_POLL_SECONDS,
    ) -> asyncio.Task[Any]:
        return asyncio.create_task(
            run_forever(step, wake, stop, idle_seconds=idle, name=name), name=name
        )


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bridge = Bridge(settings)
    logger.info(
        "bridge listening on 127.0.0.1:%s (Slack %s)",
        settings.bridge_port,
        "on" if bridge.slack_app else "off",
    )
    web.run_app(bridge.application(), host="127.0.0.1", port=settings.bridge_port, print=None)
