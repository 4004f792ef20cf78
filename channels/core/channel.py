"""The base of every provider connector: a Rasa `InputChannel` that does

    verify → parse → clean the text → record the delivery (deduplicated) → answer 200
    → process in the background

and the matching `OutputChannel` that renders Rasa's responses and sends them with retries.

A connector subclass supplies only the provider-specific parts: `missing_settings`,
`verify`, `parse`, `acknowledge`, `render`, `transmit` and optionally `prepare_turn`
(typing indicator, answering a Telegram callback) and extra routes.

A turn is only done when the assistant really answered it: one whose actions failed is undone,
parked and replayed once the action server answers, and deliveries a stopped process left
unfinished are resumed at start-up (channels/core/recovery.py). The pieces the pipeline uses:
channels/core/group_commit.py (recording deliveries), conversation_locks.py (arrival order
per shopper), parked_deliveries.py, replay.py, and bot/rasa_plugins/tracker_undo.py (undoing
a turn in Rasa's tracker).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from typing import Any, Protocol

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.rasa_plugins.tracker_undo import undo_corrected_turn
from bot.settings import Settings
from bot.store.channel_models import InboundStatus
from bot.store.channel_store import AcceptedDelivery, ChannelStore
from bot.store.database import Database
from channels.core.conversation_locks import ConversationLocks
from channels.core.group_commit import GroupCommit, on_webhook_thread
from channels.core.inbound_text import (
    TEXT_LIMIT,
    TOO_LONG_REPLY,
    clean_text,
    is_too_long,
    screen_text,
)
from channels.core.messages import (
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PayloadError,
    ProviderRequest,
    Rendered,
    StatusReport,
    external_id_of,
    utc_now,
)
from channels.core.origin import current_origin, handoff_origin, sending_as
from channels.core.parked_deliveries import ParkedDeliveries
from channels.core.parking import ParkState, parked, state_of
from channels.core.recovery import TurnRecovery, quietly
from channels.core.replay import Replay
from channels.core.sending import RetryPolicy, Sender
from channels.core.turn_outcome import (
    current_turn,
    health_url_of,
    install_failure_detection,
    watching_turn,
)

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: Lookups of a status report's message before giving up (0.6 s in all).
STATUS_LOOKUP_ATTEMPTS = 4
_turn_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def _turns_in_flight(limit: int) -> asyncio.Semaphore:
    """Shared by every connector on the loop (the limit is the same setting for all)."""
    loop = asyncio.get_running_loop()
    if loop not in _turn_slots:
        _turn_slots[loop] = asyncio.Semaphore(limit)
    return _turn_slots[loop]


@cache
def shared_database(url: str) -> Database:
    """One engine per store URL for all connectors in the process."""
    return Database(url)


@dataclass(frozen=True)
class ChannelRuntime:
    """What a connector needs besides its credentials."""

    store: ChannelStore
    #: Base URL providers call us under (PUBLIC_URL): Twilio signs it, callbacks point to it.
    public_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Messages handed to Rasa at the same time, over all connectors. Rasa runs NLU and the
    #: policies on the event loop itself, so every message in flight puts CPU work in front of
    #: the webhooks' own short steps: beyond a few, throughput does not grow but the
    #: acknowledgements providers wait for get slow. Further messages wait their turn.
    max_turns_in_flight: int = 2
    #: The action server's health check, when the connector runs without Rasa's agent (whose
    #: action endpoint wins otherwise).
    action_health_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelRuntime:
        return cls(
            store=ChannelStore(shared_database(settings.database_url)),
            public_url=settings.public_url.rstrip("/"),
            retry=RetryPolicy(
                attempts=settings.sending.attempts, base_delay=settings.sending.retry_base_delay
            ),
            max_turns_in_flight=settings.sending.max_turns_in_flight,
            action_health_url=health_url_of(settings.action_server_url),
        )


class WebhookChannel(Protocol):
    def name(self) -> str: ...

    def missing_settings(self) -> list[str]: ...

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse: ...


def webhook_blueprint(channel: WebhookChannel, on_new_message: OnNewMessage) -> Blueprint:
    """The routes every relaydesk connector has: `GET /` says whether it is configured (and
    which variables are missing), `POST /webhook` hands the request to `channel.receive`."""
    blueprint = Blueprint(f"{channel.name()}_webhook", __name__)

    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        missing = channel.missing_settings()
        if missing:
            return response.json({"status": "unconfigured", "missing": missing})
        return response.json({"status": "ok"})

    @blueprint.route("/webhook", methods=["POST"])
    async def webhook(request: Request) -> HTTPResponse:
        return await channel.receive(request, on_new_message)

    return blueprint


class ProviderInput(InputChannel, TurnRecovery, ABC):
    """Base of the WhatsApp, Messenger and Telegram input channels."""

    def __init__(self, runtime: ChannelRuntime) -> None:
        self.runtime = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks = ConversationLocks()
        self._started_at: datetime = utc_now()
        self._sender: Sender | None = None
        self._accepts = GroupCommit(runtime.store)
        self._parked = ParkedDeliveries()
        self._retry_task: asyncio.Future[None] | None = None
        self._notices: dict[str, asyncio.Future[None]] = {}
        self._app: Any = None
        self._on_new_message: OnNewMessage | None = None
        install_failure_detection()

    # ---------------------------------------------------------------- provider hooks

    @abstractmethod
    def missing_settings(self) -> list[str]:
        """Environment variables still needed before the connector can work."""

    @abstractmethod
    def verify(self, request: Request) -> bool:
        """True if the request provably comes from the provider (signature / secret)."""

    @abstractmethod
    def parse(self, request: Request) -> ParsedWebhook:
        """The webhook body in our terms; raises `PayloadError` if it is malformed."""

    @abstractmethod
    def acknowledge(self) -> HTTPResponse:
        """The fast 200 the provider expects."""

    @abstractmethod
    def render(self, message: OutboundMessage) -> Rendered:
        """A bot response as provider requests (pure)."""

    @abstractmethod
    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        """Performs one provider request; raises `ProviderError`; returns the provider's id."""

    @abstractmethod
    def output_channel(self, inbound_id: int | None) -> ChannelOutput:
        """The output channel for replies to one delivery (None: pushed via Rasa's API)."""

    async def prepare_turn(self, delivery: AcceptedDelivery) -> None:
        """Runs before the message goes to Rasa (typing indicator, ...). Best effort."""

    async def on_stale_choice(self, delivery: AcceptedDelivery) -> None:
        """The shopper tapped an option of a menu that has since been replaced."""

    def add_routes(self, blueprint: Blueprint, on_new_message: OnNewMessage) -> None:
        """Extra provider routes (Messenger's GET handshake, Twilio status callbacks)."""

    # ---------------------------------------------------------------- Rasa integration

    @property
    def store(self) -> ChannelStore:
        return self.runtime.store

    @property
    def database(self) -> Database:
        """The store's database, for the parking helpers (channels/core/parking.py)."""
        database = getattr(self.store, "database", None)
        return database if isinstance(database, Database) else self.store._database

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.name(), self.store, self.transmit, self.runtime.retry)
        return self._sender

    def get_output_channel(self) -> OutputChannel | None:
        # Lets Rasa's HTTP API (trigger_intent, execute with ?output_channel=<name>) reach
        # shoppers on this channel, e.g. an agent's follow-up.
        return None if self.missing_settings() else self.output_channel(None)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = webhook_blueprint(self, on_new_message)

        @blueprint.listener("after_server_start")
        async def recover(app: Any, _loop: Any) -> None:
            if not self.missing_settings():
                self._spawn(self.recover(app, on_new_message))

        self.add_routes(blueprint, on_new_message)
        return blueprint

    def unconfigured_response(self) -> HTTPResponse:
        missing = ", ".join(self.missing_settings())
        logger.error("%s: webhook called but the channel is not configured (set %s)",
                     self.name(), missing)  # fmt: skip
        return response.json(
            {"error": f"the {self.name()} channel is not configured: set {missing}"}, status=503
        )

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        name = self.name()
        if self.missing_settings():
            return self.unconfigured_response()
        if not self.verify(request):
            logger.warning("%s: refused a webhook call from %s: bad or missing signature",
                           name, request.ip)  # fmt: skip
            return response.text("invalid signature", status=403)
        try:
            parsed = self.parse(request)
        except PayloadError as error:
            logger.warning("%s: refused a malformed webhook payload (400): %s", name, error)
            return response.json({"error": f"malformed payload: {error}"}, status=400)
        try:
            for report in parsed.statuses:
                await self._record_status(report)
            for parsed_message in parsed.messages:
                message = self._cleaned(parsed_message)
                accepted = await self._accepts.accept(message)
                if accepted is None:
                    logger.info("%s: duplicate delivery %s ignored",
                                name, message.provider_message_id)  # fmt: skip
                    continue
                self._spawn(self.process(accepted, on_new_message, request.app))
        except SQLAlchemyError:
            # Not recorded, so not acknowledged: the provider's redelivery is what we want.
            logger.exception("%s: could not record a webhook delivery; asking for a retry", name)
            return response.json({"error": "temporarily unavailable"}, status=503)
        return self.acknowledge()

    def _cleaned(self, message: InboundMessage) -> InboundMessage:
        """The message with its text (and payload) as the assistant may read them
        (`clean_text`). One over TEXT_LIMIT is recorded anyway, so the provider's redelivery
        is a duplicate, but only its first TEXT_LIMIT + 1 characters: enough to see what it
        was and that it was too long; `process` answers it without the assistant."""
        values: dict[str, Any] = {}
        for name in ("text", "payload"):
            raw = getattr(message, name)
            if not raw:
                continue
            cleaned = clean_text(raw)
            if is_too_long(cleaned):
                logger.warning("%s: delivery %s has a %s of %d characters (limit %d); it is "
                               "answered without the assistant", self.name(),
                               message.provider_message_id, name, len(cleaned),
                               TEXT_LIMIT)  # fmt: skip
                cleaned = cleaned[: TEXT_LIMIT + 1]
            if cleaned != raw:
                values[name] = cleaned
        return replace(message, **values) if values else message

    async def _record_status(self, report: StatusReport) -> None:
        # A report can overtake the API response that tells us the message's id (Twilio
        # posts "queued"/"sent" at once), so an unknown id gets a few short second chances.
        for attempt in range(STATUS_LOOKUP_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.1 * attempt)
            known = await on_webhook_thread(
                self.store.record_delivery_status,
                self.name(), report.provider_message_id, report.status, report.error_code,
            )  # fmt: skip
            if known:
                return
        logger.info("%s: status %r for unknown message %s",
                    self.name(), report.status, report.provider_message_id)  # fmt: skip

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def process(
        self,
        delivery: AcceptedDelivery,
        on_new_message: OnNewMessage,
        app: Any,
        *,
        recovering: bool = False,
    ) -> None:
        """Hands one recorded delivery to Rasa. Never raises: the outcome goes to the store.

        Done (`processed`) only when the turn's actions ran; otherwise undone and parked for
        the retry task (`_after_failed_turn`).
        """
        message, inbound_id, name = delivery.message, delivery.inbound_id, self.name()
        conversation = message.conversation_id
        self._app, self._on_new_message = app, on_new_message
        prior: ParkState | None = None
        turns = _turns_in_flight(self.runtime.max_turns_in_flight)
        async with self._locks.hold(conversation), turns:
            try:
                if not await asyncio.to_thread(self.store.claim, inbound_id, recovering=recovering):
                    return
                agent = getattr(app.ctx, "agent", None)
                if agent is not None and not await _wait_until_ready(agent):
                    logger.error("%s: no trained model is loaded; delivery %s kept for the "
                                 "next start", name, message.provider_message_id)  # fmt: skip
                    await asyncio.to_thread(self.store.release, inbound_id)
                    return
                if delivery.stale_choice:
                    await self.on_stale_choice(delivery)
                    await asyncio.to_thread(
                        self.store.finish, inbound_id, InboundStatus.IGNORED, "stale choice"
                    )
                    return
                text, reply = screen_text(message.rasa_text())
                if reply is not None:
                    # Too long or blank: answered here, the NLU never sees it.
                    await self.deliver(
                        message.sender_id, OutboundMessage(text=reply), inbound_id=inbound_id
                    )
                    why = "over the text limit" if reply == TOO_LONG_REPLY else "blank message"
                    await asyncio.to_thread(
                        self.store.finish, inbound_id, InboundStatus.IGNORED, why
                    )
                    return
                await self._parked.ensure_loaded(partial(parked, self.database, name))
                prior = self._parked.state(inbound_id)
                if prior is None and recovering:
                    prior = await asyncio.to_thread(state_of, self.database, inbound_id)
                watch = self._watch(app)
                behind = self._parked.earlier(conversation, inbound_id)
                if behind or (watch is not None and watch.known_down):
                    reason = (
                        "behind an earlier message waiting for the action server"
                        if behind
                        else "the action server does not answer"
                    )
                    await self._park(delivery, prior or ParkState(reason=reason))
                    return
                if message.corrects is not None and not await undo_corrected_turn(agent, message):
                    # Only the latest message can be corrected; editing older ones changes
                    # nothing the assistant still acts on.
                    await asyncio.to_thread(
                        self.store.finish, inbound_id, InboundStatus.IGNORED,
                        "edit of an earlier message",
                    )  # fmt: skip
                    return
                try:
                    await self.prepare_turn(delivery)
                except Exception:
                    logger.warning("%s: preparing the turn failed", name, exc_info=True)
                output = self.output_channel(inbound_id)
                if prior is not None or recovering:
                    # A retry, or a turn cut short by a crash before Rasa saved the tracker:
                    # what the shopper already got of it is not sent again.
                    output.replay = await self._replay_for(inbound_id)
                crashed: Exception | None = None
                with watching_turn() as turn:
                    try:
                        await on_new_message(
                            UserMessage(
                                text=text,
                                output_channel=output,
                                sender_id=conversation,
                                input_channel=name,
                                message_id=message.provider_message_id,
                                metadata=message.rasa_metadata(),
                            )
                        )
                    except Exception as error:
                        crashed = error
                if output.replay is not None and output.replay.skipped:
                    logger.info("%s: retry of delivery %s: %d response(s) the shopper already "
                                "had not sent again", name, message.provider_message_id,
                                output.replay.skipped)  # fmt: skip
                if turn.failed or crashed is not None:
                    if await self._after_failed_turn(delivery, agent, watch, turn, crashed, prior):
                        return
                    assert crashed is not None
                    raise crashed
            except Exception as error:
                logger.exception("%s: processing delivery %s failed",
                                 name, message.provider_message_id)  # fmt: skip
                self._parked.discard(conversation, inbound_id)
                await quietly(self.store.finish, inbound_id, InboundStatus.FAILED, repr(error))
            else:
                if prior is not None:
                    logger.info("%s: delivery %s answered after waiting for the action server",
                                name, message.provider_message_id)  # fmt: skip
                self._parked.discard(conversation, inbound_id)
                await quietly(self.store.finish, inbound_id, InboundStatus.PROCESSED)

    async def deliver(
        self, external_id: str, message: OutboundMessage, *, inbound_id: int | None
    ) -> None:
        """Renders one bot response and sends it, request by request, in order."""
        rendered = self.render(message)
        if rendered.choices:
            await asyncio.to_thread(
                self.store.offer_choices, self.name(), external_id, rendered.choices
            )
        for request in rendered.requests:
            await self.sender.send(
                external_id, request, inbound_id=inbound_id, origin=current_origin()
            )


class ChannelOutput(OutputChannel):
    """Rasa's side of a connector: every response funnels into `ProviderInput.deliver`."""

    def __init__(self, channel: ProviderInput, inbound_id: int | None) -> None:
        self.channel = channel
        self.inbound_id = inbound_id
        #: Set by `process` on a retry: responses the shopper already has are not sent again.
        self.replay: Replay | None = None

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Rasa's default splits text at blank lines into separate messages; channels decide
        # about splitting themselves (by provider limits).
        outbound = OutboundMessage.from_rasa(message, self.name())
        if outbound.is_empty:
            return
        turn = current_turn()
        if turn is not None and turn.failed:
            # Rasa carried on without the failed action's events: what follows answers a
            # conversation that did not happen. The turn is undone and retried.
            logger.info("%s: a response held back: this turn's actions failed", self.name())
            return
        if self.replay is not None and self.replay.already_delivered(self.channel.render(outbound)):
            return
        external_id = external_id_of(self.name(), recipient_id)
        # A bridged agent reply: its bot event's metadata says which handoff delivery it is.
        with sending_as(handoff_origin(message) or current_origin()):
            await self.channel.deliver(external_id, outbound, inbound_id=self.inbound_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": quick_replies})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"custom": json_message})


async def _wait_until_ready(agent: Any, timeout: float = 30.0) -> bool:
    """Rasa silently drops messages while no model is loaded, so look before handing over."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not agent.is_ready():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


def missing(values: Sequence[tuple[str, str]]) -> list[str]:
    """Names (environment variables) whose value is empty."""
    return [name for name, value in values if not value]
