"""The base of every provider connector: a Rasa `InputChannel` that does

    verify → parse → clean the text → record the delivery (deduplicated) → answer 200
    → process in the background

and the matching `OutputChannel` that renders Rasa's responses and sends them with retries.

A connector subclass supplies only the provider-specific parts: `missing_settings`,
`verify`, `parse`, `acknowledge`, `render`, `transmit` and optionally `prepare_turn`
(typing indicator, answering a Telegram callback) and extra routes.

A turn is only done when the assistant really answered it. Rasa carries on when an action
fails (the action server is down: "the actions events are lost") and returns normally, so
`process` watches each turn (channels/core/turn_outcome.py): a turn whose actions failed is
undone (slots and form state back to before the message, as for a corrected message), the
delivery goes back to `received` with the reason in `error` (channels/core/parking.py), the
shopper is told once if the wait is longer than a few seconds, and a retry task waits for the
action server's /health and replays the parked deliveries in arrival order per conversation,
not sending again the responses the shopper already has. While the action server is known to
be down, and behind a parked message of the same conversation, a delivery is parked without
being handed to Rasa.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from typing import Any, Protocol, TypeVar

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from bot.store.channel_models import InboundStatus
from bot.store.database import Database
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
from channels.core.origin import (
    ACTIONS_UNAVAILABLE,
    TURN_GIVEN_UP,
    current_origin,
    handoff_origin,
    sending_as,
)
from channels.core.parking import (
    ParkedDelivery,
    ParkState,
    delivered_requests,
    park,
    parked,
    state_of,
)
from channels.core.sending import RetryPolicy, Sender
from channels.core.store import AcceptedDelivery, ChannelStore
from channels.core.turn_outcome import (
    ActionServerWatch,
    TurnOutcome,
    current_turn,
    health_url_of,
    install_failure_detection,
    watch_for,
    watching_turn,
)

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
T = TypeVar("T")
#: Lookups of a status report's message before giving up (0.6 s in all).
STATUS_LOOKUP_ATTEMPTS = 4
# The webhook's store writes get their own threads: in the default executor they would queue
# behind the bookkeeping of every message being processed.
_WEBHOOK_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="channel-webhooks")
_turn_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

#: What a shopper reads when their answer has to wait for the action server.
ACTIONS_UNAVAILABLE_REPLY = "Sorry, I can't look that up right now. I'll answer as soon as I can."
#: What a shopper reads when their message was given up (its actions kept failing although
#: the action server answers: a bug, not an outage).
GIVEN_UP_REPLY = (
    "Sorry, something went wrong on my side and I couldn't finish that. Please try again "
    "in a little while, or ask to talk to a person."
)
#: A parked shopper is told only if the answer has not come within this many seconds: the
#: supervisor restarts a crashed action server within a few seconds, and a notice that
#: arrives together with the real answer is noise; a longer silence reads as being ignored.
NOTICE_DELAY = 5.0
#: Failed attempts while the action server answers its health check before giving up.
MAX_UP_FAILURES = 3
#: Pause between retry rounds that left deliveries parked (doubling, with jitter).
RETRY_MIN_DELAY = 1.0
RETRY_MAX_DELAY = 30.0


async def _on_webhook_thread(function: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WEBHOOK_THREADS, partial(function, *args))


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
                attempts=settings.channel_send_attempts,
                base_delay=settings.channel_retry_base_delay,
            ),
            max_turns_in_flight=settings.channel_max_turns_in_flight,
            action_health_url=health_url_of(settings.action_server_url),
        )


class _ConversationLocks:
    """Per-conversation FIFO locks: messages of one shopper reach Rasa in arrival order even
    though each is processed in its own task (asyncio.Lock wakes waiters in order)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class _GroupCommit:
    """Records concurrent webhook deliveries together: whoever arrives while a transaction is
    being written waits for the next one, which takes all of them. On SQLite transactions run
    one at a time, so a burst of deliveries then costs a few transactions instead of a queue of
    one each (measured: a burst of 40 acknowledged in ~0.2 s instead of up to 1.7 s); a lone
    delivery is written at once."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store
        self._waiting: list[tuple[InboundMessage, asyncio.Future[AcceptedDelivery | None]]] = []
        self._writing = False
        self._writer: asyncio.Future[None] | None = None  # referenced, or the loop may drop it

    async def accept(self, message: InboundMessage) -> AcceptedDelivery | None:
        future: asyncio.Future[AcceptedDelivery | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if not self._writing:
            self._writing = True
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await _on_webhook_thread(
                        self._store.accept_many, [message for message, _ in batch]
                    )
                except Exception as error:  # each webhook answers for itself (503)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._writing = False


class _ParkedDeliveries:
    """A connector's parked deliveries by conversation, and who was told about the wait.

    Loaded from the store by the first turn after start-up, then kept in step with it: a
    conversation with a parked delivery keeps its later messages waiting behind it.
    """

    def __init__(self) -> None:
        self._states: dict[int, ParkState] = {}
        self._by_conversation: dict[str, set[int]] = {}
        self._told: set[str] = set()
        self._loaded = False
        self._loading: asyncio.Lock | None = None
        #: Bumped by every `add`: the retry task's "nothing left" must not miss a newcomer.
        self.generation = 0

    async def ensure_loaded(self, load: Callable[[], list[ParkedDelivery]]) -> None:
        if self._loaded:
            return
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self._loaded:
                return
            for item in await asyncio.to_thread(load):
                self.add(item.message.conversation_id, item.inbound_id, item.state)
            self._loaded = True

    def state(self, inbound_id: int) -> ParkState | None:
        return self._states.get(inbound_id)

    def earlier(self, conversation: str, inbound_id: int) -> bool:
        """Is an earlier message of this conversation still waiting?"""
        return any(other < inbound_id for other in self._by_conversation.get(conversation, ()))

    def waiting(self, conversation: str) -> list[int]:
        return sorted(self._by_conversation.get(conversation, ()))

    def add(self, conversation: str, inbound_id: int, state: ParkState) -> None:
        self._states[inbound_id] = state
        self._by_conversation.setdefault(conversation, set()).add(inbound_id)
        if state.told:
            self._told.add(conversation)
        self.generation += 1

    def discard(self, conversation: str, inbound_id: int) -> None:
        self._states.pop(inbound_id, None)
        waiting = self._by_conversation.get(conversation)
        if waiting is None:
            return
        waiting.discard(inbound_id)
        if not waiting:
            # The next outage is a new wait: the shopper is told again.
            del self._by_conversation[conversation]
            self._told.discard(conversation)

    def told(self, conversation: str) -> bool:
        return conversation in self._told

    def mark_told(self, conversation: str) -> list[tuple[int, ParkState]]:
        self._told.add(conversation)
        changed = []
        for inbound_id in self.waiting(conversation):
            state = self._states[inbound_id].telling()
            self._states[inbound_id] = state
            changed.append((inbound_id, state))
        return changed


class _Replay:
    """On a retry: the responses the shopper already has from an undone attempt are not sent
    again, as long as the retry produces them in the same order (compared as the provider
    requests recorded in `channel_outbound`); from the first difference on, all are sent."""

    def __init__(self, delivered: Sequence[tuple[str, Any]]) -> None:
        self._delivered = [_request_key(kind, params) for kind, params in delivered]
        self._next = 0
        self._matching = bool(self._delivered)
        self.skipped = 0

    def already_delivered(self, rendered: Rendered) -> bool:
        if not self._matching:
            return False
        wanted = [_request_key(r.kind, r.params) for r in rendered.requests]
        if wanted and self._delivered[self._next : self._next + len(wanted)] == wanted:
            self._next += len(wanted)
            self.skipped += 1
            return True
        self._matching = False
        return False


def _request_key(kind: str, params: Any) -> str:
    return json.dumps([kind, params], sort_keys=True, default=str)


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


class ProviderInput(InputChannel, ABC):
    """Base of the WhatsApp, Messenger and Telegram input channels."""

    def __init__(self, runtime: ChannelRuntime) -> None:
        self.runtime = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks = _ConversationLocks()
        self._started_at: datetime = utc_now()
        self._sender: Sender | None = None
        self._accepts = _GroupCommit(runtime.store)
        self._parked = _ParkedDeliveries()
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
        values: dict[str, str | None] = {}
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
            known = await _on_webhook_thread(
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
                if message.corrects is not None and not await _undo_corrected_turn(agent, message):
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
                await _quietly(self.store.finish, inbound_id, InboundStatus.FAILED, repr(error))
            else:
                if prior is not None:
                    logger.info("%s: delivery %s answered after waiting for the action server",
                                name, message.provider_message_id)  # fmt: skip
                self._parked.discard(conversation, inbound_id)
                await _quietly(self.store.finish, inbound_id, InboundStatus.PROCESSED)

    # ---------------------------------------------------------------- failed turns

    def _watch(self, app: Any) -> ActionServerWatch | None:
        """The action server Rasa calls (its agent's action endpoint), else the configured."""
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        url = getattr(getattr(agent, "action_endpoint", None), "url", None)
        health = health_url_of(url) if url else self.runtime.action_health_url
        return watch_for(health) if health else None

    async def _after_failed_turn(
        self,
        delivery: AcceptedDelivery,
        agent: Any,
        watch: ActionServerWatch | None,
        turn: TurnOutcome,
        crashed: Exception | None,
        prior: ParkState | None,
    ) -> bool:
        """Undoes and parks a turn whose actions failed; False leaves it to the caller (an
        ordinary crash while the action server answers: `failed`, as before)."""
        message, inbound_id, name = delivery.message, delivery.inbound_id, self.name()
        up = await watch.healthy() if watch is not None else True
        if crashed is not None and not turn.failed and up:
            return False
        reason = turn.describe() if turn.failed else f"{type(crashed).__name__}: {crashed}"
        undone = await _undo_failed_turn(agent, message)
        up_failures = (prior.up_failures if prior else 0) + (1 if up else 0)
        if up_failures >= MAX_UP_FAILURES:
            logger.error("%s: gave up delivery %s after %d failed attempts although the action "
                         "server answers: %s", name, message.provider_message_id, up_failures,
                         reason)  # fmt: skip
            self._parked.discard(message.conversation_id, inbound_id)
            await self._tell(message.sender_id, GIVEN_UP_REPLY, TURN_GIVEN_UP, inbound_id)
            await _quietly(
                self.store.finish, inbound_id, InboundStatus.FAILED,
                f"gave up after {up_failures} failed attempts: {reason}",
            )  # fmt: skip
            return True
        logger.warning("%s: the actions of delivery %s did not run (%s); the turn is undone and "
                       "the delivery kept for a retry", name, message.provider_message_id,
                       reason)  # fmt: skip
        state = ParkState(undone, prior.told if prior else False, up_failures, reason)
        await self._park(delivery, state)
        return True

    async def _park(self, delivery: AcceptedDelivery, state: ParkState) -> None:
        message = delivery.message
        await asyncio.to_thread(park, self.database, delivery.inbound_id, state)
        self._parked.add(message.conversation_id, delivery.inbound_id, state)
        self._ensure_retrying()
        self._schedule_notice(message.conversation_id, message.sender_id)

    async def _replay_for(self, inbound_id: int) -> _Replay:
        delivered = await asyncio.to_thread(delivered_requests, self.database, inbound_id)
        # Our own notices are not the assistant's responses (with an origin recorded they are
        # left out already; this is for connectors that do not record it).
        notices = {
            _request_key(r.kind, r.params)
            for text in (ACTIONS_UNAVAILABLE_REPLY, GIVEN_UP_REPLY)
            for r in self.render(OutboundMessage(text=text)).requests
        }
        return _Replay([(k, p) for k, p in delivered if _request_key(k, p) not in notices])

    async def _tell(self, external_id: str, text: str, origin: str, inbound_id: int) -> None:
        with sending_as(origin):
            await self.deliver(external_id, OutboundMessage(text=text), inbound_id=inbound_id)

    def _schedule_notice(self, conversation: str, external_id: str) -> None:
        if self._parked.told(conversation) or conversation in self._notices:
            return
        self._notices[conversation] = asyncio.ensure_future(
            self._notice_later(conversation, external_id)
        )

    async def _notice_later(self, conversation: str, external_id: str) -> None:
        """Tells the shopper, once, that the answer has to wait, if it still has to after
        NOTICE_DELAY seconds."""
        try:
            await asyncio.sleep(NOTICE_DELAY)
            async with self._locks.hold(conversation):  # not in the middle of a retry's answer
                waiting = self._parked.waiting(conversation)
                if not waiting or self._parked.told(conversation):
                    return
                await self._tell(
                    external_id, ACTIONS_UNAVAILABLE_REPLY, ACTIONS_UNAVAILABLE, waiting[0]
                )
                for inbound_id, state in self._parked.mark_told(conversation):
                    await asyncio.to_thread(park, self.database, inbound_id, state)
        except Exception:
            logger.exception("%s: could not tell %s about the wait", self.name(), conversation)
        finally:
            self._notices.pop(conversation, None)

    def _ensure_retrying(self) -> None:
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.ensure_future(self._retry_parked())

    async def _retry_parked(self) -> None:
        """Replays the parked deliveries once the action server answers its health check, in
        arrival order per conversation (each waits for its conversation's lock, which wakes
        in order); rounds that leave some parked are followed by a growing pause. Ends when
        nothing is parked."""
        name, delay = self.name(), RETRY_MIN_DELAY
        while True:
            try:
                generation = self._parked.generation
                watch = self._watch(self._app)
                if watch is not None:
                    await watch.wait_until_up()
                waiting = await asyncio.to_thread(parked, self.database, name)
                if not waiting:
                    if generation == self._parked.generation:
                        return
                    continue
                logger.info("%s: retrying %d deliveries that waited for the action server",
                            name, len(waiting))  # fmt: skip
                assert self._on_new_message is not None
                await asyncio.gather(
                    *(
                        self.process(
                            AcceptedDelivery(item.inbound_id, item.message),
                            self._on_new_message,
                            self._app,
                        )
                        for item in waiting
                    )
                )
                if not await asyncio.to_thread(parked, self.database, name):
                    delay = RETRY_MIN_DELAY
                    continue
            except Exception:
                logger.exception("%s: retrying parked deliveries failed", name)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(RETRY_MAX_DELAY, delay * 2)

    async def recover(self, app: Any, on_new_message: OnNewMessage) -> None:
        """Processes deliveries acknowledged before this process started but never finished,
        parked ones included (they wait for the action server like any parked delivery).

        One still marked "processing" may have reached Rasa before the process stopped: if
        the tracker holds more of its user events than its undone attempts, the latest attempt
        did, and it is not replayed (that would answer twice).
        """
        name = self.name()
        self._app, self._on_new_message = app, on_new_message
        await self._settle_abandoned_sends()
        try:
            unfinished = await asyncio.to_thread(self.store.unfinished, name, self._started_at)
        except SQLAlchemyError:
            logger.exception("%s: could not look for unfinished deliveries", name)
            return
        if not unfinished:
            return
        logger.warning("%s: resuming %d unfinished deliveries", name, len(unfinished))
        watch = self._watch(app)
        if watch is not None:
            await watch.healthy()  # while it is down, deliveries are parked, not run
        agent = getattr(app.ctx, "agent", None)
        for item in unfinished:
            if item.status is InboundStatus.PROCESSING:
                try:
                    state = await asyncio.to_thread(state_of, self.database, item.inbound_id)
                    reached = await _user_events_of(agent, item.message)
                except Exception:
                    logger.exception("%s: could not check delivery %s", name, item.inbound_id)
                    continue
                if reached > (state.undone if state else 0):
                    await _quietly(
                        self.store.finish, item.inbound_id, InboundStatus.PROCESSED,
                        "interrupted after reaching the assistant; not replayed",
                    )  # fmt: skip
                    continue
            delivery = AcceptedDelivery(item.inbound_id, item.message)
            await self.process(delivery, on_new_message, app, recovering=True)

    async def _settle_abandoned_sends(self) -> None:
        """Sends a dead process left `pending` are settled before any turn is replayed: the
        replay skips what the shopper may have (`sent`, `unknown`) and sends what was not
        carried out (`failed`)."""
        name = self.name()
        try:
            abandoned = await asyncio.to_thread(self.store.abandoned_sends, name, self._started_at)
        except SQLAlchemyError:
            logger.exception("%s: could not look for sends left pending", name)
            return
        for send in abandoned:
            try:
                status = await self.sender.settle_abandoned(send)
            except Exception:
                logger.exception("%s: could not settle send #%d", name, send.outbound_id)
                continue
            logger.warning("%s: send #%d was left pending by a stopped process: now %s",
                           name, send.outbound_id, status.value)  # fmt: skip

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
        self.replay: _Replay | None = None

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


async def _quietly(function: Callable[..., Any], *args: Any) -> None:
    """Store bookkeeping after the fact must not turn a handled message into a crash."""
    try:
        await asyncio.to_thread(function, *args)
    except SQLAlchemyError:
        logger.exception("could not record a delivery's outcome")


async def _wait_until_ready(agent: Any, timeout: float = 30.0) -> bool:
    """Rasa silently drops messages while no model is loaded, so look before handing over."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not agent.is_ready():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


def _undo_since(tracker: DialogueStateTracker, index: int, domain: Any) -> None:
    """Sets the slots and the form state back to what they were before event `index` (a user
    event), by appending the events that do it. Rasa's own `UserUtteranceReverted` cannot do
    this inside a form: the tracker folds a form's steps together, and the rewind then also
    drops the turn that started the form. The superseded events stay in the history."""
    events = list(tracker.events)
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:index], list(domain.slots))
    undo: list[Event] = [
        SlotSet(name, before.get_slot(name))
        for name in tracker.slots
        if tracker.get_slot(name) != before.get_slot(name)
    ]
    if tracker.active_loop_name != before.active_loop_name:
        undo.append(ActiveLoop(before.active_loop_name))
    for event in undo:
        tracker.update(event)


async def _undo_corrected_turn(agent: Any, message: InboundMessage) -> bool:
    """Undoes the shopper's latest turn if it is the one `message` corrects, so the corrected
    text is answered as if the original had never been sent (an edited order number is looked
    up again). Outside Rasa (the dev server, channel tests) there is no tracker and the
    correction is simply passed on.
    """
    if agent is None:
        return True
    conversation = message.conversation_id
    async with agent.lock_store.lock(conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return False
        events = list(tracker.events)
        turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        if not turns or (events[turns[-1]].metadata or {}).get("message_ref") != message.corrects:
            return False
        _undo_since(tracker, turns[-1], agent.domain)
        await agent.tracker_store.save(tracker)
    return True


async def _undo_failed_turn(agent: Any, message: InboundMessage) -> int:
    """Undoes the turn of `message` if it is the tracker's latest (Rasa saves the tracker at
    the end of a turn, so after a crash it may not be there at all). Returns how many user
    events of this delivery the tracker holds, all of them undone now."""
    if agent is None:
        return 0
    conversation = message.conversation_id
    async with agent.lock_store.lock(conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return 0
        events = list(tracker.events)
        turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        ours = [i for i in turns if events[i].message_id == message.provider_message_id]
        if ours and ours[-1] == turns[-1]:
            _undo_since(tracker, turns[-1], agent.domain)
            await agent.tracker_store.save(tracker)
        return len(ours)


async def _user_events_of(agent: Any, message: InboundMessage) -> int:
    """How many user events of this delivery the tracker holds (one per attempt that reached
    the assistant and was saved)."""
    if agent is None:
        return 0
    tracker = await agent.tracker_store.retrieve(message.conversation_id)
    if tracker is None:
        return 0
    return sum(
        1
        for event in tracker.events
        if isinstance(event, UserUttered) and event.message_id == message.provider_message_id
    )


def missing(values: Sequence[tuple[str, str]]) -> list[str]:
    """Names (environment variables) whose value is empty."""
    return [name for name, value in values if not value]
